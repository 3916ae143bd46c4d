import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { exportJWK, generateKeyPair, SignJWT, type JWTPayload, type KeyLike } from 'jose';

import { DomainError } from '@rotor/errors';

import { TokenVerifier } from './token-verifier';

const ISSUER = 'https://kubernetes.default.svc.cluster.local';
const AUDIENCE = 'rotor';

describe('TokenVerifier', () => {
  let verifier: TokenVerifier;
  let sign: (claims: JWTPayload, options?: { expiresIn?: string | number; audience?: string; key?: KeyLike }) => Promise<string>;
  let strangerKey: KeyLike;

  beforeAll(async () => {
    const trusted = await generateKeyPair('RS256');
    strangerKey = (await generateKeyPair('RS256')).privateKey;
    const jwk = { ...(await exportJWK(trusted.publicKey)), kid: 'test', alg: 'RS256', use: 'sig' };
    const dir = mkdtempSync(join(tmpdir(), 'rotor-jwks-'));
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [jwk] }));
    verifier = await TokenVerifier.create({ jwks: join(dir, 'jwks.json'), issuer: ISSUER, audience: AUDIENCE, clockSkewSeconds: 5 });
    sign = (claims, options = {}) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: 'test' })
        .setIssuer(ISSUER)
        .setAudience(options.audience ?? AUDIENCE)
        .setIssuedAt()
        .setExpirationTime(options.expiresIn ?? '10m')
        .sign(options.key ?? trusted.privateKey);
  });

  const rejectionCode = async (token: string | undefined) => {
    const error = await verifier.verify(token).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).kind).toBe('unauthenticated');
    return (error as DomainError).message;
  };

  it('reads namespace, service account and pod from a projected service-account token', async () => {
    const token = await sign({
      sub: 'system:serviceaccount:shop:orders',
      'kubernetes.io': { namespace: 'shop', pod: { name: 'orders-7d9', uid: 'a1b2' }, serviceaccount: { name: 'orders' } },
    });
    await expect(verifier.verify(token)).resolves.toEqual({
      kind: 'workload',
      subject: 'system:serviceaccount:shop:orders',
      workload: { namespace: 'shop', serviceAccount: 'orders', podName: 'orders-7d9', podUid: 'a1b2' },
    });
  });

  it('recognises an operator token by its rotor groups', async () => {
    const token = await sign({ sub: 'alice@example.com', groups: ['rotor:sre', 'eng'] });
    await expect(verifier.verify(token)).resolves.toEqual({ kind: 'operator', subject: 'alice@example.com', groups: ['rotor:sre'] });
  });

  it('refuses a missing token', async () => {
    expect(await rejectionCode(undefined)).toMatch(/required/);
  });

  it('refuses an expired token', async () => {
    expect(await rejectionCode(await sign({ sub: 'system:serviceaccount:a:b' }, { expiresIn: Math.floor(Date.now() / 1000) - 60 }))).toMatch(/expired/);
  });

  it('refuses a token for another audience', async () => {
    expect(await rejectionCode(await sign({ sub: 'system:serviceaccount:a:b' }, { audience: 'vault' }))).toMatch(/aud/);
  });

  it('refuses a token signed by an untrusted key', async () => {
    expect(await rejectionCode(await sign({ sub: 'system:serviceaccount:a:b' }, { key: strangerKey }))).toMatch(/signature/);
  });

  it('refuses a malformed token', async () => {
    expect(await rejectionCode('not.a.jwt')).toMatch(/malformed/);
  });

  it('refuses a valid token whose subject is neither a service account nor an operator', async () => {
    expect(await rejectionCode(await sign({ sub: 'someone', groups: ['eng'] }))).toMatch(/neither/);
  });
});
