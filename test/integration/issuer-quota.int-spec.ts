import { randomBytes, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';

import { Kafka, logLevel } from 'kafkajs';

import { parseCatalog } from '@rotor/catalog';
import { keyringFrom } from '@rotor/config';
import { BackendRegistry } from '@rotor/credential-backends';
import { EventPublisher } from '@rotor/kafka';
import type { Redis } from '@rotor/redis-store';
import { createLogger, Metrics } from '@rotor/telemetry';

import { TokenHasher } from '../../apps/issuer/src/introspection/token-hasher';
import { ActiveLeases } from '../../apps/issuer/src/leases/active-leases';
import { LeaseService } from '../../apps/issuer/src/leases/lease.service';
import { LeaseStore } from '../../apps/issuer/src/leases/lease.store';
import { redisFromEnv, redisLinkFromEnv } from '../../tools/security/env-clients';
import { requiredEnv } from '../support/services-env';
import { ServiceProcess } from '../support/service-process';
import { TestIdentity } from '../support/test-identity';
import { ensurePortFree, writeTempCatalog } from '../support/temp-files';

const RUN = randomBytes(3).toString('hex');
const NAMESPACE = `it-quota-${RUN}`;
const PER_WORKLOAD = `quota-wl-${RUN}`;
const PER_ROLE = `quota-role-${RUN}`;
const SHORT = `quota-short-${RUN}`;
const LEGACY = `quota-legacy-${RUN}`;
const IDEMPOTENT = `quota-idem-${RUN}`;

const CATALOG = `
roles:
  - name: ${PER_WORKLOAD}
    owner: team-it
    backend: { kind: opaque-token }
    bindings: [{ namespace: ${NAMESPACE}, serviceAccount: "*" }]
    ttl: 1m
    maxTtl: 5m
    quota: { perWorkload: 50, perRole: 1000 }
  - name: ${PER_ROLE}
    owner: team-it
    backend: { kind: opaque-token }
    bindings: [{ namespace: ${NAMESPACE}, serviceAccount: "*" }]
    ttl: 1m
    maxTtl: 5m
    quota: { perWorkload: 200, perRole: 50 }
  - name: ${SHORT}
    owner: team-it
    backend: { kind: opaque-token }
    bindings: [{ namespace: ${NAMESPACE}, serviceAccount: "*" }]
    ttl: 2s
    maxTtl: 2s
    quota: { perWorkload: 3 }
  - name: ${LEGACY}
    owner: team-it
    backend: { kind: opaque-token }
    bindings: [{ namespace: ${NAMESPACE}, serviceAccount: "*" }]
    ttl: 1m
    maxTtl: 5m
    quota: { perWorkload: 50 }
  - name: ${IDEMPOTENT}
    owner: team-it
    backend: { kind: opaque-token }
    bindings: [{ namespace: ${NAMESPACE}, serviceAccount: "*" }]
    ttl: 1m
    maxTtl: 5m
    quota: { perWorkload: 2 }
`;

/** A lease record as the issuer kept it before the quota keys moved under one hash tag per role. */
async function seedPreviousLayout(
  redis: Redis,
  { serviceAccount, expiresAt }: { serviceAccount: string; expiresAt: Date },
): Promise<string> {
  const id = randomUUID();
  const issuedAt = new Date(expiresAt.getTime() - 60_000);
  await redis
    .multi()
    .hset(`issuer:lease:{${id}}`, {
      id,
      role: LEGACY,
      owner: 'team-it',
      backend: 'opaque-token',
      workload: JSON.stringify({ namespace: NAMESPACE, serviceAccount }),
      issuedAt: issuedAt.toISOString(),
      expiresAt: expiresAt.toISOString(),
      maxExpiresAt: new Date(expiresAt.getTime() + 240_000).toISOString(),
      state: 'active',
      handle: JSON.stringify({ backend: 'opaque-token' }),
    })
    .pexpire(`issuer:lease:{${id}}`, 600_000)
    .zadd(`issuer:active:workload:${NAMESPACE}/${serviceAccount}`, expiresAt.getTime(), id)
    .zadd(`issuer:active:role:${LEGACY}`, expiresAt.getTime(), id)
    .exec();
  return id;
}

describe('active-lease quotas under concurrency (a real issuer process)', () => {
  let identity: TestIdentity;
  let issuer: ServiceProcess;
  let redis: Redis;
  const legacyLive: string[] = [];

  beforeAll(async () => {
    identity = await TestIdentity.create();
    redis = redisFromEnv(requiredEnv('REDIS_URL'));
    // Leases issued before the upgrade: 45 live and 3 ended, for one workload.
    const inAMinute = new Date(Date.now() + 60_000);
    for (let i = 0; i < 45; i++) legacyLive.push(await seedPreviousLayout(redis, { serviceAccount: 'legacy', expiresAt: inAMinute }));
    for (let i = 0; i < 3; i++) await seedPreviousLayout(redis, { serviceAccount: 'legacy', expiresAt: new Date(Date.now() - 1_000) });

    issuer = new ServiceProcess('issuer', 19850, {
      ...identity.env,
      ROTOR_CATALOG: writeTempCatalog(CATALOG),
      ROTOR_TOKEN_HASH_KEY: randomBytes(32).toString('hex'),
      LOG_LEVEL: 'info',
    });
    await ensurePortFree(issuer.port);
    await issuer.start().ready();
  }, 120_000);

  afterAll(async () => {
    await issuer?.stop();
    redis?.disconnect();
  });

  const issue = async (serviceAccount: string, role: string, headers: Record<string, string> = {}) => {
    const response = await fetch(`${issuer.url}/v1/credentials`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await identity.serviceAccountToken(NAMESPACE, serviceAccount)}`,
        'content-type': 'application/json',
        ...headers,
      },
      body: JSON.stringify({ role }),
    });
    const body = (await response.json()) as { code?: string };
    return { status: response.status, contentType: response.headers.get('content-type') ?? '', code: body.code };
  };

  const tally = (answers: { status: number; contentType: string; code?: string }[]) => ({
    issued: answers.filter((answer) => answer.status === 201).length,
    refused: answers.filter(
      (answer) =>
        answer.status === 429 && answer.code === 'lease-quota-reached' && answer.contentType.startsWith('application/problem+json'),
    ).length,
  });

  it('lets exactly 50 of 200 concurrent requests from one workload through a per-workload quota of 50, and answers the rest 429', async () => {
    const answers = await Promise.all(Array.from({ length: 200 }, () => issue('busy', PER_WORKLOAD)));
    expect(tally(answers)).toEqual({ issued: 50, refused: 150 });
  }, 60_000);

  it('lets exactly 50 of 200 concurrent requests from 20 workloads through a per-role quota of 50', async () => {
    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => issue(`many-${i % 20}`, PER_ROLE)));
    expect(tally(answers)).toEqual({ issued: 50, refused: 150 });
  }, 60_000);

  it('counts a lease only until it expires, with no revoker involved', async () => {
    for (let i = 0; i < 3; i++) expect((await issue('short', SHORT)).status).toBe(201);
    expect((await issue('short', SHORT)).status).toBe(429);
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect((await issue('short', SHORT)).status).toBe(201);
  }, 30_000);

  it('does not count a request refused for a reused Idempotency-Key', async () => {
    const key = { 'idempotency-key': `order-${RUN}` };
    expect((await issue('idem', IDEMPOTENT, key)).status).toBe(201);
    for (let i = 0; i < 3; i++) expect((await issue('idem', IDEMPOTENT, key)).code).toBe('idempotency-key-used');
    // The quota is 2: one lease is live, so one more fits.
    expect((await issue('idem', IDEMPOTENT)).status).toBe(201);
  });

  it('keeps counting the live leases issued under the previous Redis layout, and drops the ended ones', async () => {
    // 45 live leases from before the upgrade: 5 more fit under the quota of 50, whatever the concurrency.
    const answers = await Promise.all(Array.from({ length: 20 }, () => issue('legacy', LEGACY)));
    expect(tally(answers)).toEqual({ issued: 5, refused: 15 });
    expect(await redis.exists(`issuer:active:role:${LEGACY}`, `issuer:active:workload:${NAMESPACE}/legacy`)).toBe(0);
    expect(await redis.zscore(`issuer:active:{role:${LEGACY}}:all`, legacyLive[0]!)).not.toBeNull();
  }, 60_000);
});

describe('a reservation is released when issuance is undone', () => {
  it('frees the quota of an issuance that could not be recorded (Kafka unreachable), so the workload is not locked out', async () => {
    const redis = redisFromEnv(requiredEnv('REDIS_URL'));
    const role = `quota-undo-${RUN}`;
    const catalog = parseCatalog(`
roles:
  - name: ${role}
    owner: team-test
    backend: { kind: opaque-token }
    bindings: [{ namespace: undo, serviceAccount: app }]
    ttl: 1m
    maxTtl: 5m
    quota: { perWorkload: 1 }
`);
    const deadKafka = new Kafka({
      clientId: 'rotor-test',
      brokers: ['127.0.0.1:1'],
      logLevel: logLevel.NOTHING,
      retry: { retries: 1, initialRetryTime: 50 },
    });
    const backends = BackendRegistry.create({
      postgres: { databaseUrl: requiredEnv('DATABASE_URL') },
      'redis-acl': { url: requiredEnv('ROTOR_REDIS_ACL_URL'), security: redisLinkFromEnv(requiredEnv('ROTOR_REDIS_ACL_URL')) },
    });
    const activeLeases = new ActiveLeases(redis);
    const service = new LeaseService(
      catalog,
      backends,
      new LeaseStore(redis),
      activeLeases,
      new EventPublisher(deadKafka, undefined, 2),
      new TokenHasher(keyringFrom('ROTOR_TOKEN_HASH_KEY', { ROTOR_TOKEN_HASH_KEY: 'k'.repeat(32) })),
      createLogger({ service: 'test', destination: new Writable({ write: (_c, _e, done) => done() }) }),
      new Metrics('issuer'),
    );
    const workload = { namespace: 'undo', serviceAccount: 'app' };
    try {
      for (let attempt = 0; attempt < 2; attempt++) {
        // With a quota of 1, a second attempt would be refused 429 if the first one's reservation had stayed.
        await expect(
          service.issue({ caller: { kind: 'workload', subject: 'system:serviceaccount:undo:app', workload }, role }),
        ).rejects.toMatchObject({ code: 'issuance-incomplete' });
      }
      expect(await activeLeases.count({ role, holder: { kind: 'workload', workload } }, new Date())).toEqual({ role: 0, workload: 0 });
    } finally {
      await backends.close();
      redis.disconnect();
    }
  }, 30_000);
});
