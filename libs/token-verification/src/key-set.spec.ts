import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { exportJWK, generateKeyPair, jwtVerify, SignJWT, type JWK, type KeyLike } from 'jose';

import { RefreshingKeySet, type KeySource } from './key-set';

const ISSUER = 'https://kubernetes.default.svc.cluster.local';

interface SigningKey {
  kid: string;
  privateKey: KeyLike;
  jwk: JWK;
}

const signingKey = async (kid: string): Promise<SigningKey> => {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } };
};

const tokenSignedBy = (key: SigningKey, kid = key.kid) =>
  new SignJWT({ sub: 'system:serviceaccount:shop:orders' })
    .setProtectedHeader({ alg: 'ES256', kid })
    .setExpirationTime('5m')
    .sign(key.privateKey);

/** A cluster's discovery endpoint and key set on loopback, counting key-set fetches. */
class KeyServer {
  keys: JWK[] = [];
  fetches = 0;
  /** Answers nothing at all (a hung endpoint). */
  hang = false;
  discoveryIssuer = ISSUER;
  jwksUri?: string;
  private server?: Server;

  async start(): Promise<this> {
    this.server = createServer((request, response) => {
      if (this.hang) return;
      response.setHeader('content-type', 'application/json');
      if (request.url === '/.well-known/openid-configuration')
        response.end(JSON.stringify({ issuer: this.discoveryIssuer, jwks_uri: this.jwksUri ?? `${this.base}/openid/v1/jwks` }));
      else if (request.url === '/openid/v1/jwks') {
        this.fetches++;
        response.end(JSON.stringify({ keys: this.keys }));
      } else response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  get base(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  get discovery(): string {
    return `${this.base}/.well-known/openid-configuration`;
  }

  stop(): void {
    this.server?.closeAllConnections();
    this.server?.close();
  }
}

const verifies = async (keySet: RefreshingKeySet, token: string): Promise<boolean> =>
  jwtVerify(token, keySet.getKey).then(
    () => true,
    () => false,
  );

describe('RefreshingKeySet', () => {
  let server: KeyServer;
  let first: SigningKey;
  let second: SigningKey;

  beforeAll(async () => {
    first = await signingKey('first');
    second = await signingKey('second');
  });

  beforeEach(async () => {
    server = await new KeyServer().start();
    server.keys = [first.jwk];
  });

  afterEach(() => server.stop());

  const local = (extra: Partial<KeySource> = {}): KeySource => ({ jwks: server.discovery, issuer: ISSUER, insecureLocal: true, ...extra });

  describe('fetches keys over https only', () => {
    it.each([
      ['a plain-http key set URL', { jwks: 'http://keys.example.com/jwks.json', issuer: ISSUER, insecureLocal: true }],
      ['a plain-http discovery URL', { jwks: 'http://oidc.example.com/.well-known/openid-configuration', issuer: ISSUER }],
      ['a plain-http key set URL on loopback outside local mode', { jwks: 'http://127.0.0.1:1/jwks.json', issuer: ISSUER }],
      ['a file:// URL', { jwks: 'file:///etc/rotor/jwks.json', issuer: ISSUER }],
    ])('refuses %s before any fetch', async (_case, source) => {
      await expect(RefreshingKeySet.create(source)).rejects.toThrow(/must be an https URL/);
    });

    it('refuses a discovery document whose jwks_uri is plain http off loopback', async () => {
      server.jwksUri = 'http://keys.example.com/openid/v1/jwks';
      await expect(RefreshingKeySet.create(local())).rejects.toThrow(/jwks_uri in the discovery document must be an https URL/);
    });

    it('allows plain http to loopback in local mode', async () => {
      const keySet = await RefreshingKeySet.create(local());
      expect(await verifies(keySet, await tokenSignedBy(first))).toBe(true);
    });
  });

  it('gives up on a discovery endpoint that does not answer within the timeout', async () => {
    server.hang = true;
    const started = Date.now();
    await expect(RefreshingKeySet.create(local({ keyRefresh: { timeoutMs: 300 } }))).rejects.toThrow(/OIDC discovery .* failed/);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('refuses a discovery document that speaks for another issuer', async () => {
    server.discoveryIssuer = 'https://attacker.example.com';
    await expect(RefreshingKeySet.create(local())).rejects.toThrow(/names issuer https:\/\/attacker\.example\.com/);
  });

  it('fetches the keys again when a token names a key id it does not hold (a rotation)', async () => {
    const keySet = await RefreshingKeySet.create(local({ keyRefresh: { cooldownMs: 0 } }));
    server.keys = [first.jwk, second.jwk];
    expect(await verifies(keySet, await tokenSignedBy(second))).toBe(true);
    expect(server.fetches).toBe(2);
  });

  it('refreshes at most once per cooldown, however many unknown key ids arrive', async () => {
    let now = 1_000_000;
    const keySet = await RefreshingKeySet.create(local({ keyRefresh: { cooldownMs: 30_000 } }), () => now);
    now += 30_000;
    const unknown = await Promise.all(Array.from({ length: 20 }, (_, i) => tokenSignedBy(second, `unknown-${i}`)));
    for (const token of unknown) expect(await verifies(keySet, token)).toBe(false);
    expect(server.fetches).toBe(2); // the boot fetch and one refresh
    now += 30_000;
    expect(await verifies(keySet, unknown[0]!)).toBe(false);
    expect(server.fetches).toBe(3);
  });

  it('fetches the keys again once they are older than the maximum age, so a removed key stops working', async () => {
    let now = 1_000_000;
    const keySet = await RefreshingKeySet.create(local({ keyRefresh: { maxAgeMs: 600_000 } }), () => now);
    const token = await tokenSignedBy(first);
    expect(await verifies(keySet, token)).toBe(true);
    server.keys = [second.jwk];
    now += 599_000;
    expect(await verifies(keySet, token)).toBe(true);
    now += 1_000;
    expect(await verifies(keySet, token)).toBe(false);
    expect(server.fetches).toBe(2);
  });

  it('keeps the keys it has when a periodic refresh fails', async () => {
    let now = 1_000_000;
    const keySet = await RefreshingKeySet.create(local({ keyRefresh: { maxAgeMs: 1_000, timeoutMs: 200 } }), () => now);
    server.hang = true;
    now += 1_000;
    expect(await verifies(keySet, await tokenSignedBy(first))).toBe(true);
  });

  it('re-reads a key set file when a token names a key id it does not hold', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'rotor-jwks-')), 'jwks.json');
    writeFileSync(file, JSON.stringify({ keys: [first.jwk] }));
    const keySet = await RefreshingKeySet.create({ jwks: file, issuer: ISSUER, keyRefresh: { cooldownMs: 0 } });
    writeFileSync(file, JSON.stringify({ keys: [first.jwk, second.jwk] }));
    expect(await verifies(keySet, await tokenSignedBy(second))).toBe(true);
  });
});
