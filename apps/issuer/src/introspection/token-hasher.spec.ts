import { createHmac } from 'node:crypto';

import { derivedKeyId, keyringFrom } from '@rotor/config';

import { TokenHasher } from './token-hasher';

const A = 'a'.repeat(32);
const B = 'b'.repeat(32);
const hasher = (env: Record<string, string>) => new TokenHasher(keyringFrom('ROTOR_TOKEN_HASH_KEY', env));
const legacyHash = (key: string, token: string) => createHmac('sha256', key).update(token).digest('hex');

describe('TokenHasher', () => {
  it('names the key that made each hash', () => {
    expect(hasher({ ROTOR_TOKEN_HASH_KEY: A }).hash('t')).toBe(`${derivedKeyId(A)}:${legacyHash(A, 't')}`);
    expect(hasher({ ROTOR_TOKEN_HASH_KEYS: `b:${B},:${A}` }).hash('t')).toBe(`b:${legacyHash(B, 't')}`);
  });

  it('looks a token up under every live key, and in the bare form stored before key ids', () => {
    const stored = hasher({ ROTOR_TOKEN_HASH_KEY: A }).hash('t');
    const rotated = hasher({ ROTOR_TOKEN_HASH_KEYS: `b:${B},:${A}` }).candidates('t');
    expect(rotated).toContain(stored);
    expect(rotated).toContain(legacyHash(A, 't'));
    expect(rotated[0]).toBe(`b:${legacyHash(B, 't')}`);
  });

  it('no longer finds what a retired key made', () => {
    const retired = hasher({ ROTOR_TOKEN_HASH_KEYS: `b:${B}` }).candidates('t');
    expect(retired).not.toContain(hasher({ ROTOR_TOKEN_HASH_KEY: A }).hash('t'));
    expect(retired).not.toContain(legacyHash(A, 't'));
  });
});
