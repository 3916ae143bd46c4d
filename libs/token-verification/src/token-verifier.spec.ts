import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { exportJWK, generateKeyPair, SignJWT, type JWTPayload, type KeyLike } from 'jose';

import { DomainError } from '@rotor/errors';

import { TokenVerifier, type TokenReview, type TokenReviewer } from './token-verifier';

const ISSUER = 'https://kubernetes.default.svc.cluster.local';
const AUDIENCE = 'rotor';
const OPERATOR_ISSUER = 'https://login.example.com';
const OPERATOR_AUDIENCE = 'rotor-cli';

describe('TokenVerifier', () => {
  let verifier: TokenVerifier;
  let sign: (claims: JWTPayload, options?: { expiresIn?: string | number; audience?: string; key?: KeyLike }) => Promise<string>;
  let strangerKey: KeyLike;
  let signOperator: (claims: JWTPayload, options?: { issuer?: string; audience?: string; key?: KeyLike }) => Promise<string>;

  beforeAll(async () => {
    const trusted = await generateKeyPair('RS256');
    const operatorKeys = await generateKeyPair('ES256');
    strangerKey = (await generateKeyPair('RS256')).privateKey;
    const jwk = { ...(await exportJWK(trusted.publicKey)), kid: 'test', alg: 'RS256', use: 'sig' };
    const dir = mkdtempSync(join(tmpdir(), 'rotor-jwks-'));
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [jwk] }));
    const operatorJwk = { ...(await exportJWK(operatorKeys.publicKey)), kid: 'op', alg: 'ES256', use: 'sig' };
    writeFileSync(join(dir, 'operator-jwks.json'), JSON.stringify({ keys: [operatorJwk] }));
    verifier = await TokenVerifier.create({
      jwks: join(dir, 'jwks.json'),
      issuer: ISSUER,
      audience: AUDIENCE,
      clockSkewSeconds: 5,
      operator: { jwks: join(dir, 'operator-jwks.json'), issuer: OPERATOR_ISSUER, audience: OPERATOR_AUDIENCE, groupsClaim: 'groups' },
    });
    signOperator = (claims, options = {}) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', kid: 'op' })
        .setIssuer(options.issuer ?? OPERATOR_ISSUER)
        .setAudience(options.audience ?? OPERATOR_AUDIENCE)
        .setIssuedAt()
        .setExpirationTime('10m')
        .sign(options.key ?? operatorKeys.privateKey);
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

  it("reads an operator from the operator issuer's token, with its rotor groups", async () => {
    const token = await signOperator({ sub: 'alice@example.com', groups: ['rotor:sre', 'eng'] });
    await expect(verifier.verify(token)).resolves.toEqual({ kind: 'operator', subject: 'alice@example.com', groups: ['rotor:sre'] });
  });

  it("refuses an operator token for another audience, or signed by the cluster's key", async () => {
    expect(await rejectionCode(await signOperator({ sub: 'alice@example.com', groups: ['rotor:sre'] }, { audience: 'rotor' }))).toMatch(
      /aud claim/,
    );
    const clusterSigned = await new SignJWT({ sub: 'alice@example.com', groups: ['rotor:sre'] })
      .setProtectedHeader({ alg: 'RS256', kid: 'test' })
      .setIssuer(OPERATOR_ISSUER)
      .setAudience(OPERATOR_AUDIENCE)
      .setExpirationTime('5m')
      .sign(strangerKey);
    expect(await rejectionCode(clusterSigned)).toMatch(/no trusted key|signature/);
  });

  it('refuses to trust one issuer for both workloads and operators', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rotor-jwks-'));
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [] }));
    const jwks = join(dir, 'jwks.json');
    await expect(
      TokenVerifier.create({
        jwks,
        issuer: ISSUER,
        audience: AUDIENCE,
        clockSkewSeconds: 5,
        operator: { jwks, issuer: ISSUER, audience: OPERATOR_AUDIENCE, groupsClaim: 'groups' },
      }),
    ).rejects.toThrow(/must not be the service-account issuer/);
  });

  it('starts and serves workloads while the sign-in provider is away; operators get 503 until it answers', async () => {
    let up = false;
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: 'idp', alg: 'ES256', use: 'sig' }] };
    const idp = createServer((request, response) => {
      const base = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`;
      if (!up) return response.writeHead(503).end();
      response.setHeader('content-type', 'application/json');
      if (request.url === '/.well-known/openid-configuration') response.end(JSON.stringify({ issuer: base, jwks_uri: `${base}/jwks` }));
      else if (request.url === '/jwks') response.end(JSON.stringify(jwks));
      else response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => idp.listen(0, '127.0.0.1', resolve));
    try {
      const issuer = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`;
      const dir = mkdtempSync(join(tmpdir(), 'rotor-jwks-'));
      const cluster = await generateKeyPair('ES256');
      writeFileSync(
        join(dir, 'jwks.json'),
        JSON.stringify({ keys: [{ ...(await exportJWK(cluster.publicKey)), kid: 'c', alg: 'ES256' }] }),
      );
      const both = await TokenVerifier.create({
        jwks: join(dir, 'jwks.json'),
        issuer: ISSUER,
        audience: AUDIENCE,
        clockSkewSeconds: 5,
        operator: {
          jwks: `${issuer}/.well-known/openid-configuration`,
          issuer,
          audience: OPERATOR_AUDIENCE,
          groupsClaim: 'groups',
          insecureLocal: true,
        },
      });
      const workload = await new SignJWT({ sub: 'system:serviceaccount:shop:orders' })
        .setProtectedHeader({ alg: 'ES256', kid: 'c' })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setExpirationTime('5m')
        .sign(cluster.privateKey);
      await expect(both.verify(workload)).resolves.toMatchObject({ kind: 'workload' });
      const person = await new SignJWT({ sub: 'ana@example.com', groups: ['rotor:auditor'] })
        .setProtectedHeader({ alg: 'ES256', kid: 'idp' })
        .setIssuer(issuer)
        .setAudience(OPERATOR_AUDIENCE)
        .setExpirationTime('5m')
        .sign(privateKey);
      const refused = await both.verify(person).catch((error: DomainError) => error);
      expect(refused).toMatchObject({ kind: 'unavailable', code: 'operator-issuer-unavailable' });
      up = true;
      await expect(both.verify(person)).resolves.toEqual({ kind: 'operator', subject: 'ana@example.com', groups: ['rotor:auditor'] });
    } finally {
      idp.close();
    }
  });

  it('refuses a missing token', async () => {
    expect(await rejectionCode(undefined)).toMatch(/required/);
  });

  it('refuses an expired token', async () => {
    expect(
      await rejectionCode(await sign({ sub: 'system:serviceaccount:a:b' }, { expiresIn: Math.floor(Date.now() / 1000) - 60 })),
    ).toMatch(/expired/);
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

  it('fetches keys through OIDC discovery, as a cluster publishes them', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: 'cluster', alg: 'ES256', use: 'sig' }] };
    const server = createServer((request, response) => {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      response.setHeader('content-type', 'application/json');
      if (request.url === '/.well-known/openid-configuration')
        response.end(JSON.stringify({ issuer: ISSUER, jwks_uri: `${base}/openid/v1/jwks` }));
      else if (request.url === '/openid/v1/jwks') response.end(JSON.stringify(jwks));
      else response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const discovery = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/openid-configuration`;
      const clusterVerifier = await TokenVerifier.create({
        jwks: discovery,
        issuer: ISSUER,
        audience: AUDIENCE,
        clockSkewSeconds: 5,
        insecureLocal: true, // plain http on loopback, as a local stack may serve it
      });
      const token = await new SignJWT({ sub: 'system:serviceaccount:shop:orders' })
        .setProtectedHeader({ alg: 'ES256', kid: 'cluster' })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setExpirationTime('5m')
        .sign(privateKey);
      await expect(clusterVerifier.verify(token)).resolves.toMatchObject({ workload: { namespace: 'shop', serviceAccount: 'orders' } });
    } finally {
      server.close();
    }
  });

  it("refuses a token of the cluster's issuer that is not a service account's, whatever groups it claims", async () => {
    expect(await rejectionCode(await sign({ sub: 'someone', groups: ['rotor:sre'] }))).toMatch(/not a valid service-account token/);
  });

  it('refuses to start with a key set it would fetch over plain http', async () => {
    await expect(
      TokenVerifier.create({ jwks: 'http://oidc.example.com/openid/v1/jwks', issuer: ISSUER, audience: AUDIENCE, clockSkewSeconds: 5 }),
    ).rejects.toThrow(/must be an https URL/);
  });

  it('gives up on an OIDC discovery endpoint that never answers', async () => {
    const hung = createServer(() => undefined);
    await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
    try {
      const discovery = `http://127.0.0.1:${(hung.address() as AddressInfo).port}/.well-known/openid-configuration`;
      const settings = { jwks: discovery, issuer: ISSUER, audience: AUDIENCE, clockSkewSeconds: 5, insecureLocal: true };
      await expect(TokenVerifier.create({ ...settings, keyRefresh: { timeoutMs: 300 } })).rejects.toThrow(/OIDC discovery/);
    } finally {
      hung.closeAllConnections();
      hung.close();
    }
  }, 5_000);

  describe('a workload token never carries operator rights, whatever its claims', () => {
    it('reads a service-account token with a groups claim as the workload, without its groups', async () => {
      const token = await sign({ sub: 'system:serviceaccount:shop:orders', groups: ['rotor:sre'] });
      await expect(verifier.verify(token)).resolves.toEqual({
        kind: 'workload',
        subject: 'system:serviceaccount:shop:orders',
        workload: { namespace: 'shop', serviceAccount: 'orders' },
      });
    });

    it.each([
      ['a malformed service-account subject', { sub: 'system:serviceaccount:Shop:orders', groups: ['rotor:sre'] }],
      ['another Kubernetes subject', { sub: 'system:admin', groups: ['rotor:sre'] }],
      [
        'a kubernetes.io claim with a person-like subject',
        { sub: 'alice@example.com', groups: ['rotor:sre'], 'kubernetes.io': { namespace: 'shop' } },
      ],
      [
        'a kubernetes.io claim naming another namespace than its subject',
        { sub: 'system:serviceaccount:shop:orders', 'kubernetes.io': { namespace: 'payments' } },
      ],
    ])('refuses %s: never an operator, never another workload', async (_case, claims) => {
      expect(await rejectionCode(await sign(claims))).toMatch(/not a valid service-account token/);
    });
  });

  describe('TokenReview', () => {
    const reviewed = async (review: TokenReview | Error) => {
      const reviewer: TokenReviewer = { review: () => (review instanceof Error ? Promise.reject(review) : Promise.resolve(review)) };
      const dir = mkdtempSync(join(tmpdir(), 'rotor-jwks-'));
      const { publicKey, privateKey } = await generateKeyPair('ES256');
      writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k', alg: 'ES256' }] }));
      const reviewing = await TokenVerifier.create(
        { jwks: join(dir, 'jwks.json'), issuer: ISSUER, audience: AUDIENCE, clockSkewSeconds: 5 },
        reviewer,
      );
      const token = await new SignJWT({ sub: 'system:serviceaccount:shop:orders' })
        .setProtectedHeader({ alg: 'ES256', kid: 'k' })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setExpirationTime('5m')
        .sign(privateKey);
      return reviewing.verify(token).catch((error: DomainError) => ({ code: error.code }));
    };

    it('accepts a token the cluster knows as its own subject', async () => {
      await expect(reviewed({ authenticated: true, username: 'system:serviceaccount:shop:orders' })).resolves.toMatchObject({
        kind: 'workload',
      });
    });

    it.each([
      ['another user', { authenticated: true, username: 'system:serviceaccount:kube-system:admin' }],
      ['no user at all', { authenticated: true }],
    ])('refuses a token the cluster accepts as %s', async (_case, review) => {
      await expect(reviewed(review)).resolves.toEqual({ code: 'token-subject-mismatch' });
    });

    it('refuses a token the cluster no longer accepts', async () => {
      await expect(reviewed({ authenticated: false })).resolves.toEqual({ code: 'token-revoked' });
    });

    it('answers a workload token it verified from memory, within ROTOR_TOKEN_CACHE_SECONDS, and a refused one never', async () => {
      let reviews = 0;
      let accepted = true;
      const reviewer: TokenReviewer = {
        review: () => {
          reviews++;
          return Promise.resolve(
            accepted ? { authenticated: true, username: 'system:serviceaccount:shop:orders' } : { authenticated: false },
          );
        },
      };
      const dir = mkdtempSync(join(tmpdir(), 'rotor-jwks-'));
      const { publicKey, privateKey } = await generateKeyPair('ES256');
      writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k', alg: 'ES256' }] }));
      const caching = await TokenVerifier.create(
        { jwks: join(dir, 'jwks.json'), issuer: ISSUER, audience: AUDIENCE, clockSkewSeconds: 5, cacheSeconds: 60 },
        reviewer,
      );
      const tokenOf = (sub: string) =>
        new SignJWT({ sub })
          .setProtectedHeader({ alg: 'ES256', kid: 'k' })
          .setIssuer(ISSUER)
          .setAudience(AUDIENCE)
          .setExpirationTime('5m')
          .sign(privateKey);
      const token = await tokenOf('system:serviceaccount:shop:orders');
      const first = await caching.verify(token);
      await expect(caching.verify(token)).resolves.toBe(first);
      expect(reviews).toBe(1);
      accepted = false;
      const refused = await tokenOf('system:serviceaccount:shop:orders-2');
      for (const _attempt of [1, 2]) await expect(caching.verify(refused)).rejects.toMatchObject({ code: 'token-revoked' });
      expect(reviews).toBe(3);
    });
  });
});
