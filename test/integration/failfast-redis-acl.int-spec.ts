/**
 * Fail fast on the redis-acl backend (issue 15, item 0; found by the chaos run, where a cut link
 * to it held issuance for 2-4 s): its commands are bounded by ROTOR_DEPENDENCY_TIMEOUT_MS, it has
 * a readiness check, and once /readyz knows it is down the issuer refuses redis-acl roles at once
 * while it still issues roles that do not need it.
 */
import { randomBytes, randomUUID } from 'node:crypto';

import { eventually } from '../support/eventually';
import { FreezableRelay } from '../support/freezable-relay';
import { requiredEnv } from '../support/services-env';
import { ServiceProcess } from '../support/service-process';
import { writeTempCatalog } from '../support/temp-files';
import { TestIdentity } from '../support/test-identity';

describe('the issuer while the redis-acl backend hangs', () => {
  const namespace = `failfast-acl-${randomUUID().slice(0, 8)}`;
  const aclRole = `cache-${namespace}`;
  const tokenRole = `token-${namespace}`;
  let identity: TestIdentity;
  let issuer: ServiceProcess;
  let relay: FreezableRelay;

  const issue = async (role: string) => {
    const started = Date.now();
    const response = await fetch(`${issuer.url}/v1/credentials`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await identity.serviceAccountToken(namespace, 'app')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ role }),
      signal: AbortSignal.timeout(30_000),
    });
    const body = (await response.json()) as { code?: string };
    return { status: response.status, code: body.code, retryAfter: response.headers.get('retry-after'), ms: Date.now() - started };
  };

  beforeAll(async () => {
    const aclUrl = new URL(requiredEnv('ROTOR_REDIS_ACL_URL'));
    relay = new FreezableRelay({ host: aclUrl.hostname, port: Number(aclUrl.port) });
    await relay.start();
    aclUrl.port = String(relay.port); // same host: the server certificate still matches
    identity = await TestIdentity.create();
    issuer = new ServiceProcess('issuer', 19661, {
      ...identity.env,
      ROTOR_REDIS_ACL_URL: aclUrl.toString(),
      ROTOR_TOKEN_HASH_KEY: randomBytes(32).toString('hex'),
      LOG_LEVEL: 'info',
      ROTOR_DEPENDENCY_TIMEOUT_MS: '1500', // the production default: the bound under test
      ROTOR_CATALOG: writeTempCatalog(`
roles:
  - name: ${aclRole}
    owner: team-test
    backend: { kind: redis-acl, rules: ["+get", "~failfast:*"] }
    bindings: [{ namespace: ${namespace}, serviceAccount: app }]
    ttl: 1m
    maxTtl: 5m
  - name: ${tokenRole}
    owner: team-test
    backend: { kind: opaque-token }
    bindings: [{ namespace: ${namespace}, serviceAccount: app }]
    ttl: 1m
    maxTtl: 5m
`),
    });
    await issuer.start().ready();
    await eventually(async () => ((await issue(aclRole)).status === 201 ? true : undefined), {
      timeoutMs: 30_000,
      what: 'a first redis-acl issuance through the relay',
    });
  }, 90_000);

  afterAll(async () => {
    relay?.thaw();
    await issuer?.stop();
    await relay?.stop();
  });

  it('answers 503 within 2 s, then at once once /readyz knows, keeps issuing other roles, and serves again when it answers', async () => {
    relay.freeze();
    try {
      const first = await issue(aclRole);
      expect(first).toMatchObject({ status: 503 });
      expect(first.retryAfter).toBeTruthy();
      expect(first.ms).toBeLessThan(2_000);
      await eventually(
        async () => {
          const body = (await (await fetch(`${issuer.url}/readyz`)).json()) as { checks: Record<string, { ok: boolean }> };
          return body.checks['redis-acl']?.ok === false ? true : undefined;
        },
        { timeoutMs: 15_000, what: '/readyz to report the redis-acl backend down' },
      );
      for (const answer of await Promise.all(Array.from({ length: 10 }, () => issue(aclRole)))) {
        expect(answer).toMatchObject({ status: 503, code: 'redis-acl-unavailable' });
        expect(answer.ms).toBeLessThan(1_000); // refused by the gate, before any command
      }
      expect((await issue(tokenRole)).status).toBe(201);
    } finally {
      relay.thaw();
    }
    await eventually(async () => ((await issue(aclRole)).status === 201 ? true : undefined), {
      timeoutMs: 30_000,
      what: 'redis-acl issuance to work again',
    });
  }, 120_000);
});
