import { randomBytes, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';

import { keyringFrom } from '@rotor/config';
import type { Redis } from '@rotor/redis-store';
import { createLogger } from '@rotor/telemetry';

import type { RevokerConfig } from '../../apps/revoker/src/config';
import { LeaseClock } from '../../apps/revoker/src/leases/lease-clock';
import { RevokedLeasesMigration } from '../../apps/revoker/src/leases/revoked-leases.migration';
import { TokenHasher } from '../../apps/issuer/src/introspection/token-hasher';
import { ActiveLeases } from '../../apps/issuer/src/leases/active-leases';
import { LeaseRetentionMigration } from '../../apps/issuer/src/leases/lease-retention.migration';
import { LeaseStore } from '../../apps/issuer/src/leases/lease.store';
import { kafkaFromEnv, redisFromEnv } from '../../tools/security/env-clients';
import { eventually } from '../support/eventually';
import { startGroupAtEnd } from '../support/kafka-groups';
import { PrivateAuditLog } from '../support/private-audit-log';
import { PrivateRedis } from '../support/private-redis';
import { ServiceProcess } from '../support/service-process';
import { ensurePortFree, writeTempCatalog } from '../support/temp-files';
import { TestIdentity } from '../support/test-identity';

/**
 * Issue 19: Redis holds only live state. Leases that have ended leave nothing behind in Redis
 * once the dedupe window (ROTOR_DEDUPE_WINDOW_SECONDS) has passed, so Redis grows with the
 * active leases, not with history; the auditor keeps their history in its own PostgreSQL; and
 * keys written in the previous layout are upgraded.
 */
const RUN = randomBytes(3).toString('hex');
const NAMESPACE = `it-live-${RUN}`;
const ROLE = `live-token-${RUN}`;
const LEASES = Number(process.env['ROTOR_LIVE_STATE_LEASES'] ?? 20_000);
const CONCURRENCY = 48;
const WORKLOADS = 8;
const DEDUPE_WINDOW_SECONDS = 10;
/** What may differ from the baseline once everything has ended: a stray key or two, allocator and dict slack. */
const KEY_BOUND = 5;
const MEMORY_BOUND_BYTES = 512 * 1024;

const CATALOG = `
roles:
  - name: ${ROLE}
    owner: team-it
    backend: { kind: opaque-token }
    bindings: [{ namespace: ${NAMESPACE}, serviceAccount: "*" }]
    ttl: 2s
    maxTtl: 2s
    quota: { perWorkload: 100000, perRole: 100000 }
`;

const quietLogger = createLogger({ service: 'test', destination: new Writable({ write: (_chunk, _encoding, done) => done() }) });

async function measure(redis: Redis): Promise<{ keys: number; usedMemory: number }> {
  const [keys, info] = await Promise.all([redis.dbsize(), redis.info('memory')]);
  return { keys, usedMemory: Number(/^used_memory:(\d+)/m.exec(info)?.[1]) };
}

/** Key counts by prefix (up to the first `{` or the third `:`), to name what is left over. */
async function keyPrefixes(redis: Redis): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const prefix = key.split('{')[0]!.split(':').slice(0, 3).join(':');
      counts[prefix] = (counts[prefix] ?? 0) + 1;
    }
  } while (cursor !== '0');
  return counts;
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(2)} MiB`;

describe('Redis holds only live state', () => {
  const server = new PrivateRedis(19490);
  let redis: Redis;

  beforeAll(async () => {
    await server.start();
    redis = redisFromEnv(server.url);
  }, 30_000);

  afterAll(async () => {
    redis?.disconnect();
    await server.kill();
  });

  it('upgrades keys written in the previous layout: TTLs no later than the window, nothing live lost', async () => {
    await redis.flushdb();
    const windowMs = 60_000;
    const tokenHashKey = randomBytes(32).toString('hex');
    const hasher = new TokenHasher(keyringFrom('ROTOR_TOKEN_HASH_KEY', { ROTOR_TOKEN_HASH_KEY: tokenHashKey }));
    const now = Date.now();
    const week = 7 * 86_400_000;
    const issuerRecord = (id: string, state: 'active' | 'revoked', maxExpiresAt: number, revokedAt?: number) => ({
      id,
      role: ROLE,
      owner: 'team-it',
      backend: 'opaque-token',
      workload: JSON.stringify({ namespace: NAMESPACE, serviceAccount: 'legacy' }),
      issuedAt: new Date(now - 60_000).toISOString(),
      expiresAt: new Date(Math.min(maxExpiresAt, now + 600_000)).toISOString(),
      maxExpiresAt: new Date(maxExpiresAt).toISOString(),
      state,
      handle: JSON.stringify({ backend: 'opaque-token' }),
      ...(revokedAt ? { revokedAt: new Date(revokedAt).toISOString(), revocationReason: 'expired' } : {}),
    });
    // The previous layout: records and token entries kept a week past the max expiry, revoked or
    // not, the record not naming its token entry; handled ids kept a week; quota sets without a TTL.
    type Seeded = { id: string; token: string; maxExpiresAt: number; revokedAt?: number };
    const live: Seeded = { id: randomUUID(), token: 'live-token-value', maxExpiresAt: now + 3_600_000 };
    const ended: Seeded = { id: randomUUID(), token: 'ended-token-value', maxExpiresAt: now - 3_600_000, revokedAt: now - 3_590_000 };
    const recent = { id: randomUUID(), token: 'recent-token-value', maxExpiresAt: now + 3_600_000, revokedAt: now - 1_000 };
    const orphanToken = `issuer:token:${hasher.hash('orphan-token-value')}`;
    const seed = redis.multi();
    for (const lease of [live, ended, recent]) {
      const record = issuerRecord(lease.id, lease.revokedAt ? 'revoked' : 'active', lease.maxExpiresAt, lease.revokedAt);
      seed.hset(`issuer:lease:{${lease.id}}`, record).pexpireat(`issuer:lease:{${lease.id}}`, lease.maxExpiresAt + week);
      seed.set(`issuer:token:${hasher.hash(lease.token)}`, lease.id, 'PXAT', lease.maxExpiresAt + week);
    }
    seed.set(orphanToken, randomUUID(), 'PX', week);
    seed.set(`issuer:rotation-request:${randomUUID()}`, '1', 'PX', week);
    const roleSet = `issuer:active:{role:${ROLE}}:all`;
    const holderSet = `issuer:active:{role:${ROLE}}:holder:workload:${NAMESPACE}/legacy`;
    for (const key of [roleSet, holderSet]) seed.zadd(key, now + 600_000, live.id, now - 1_000, ended.id);
    // The revoker's: a revoked lease kept a week, and a live one (the clock itself, no TTL).
    const revokedClock = randomUUID();
    const liveClock = randomUUID();
    const clockRecord = (id: string, state: string) => ({
      id,
      role: ROLE,
      owner: 'team-it',
      backend: 'opaque-token',
      workload: JSON.stringify({ namespace: NAMESPACE, serviceAccount: 'legacy' }),
      handle: JSON.stringify({ backend: 'opaque-token' }),
      expiresAt: new Date(now + 600_000).toISOString(),
      state,
      attempts: '0',
    });
    seed
      .hset(`revoker:lease:{${revokedClock}}`, { ...clockRecord(revokedClock, 'revoked'), revokedAt: new Date(now - 5_000).toISOString() })
      .pexpire(`revoker:lease:{${revokedClock}}`, week)
      .hset(`revoker:lease:{${liveClock}}`, clockRecord(liveClock, 'active'));
    await seed.exec();

    const store = new LeaseStore(redis, windowMs);
    const activeLeases = new ActiveLeases(redis);
    const issuerMigration = new LeaseRetentionMigration(redis, store, activeLeases, quietLogger);
    const first = await issuerMigration.run(new Date());
    const clock = new LeaseClock(redis, { schedule: { shards: 1 }, dedupeWindowMs: windowMs } as RevokerConfig);
    const revokerMigration = new RevokedLeasesMigration(redis, clock, quietLogger);
    const clockResult = await revokerMigration.run(new Date());
    console.log('previous-layout upgrade:', { issuer: first, revoker: clockResult });

    const ttl = (key: string) => redis.pexpiretime(key);
    // The live lease: still found by its token, its record names the entry, both end by max expiry + window.
    expect((await store.findByTokenHash([hasher.hash(live.token)]))?.id).toBe(live.id);
    expect(await redis.hget(`issuer:lease:{${live.id}}`, 'tokenHash')).toBe(hasher.hash(live.token));
    expect(await ttl(`issuer:lease:{${live.id}}`)).toBe(live.maxExpiresAt + windowMs);
    expect(await ttl(`issuer:token:${hasher.hash(live.token)}`)).toBe(live.maxExpiresAt + windowMs);
    // Ended past the window: gone. Revoked within it: kept until revokedAt + window, token entry too.
    expect(await redis.exists(`issuer:lease:{${ended.id}}`, `issuer:token:${hasher.hash(ended.token)}`, orphanToken)).toBe(0);
    expect(await ttl(`issuer:lease:{${recent.id}}`)).toBe(recent.revokedAt + windowMs);
    expect(await ttl(`issuer:token:${hasher.hash(recent.token)}`)).toBe(recent.revokedAt + windowMs);
    // Handled ids forgotten after the window; quota sets expire with their latest live entry.
    const [handledKey] = await redis.keys('issuer:rotation-request:*');
    expect(await redis.pttl(handledKey!)).toBeLessThanOrEqual(windowMs);
    for (const key of [roleSet, holderSet]) {
      expect(await redis.zrange(key, 0, -1)).toEqual([live.id]);
      expect(await ttl(key)).toBe(now + 600_000);
    }
    // The revoker: a revoked record kept only for the window; the live clock untouched.
    expect(await redis.pttl(`revoker:lease:{${revokedClock}}`)).toBeLessThanOrEqual(55_000);
    expect(await redis.pttl(`revoker:lease:{${liveClock}}`)).toBe(-1);
    expect((await clock.get(liveClock))?.state).toBe('active');

    // The upgraded live lease now ends as any other: its revocation takes its token entry along.
    const lease = (await store.get(live.id))!;
    await store.markRevoked(lease, { at: new Date(), reason: 'expired' });
    expect(await redis.pttl(`issuer:token:${hasher.hash(live.token)}`)).toBeLessThanOrEqual(windowMs);
    expect(await redis.pttl(`issuer:lease:{${live.id}}`)).toBeLessThanOrEqual(windowMs);

    // Idempotent: a second run (another replica, the next start) changes nothing.
    expect(await issuerMigration.run(new Date())).toEqual({ leases: 0, tokens: 2, deleted: 0, handled: 0, activeSets: 0 });
    expect(await revokerMigration.run(new Date())).toEqual({ shortened: 0, deleted: 0, podIndexed: 0 });
    await redis.flushdb();
  }, 60_000);

  it(`returns to its baseline key count and memory once ${LEASES} leases have ended and the dedupe window has passed`, async () => {
    const started = Date.now();
    const identity = await TestIdentity.create();
    const env = {
      ...identity.env,
      REDIS_URL: server.url,
      ROTOR_CATALOG: writeTempCatalog(CATALOG),
      ROTOR_TOKEN_HASH_KEY: randomBytes(32).toString('hex'),
      ROTOR_DEDUPE_WINDOW_SECONDS: String(DEDUPE_WINDOW_SECONDS),
      ROTOR_REVOKE_POLL_MS: '100',
      ROTOR_DEPENDENCY_TIMEOUT_MS: '5000',
      LOG_LEVEL: 'warn',
    };
    // Past the shared topics' backlog: this Redis should hold only this suite's leases.
    const kafka = kafkaFromEnv('rotor-test-live-state');
    // The auditor too, on this Redis: it keeps the history, in its database, and nothing in Redis.
    const audit = await new PrivateAuditLog(kafka, 'live-state').create();
    const services = [
      new ServiceProcess('issuer', 19491, env),
      new ServiceProcess('revoker', 19492, env),
      new ServiceProcess('distributor', 19493, env),
      new ServiceProcess('auditor', 19494, { ...env, ...audit.env(), ROTOR_AUDIT_KEY: randomBytes(32).toString('hex') }),
    ];
    for (const service of services) await ensurePortFree(service.port);
    await startGroupAtEnd(kafka, 'rotor-revoker-clock');
    await startGroupAtEnd(kafka, 'rotor-issuer-lease-state');
    const [issuer] = services;
    try {
      await Promise.all(services.map((service) => service.start().ready()));
      // Settled: start-up writes (schedules, readiness probes, script caches) are done.
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      const baseline = await measure(redis);
      console.log(`baseline: ${baseline.keys} keys, used_memory ${baseline.usedMemory} bytes (${mib(baseline.usedMemory)})`);

      const tokens = await Promise.all(
        Array.from({ length: WORKLOADS }, (_, index) => identity.serviceAccountToken(NAMESPACE, `app-${index}`)),
      );
      const issueStarted = Date.now();
      let next = 0;
      let peak = baseline;
      const failures: string[] = [];
      const worker = async () => {
        while (next < LEASES) {
          const index = next++;
          const response = await fetch(`${issuer!.url}/v1/credentials`, {
            method: 'POST',
            headers: { authorization: `Bearer ${tokens[index % WORKLOADS]}`, 'content-type': 'application/json' },
            body: JSON.stringify({ role: ROLE }),
          });
          if (response.status !== 201) failures.push(`${response.status} ${await response.text()}`);
          else await response.arrayBuffer();
          if (index % 1_000 === 0) {
            const now = await measure(redis);
            if (now.keys > peak.keys) peak = now;
          }
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      const issueSeconds = (Date.now() - issueStarted) / 1000;
      console.log(
        `issued ${LEASES - failures.length} leases in ${issueSeconds.toFixed(1)} s (${((LEASES - failures.length) / issueSeconds).toFixed(0)}/s)`,
      );
      expect(failures.slice(0, 5)).toEqual([]);

      // Every lease revoked: nothing scheduled or claimed, no lease counted, no lease indexed.
      await eventually(
        async () => {
          const [due, inflight, indexed, counted] = await Promise.all([
            redis.zcard('{revoker:schedule:lease-expiry:s0}:due'),
            redis.zcard('{revoker:schedule:lease-expiry:s0}:inflight'),
            redis.scard('revoker:index:{all}'),
            redis.zcard(`issuer:active:{role:${ROLE}}:all`),
          ]);
          return due + inflight + indexed + counted === 0 ? true : undefined;
        },
        { what: 'every lease to be revoked and released', timeoutMs: 180_000, intervalMs: 500 },
      );
      // The auditor has recorded every one of them as ended.
      const views = await audit.db.open();
      await eventually(
        async () => {
          const { rows } = await views.pool.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM entities WHERE kind = 'lease' AND fields->>'namespace' = $1 AND fields ? 'revokedAt'`,
            [NAMESPACE],
          );
          return rows[0]!.n >= LEASES - failures.length ? rows[0]!.n : undefined;
        },
        { what: 'the auditor to record every lease as ended', timeoutMs: 180_000, intervalMs: 1_000 },
      );
      const revokedAt = Date.now();
      const ended = await measure(redis);
      console.log(
        `all revoked ${((revokedAt - issueStarted) / 1000).toFixed(1)} s after the first issue: ${ended.keys} keys, used_memory ${ended.usedMemory} bytes (${mib(ended.usedMemory)}); peak sampled ${peak.keys} keys, ${mib(peak.usedMemory)}`,
      );
      console.log('keys by prefix while within the dedupe window:', await keyPrefixes(redis));

      // Past the dedupe window, Redis' active expiry removes what is left of the ended leases.
      const after = await eventually(
        async () => {
          const now = await measure(redis);
          return now.keys <= baseline.keys + KEY_BOUND && now.usedMemory <= baseline.usedMemory + MEMORY_BOUND_BYTES ? now : undefined;
        },
        { what: 'Redis back to its baseline', timeoutMs: DEDUPE_WINDOW_SECONDS * 1000 + 60_000, intervalMs: 1_000 },
      ).catch(async (error: unknown) => {
        console.log('left over:', await measure(redis), await keyPrefixes(redis));
        throw error;
      });
      console.log(
        `after the dedupe window (${DEDUPE_WINDOW_SECONDS} s), ${((Date.now() - revokedAt) / 1000).toFixed(1)} s after the last revocation: ${after.keys} keys (baseline ${baseline.keys}), used_memory ${after.usedMemory} bytes (baseline ${baseline.usedMemory}, ${after.usedMemory - baseline.usedMemory >= 0 ? '+' : ''}${after.usedMemory - baseline.usedMemory})`,
      );
      console.log(`redis-live-state: ${LEASES} leases, whole test ${((Date.now() - started) / 1000).toFixed(1)} s`);
      expect(after.keys).toBeLessThanOrEqual(baseline.keys + KEY_BOUND);
      expect(after.usedMemory).toBeLessThanOrEqual(baseline.usedMemory + MEMORY_BOUND_BYTES);
    } finally {
      await Promise.all(services.map((service) => service.stop()));
      await audit.drop();
    }
  }, 600_000);
});
