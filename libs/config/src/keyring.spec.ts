import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ConfigError } from './config-error';
import { parseEnv } from './env';
import { derivedKeyId, keyringEnv, keyringFrom } from './keyring';

const A = 'a'.repeat(32);
const B = 'b'.repeat(40);

const problemsOf = (fn: () => unknown): string[] => {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
};

const ring = (env: Record<string, string>) => keyringFrom('ROTOR_X_KEY', parseEnv(keyringEnv('ROTOR_X_KEY', 'keys test values'), env));

describe('keyringFrom', () => {
  it('reads a single key as a one-key ring whose id is derived from the key (backward compatible)', () => {
    const keyring = ring({ ROTOR_X_KEY: A });
    expect(keyring.current()).toEqual({ id: derivedKeyId(A), secret: Buffer.from(A) });
    expect(keyring.live()).toHaveLength(1);
    expect(derivedKeyId(A)).not.toContain(A.slice(0, 8));
  });

  it('reads a list newest first, accepts every listed key, and gives an empty id the derived one', () => {
    const keyring = ring({ ROTOR_X_KEYS: `k2:${B}, :${A}` });
    expect(keyring.current().id).toBe('k2');
    expect(keyring.live().map((key) => key.id)).toEqual(['k2', derivedKeyId(A)]);
    expect(keyring.find(derivedKeyId(A))?.secret.toString()).toBe(A);
    expect(keyring.find('retired')).toBeUndefined();
  });

  it('says one of the three variables is required', () => {
    expect(problemsOf(() => ring({}))).toEqual(['ROTOR_X_KEY: is required (or ROTOR_X_KEYS, or ROTOR_X_KEY_FILE)']);
  });

  it('refuses two sources at once', () => {
    expect(problemsOf(() => ring({ ROTOR_X_KEY: A, ROTOR_X_KEYS: `k:${B}` }))).toEqual([
      'ROTOR_X_KEY: set only one of ROTOR_X_KEY, ROTOR_X_KEYS',
    ]);
  });

  it('names the bad entry by position and id, never echoing a key', () => {
    const problems = problemsOf(() => ring({ ROTOR_X_KEYS: `k1:short-secret-canary,${A},bad id:${B},k1:${B}` }));
    expect(problems).toEqual([
      'ROTOR_X_KEYS: entry 1 (id k1): must be at least 32 characters',
      'ROTOR_X_KEYS: entry 2: must be id:key (an empty id derives one from the key)',
      "ROTOR_X_KEYS: entry 3: the id must be 1-32 letters, digits, '.', '_' or '-'",
    ]);
    expect(problems.join('\n')).not.toMatch(/canary|aaaa|bbbb/);
    expect(problemsOf(() => ring({ ROTOR_X_KEYS: `k1:${A},k1:${B}` }))).toEqual(['ROTOR_X_KEYS: entry 2: id k1 is listed twice']);
  });

  describe('from a mounted file', () => {
    let dir: string;
    beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'keyring-'))));
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('re-reads the file when it changes, so a rotation needs no restart; a bad file keeps the previous keys', async () => {
      const path = join(dir, 'keys');
      writeFileSync(path, `# newest first\nold:${A}\n`);
      const errors: string[][] = [];
      const reloaded: string[][] = [];
      const keyring = keyringFrom(
        'ROTOR_X_KEY',
        { ROTOR_X_KEY_FILE: path },
        { pollIntervalMs: 20, onReload: (ids) => reloaded.push(ids), onReloadError: (error) => errors.push(error.problems) },
      );
      try {
        expect(keyring.current().id).toBe('old');
        writeFileSync(path, `new:${B}\nold:${A}\n`);
        await until(() => reloaded.length > 0);
        expect(keyring.current().id).toBe('new');
        expect(keyring.find('old')).toBeDefined();

        writeFileSync(path, `new:too-short\n`);
        await until(() => errors.length > 0);
        expect(errors[0]).toEqual(['ROTOR_X_KEY_FILE: entry 1 (id new): must be at least 32 characters']);
        expect(keyring.live().map((key) => key.id)).toEqual(['new', 'old']);

        writeFileSync(path, `new:${B}\n`);
        await until(() => reloaded.length > 1);
        expect(keyring.find('old')).toBeUndefined();
      } finally {
        keyring.close();
      }
    });

    it('refuses to start on a file it cannot read, naming the variable', () => {
      expect(problemsOf(() => keyringFrom('ROTOR_X_KEY', { ROTOR_X_KEY_FILE: join(dir, 'missing') }))).toEqual([
        'ROTOR_X_KEY_FILE: cannot be read (ENOENT)',
      ]);
    });
  });
});

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
