import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Writable } from 'node:stream';

import type { Cluster } from 'ioredis';

import { ChainState, StateMarkers, ViewWriter } from '@rotor/audit-store';
import type { IssuedCredential, LeaseView } from '@rotor/rest-contract';
import { allKeys, createRedis, DueSchedule, readHashes, SharedRateLimiter, withLock, type Redis } from '@rotor/redis-store';
import { createLogger } from '@rotor/telemetry';

import { RedisLayoutMove } from '../../apps/auditor/src/audit/redis-layout.move';
import type { AuditorConfig } from '../../apps/auditor/src/config';
import { DeliveryLedger, type DeliveredCopy } from '../../apps/distributor/src/delivery/delivery-ledger';
import { EmergencyCounters } from '../../apps/revoker/src/emergency/emergency-counters';
import { EmergencyStore, type EmergencyRotation } from '../../apps/revoker/src/emergency/emergency.store';
import { RetirementStore } from '../../apps/revoker/src/retirement/retirement.store';
import { eventually } from '../support/eventually';
import { principalEnv } from '../support/principals';
import { PrivateAuditDatabase } from '../support/private-audit-database';
import { readEnvFile, requiredEnv } from '../support/services-env';
import { ServiceProcess } from '../support/service-process';
import { TestIdentity } from '../support/test-identity';
import { writeTempCatalog } from '../support/temp-files';
import { createTestTopics, deleteTestTopics } from '../support/test-topics';
import { kafkaFromEnv, redisLinkFromEnv } from '../../tools/security/env-clients';

const ROOT = join(__dirname, '..', '..');

/**
 * rotor on a real Redis Cluster (scripts/redis-cluster.sh, started here when it is not up): 3 masters,
 * 3 replicas. A cluster refuses any multi-key command, MULTI or Lua script whose keys span hash slots
 * (CROSSSLOT), so driving the stores and services through their operations here proves that every
 * script and multi-key command rotor runs touches one slot. A cluster has no databases: this suite
 * isolates itself by key names (its own prefixes, roles and namespaces), not by a worker's database.
 */
function clusterNodes(): string[] {
  execFileSync('bash', [join(ROOT, 'scripts', 'redis-cluster.sh'), 'up'], { cwd: ROOT, stdio: 'pipe', timeout: 180_000 });
  const nodes = readEnvFile(join(ROOT, '.rotor', 'redis-cluster', 'env'))['REDIS_CLUSTER_NODES'];
  if (!nodes) throw new Error('scripts/redis-cluster.sh up wrote no REDIS_CLUSTER_NODES');
  return nodes.split(',');
}

/** What a cluster answers when a command's keys are not in one slot, or a client's pipeline spans nodes. */
const CROSS_SLOT = /CROSSSLOT|don't hash to the same slot|same slots allocation group|do not belong to the node|MOVED|NOPERM/;

describe('rotor on Redis Cluster', () => {
  const run = randomUUID().slice(0, 8);
  let nodes: string[];
  let redis: Redis;

  beforeAll(() => {
    nodes = clusterNodes();
    // The URL gives the scheme (TLS) only; the seeds are the nodes.
    redis = createRedis('rediss://127.0.0.1:7001', {
      connectionName: 'rotor-test-cluster',
      clusterNodes: nodes,
      security: redisLinkFromEnv(),
    });
  }, 200_000);

  afterAll(() => redis?.quit());

  describe('libs/redis-store', () => {
    it('connects with the Cluster client and sees three masters', async () => {
      expect(await redis.ping()).toBe('PONG');
      expect((redis as Cluster).nodes('master')).toHaveLength(3);
    });

    it('finds keys of every master with allKeys (SCAN asks each master)', async () => {
      const keys = Array.from({ length: 40 }, (_, i) => `issuer:cluster-test:${run}:scan:${i}`);
      for (const key of keys) await redis.set(key, '1', 'PX', 60_000);
      const holders = new Set(
        await Promise.all(keys.map(async (key) => (await redis.call('CLUSTER', 'KEYSLOT', key)) as number)).then((slots) =>
          slots.map((slot) => (slot <= 5460 ? 0 : slot <= 10922 ? 1 : 2)),
        ),
      );
      expect(holders.size).toBe(3); // the keys really are spread over the three masters
      expect((await allKeys(redis, `issuer:cluster-test:${run}:scan:*`)).sort()).toEqual([...keys].sort());
    });

    it('reads hashes of many slots with readHashes', async () => {
      const keys = Array.from({ length: 12 }, (_, i) => `issuer:cluster-test:${run}:hash:${i}`);
      for (const [i, key] of keys.entries()) await redis.hset(key, 'i', String(i));
      const hashes = await readHashes(redis, [...keys, `issuer:cluster-test:${run}:hash:missing`]);
      expect(hashes).toEqual([...keys.map((_, i) => ({ i: String(i) })), {}]);
      await redis.del(...keys.map((key) => key)).catch(() => Promise.all(keys.map((key) => redis.del(key))));
    });

    it.each([1, 4])('runs the due schedule (%i shard(s)): schedule, claim, complete, cancel', async (shards) => {
      const schedule = new DueSchedule(redis, { prefix: `revoker:cluster-test:${run}:s${shards}`, shards });
      const now = Date.now();
      const members = Array.from({ length: 10 }, (_, i) => `m${i}`);
      for (const member of members) await schedule.schedule(member, now - 1_000);
      expect(await schedule.scheduleIfAbsent('m0', now)).toBe(false);
      expect(await schedule.scheduleIfAbsent('late', now + 60_000)).toBe(true);
      expect(await schedule.dueAt('late')).toBe(now + 60_000);
      await schedule.cancel('late');
      const claimed = await schedule.claimDue({ nowMs: now, limit: 100, visibilityMs: 10_000 });
      expect(claimed.sort()).toEqual([...members].sort());
      expect(await schedule.size()).toEqual({ due: 0, inflight: 10 });
      for (const member of claimed) expect(await schedule.complete(member)).toBe(true);
      expect(await schedule.size()).toEqual({ due: 0, inflight: 0 });
    });

    it('takes a lock and paces through the shared rate limiter', async () => {
      expect(await withLock(redis, { key: `revoker:cluster-test:${run}:lock`, ttlMs: 5_000 }, async () => 'ran')).toBe('ran');
      const failures: unknown[] = [];
      const limiter = new SharedRateLimiter(redis, {
        key: `rotor:quota:cluster-test:${run}`,
        ratePerMinute: 6_000,
        fallback: {
          acquire: async () => {
            failures.push('fallback');
          },
        },
        onRedisError: (error) => failures.push(error),
      });
      for (let i = 0; i < 5; i++) await limiter.acquire();
      expect(failures).toEqual([]);
    });
  });

  describe("the revoker's and distributor's stores", () => {
    it('retirements: open, confirm, force, retire', async () => {
      const store = new RetirementStore(redis);
      const secret = `cluster-secret-${run}`;
      await store.remember(secret);
      expect(await store.knows(secret)).toBe(true);
      const opened = await store.open({
        secret,
        version: 1,
        gsmVersion: '1',
        newVersion: 2,
        graceEndsAt: Date.now() + 60_000,
        targets: ['a', 'b'],
      });
      expect(opened).toEqual({ created: true, state: expect.any(String), pending: 2 });
      expect(await store.confirm(secret, 'a', 2)).toEqual([]);
      expect(await store.confirm(secret, 'b', 2)).toEqual([1]);
      expect(await store.confirmed(secret)).toEqual({ a: 2, b: 2 });
      await store.force({ secret, version: 1, reason: 'emergency', emergencyId: `em-${run}` });
      expect(await store.get(secret, 1)).toMatchObject({ secret, version: 1, pending: [], emergencyId: `em-${run}` });
      await store.markRetired({ secret, version: 1, reason: 'emergency', at: new Date() });
      expect(await store.get(secret, 1)).toMatchObject({ state: 'retired' });
    });

    it('emergency rotations: record, snapshot, counters, finish', async () => {
      const counters = new EmergencyCounters(redis);
      const store = new EmergencyStore(redis, counters);
      const id = `em-${run}`;
      const created = await store.create({
        id,
        scope: 'rotation',
        selector: { namespace: `cluster-${run}` },
        mode: 'graceful',
        reason: 'cluster test',
        requestedBy: 'sre',
        state: 'running',
        phase: 'match-leases',
        cursor: '0',
        secretsRequested: 0,
        quotaLimited: false,
        startedAt: new Date().toISOString(),
        lastProgressAt: 0,
      } satisfies EmergencyRotation);
      expect(created).toBe(true);
      await store.update(id, { phase: 'revoke', cursor: '5' });
      await store.addLeases(id, ['l1', 'l2']);
      await store.setSecrets(id, ['s1']);
      expect((await store.scanLeases(id, '0', 10))[1].sort()).toEqual(['l1', 'l2']);
      await counters.add(id, 'failed', 'l1');
      await counters.leaseRevoked(id, 'l1');
      await store.rememberVersion('s1', 3, id);
      expect(await store.emergencyOfVersion('s1', 3)).toBe(id);
      await store.finish(id, 'completed', new Date());
      expect(await store.view(id)).toMatchObject({ id, phase: 'done', matched: { leases: 2, secrets: 1 } });
    });

    it('deliveries: copies, held versions, retired versions', async () => {
      const ledger = new DeliveryLedger(redis);
      const secret = `cluster-secret-${run}`;
      const target = { name: 'file-a', kind: 'file', path: '/tmp/x' } as unknown as DeliveredCopy['target'];
      expect(await ledger.addPending({ secret, version: 1, gsmVersion: '1', target })).toBe(true);
      await ledger.update({ secret, version: 1, targetName: 'file-a' }, { state: 'delivered' });
      await ledger.setHeld(secret, 'file-a', { version: 1, gsmVersion: '1', contentHash: 'h', locator: 'file:/tmp/x' });
      expect(await ledger.held(secret, 'file-a')).toMatchObject({ version: 1 });
      await ledger.clearHeld(secret, 'file-a', 1);
      await ledger.markRetired(secret, 1, new Date());
      expect(await ledger.knows(secret)).toBe(true);
      expect(await ledger.isRetired(secret, 1)).toBe(true);
      expect((await ledger.copiesOf(secret)).map((copy) => copy.state)).toEqual(['delivered']);
    });
  });

  // The auditor keeps its state in PostgreSQL (libs/audit-store); what it still does on a cluster is
  // its one-time upgrade: find the previous Redis layouts on every master and remove them.
  describe('the auditor', () => {
    const db = new PrivateAuditDatabase();
    const auditTopic = `rotor.audit.cluster-${run}.v1`;
    const kafka = kafkaFromEnv('rotor-test-redis-cluster');
    const logger = createLogger({ service: 'test', destination: new Writable({ write: (_chunk, _encoding, done) => done() }) });

    beforeAll(async () => {
      await db.create();
      await createTestTopics(kafka, [auditTopic]);
    });

    afterAll(async () => {
      await deleteTestTopics(kafka, [auditTopic]);
      await db.drop();
    });

    it('moves from its previous layouts once: found on every master, removed key by key (no CROSSSLOT), the checkpoint number carried over', async () => {
      const tagged = '{auditor:views}:';
      // The layout before the hash tag spread over every slot.
      const untagged = Array.from({ length: 30 }, (_, i) => `auditor:view:${run}:${i}`);
      await redis.set(`${tagged}state`, new Date().toISOString());
      await redis.hset(`${tagged}checkpoint`, 'number', '7', 'issuedAt', '2026-01-01T00:00:00.000Z');
      await redis.hset(`${tagged}chain:rotor.lease.issued.v1:0`, 'seq', '3', 'hash', 'h');
      for (const key of untagged) await redis.set(key, '1');
      const slots = await Promise.all(untagged.map(async (key) => (await redis.call('CLUSTER', 'KEYSLOT', key)) as number));
      expect(new Set(slots.map((slot) => (slot <= 5460 ? 0 : slot <= 10922 ? 1 : 2))).size).toBe(3);

      const database = await db.open();
      const chains = new ChainState(database);
      // As the auditor's own Redis user, as it runs in production.
      const config = {
        auditTopic,
        redis: {
          url: 'rediss://127.0.0.1:7001',
          clusterNodes: nodes,
          security: redisLinkFromEnv('rediss://127.0.0.1:7001', { ...process.env, ...principalEnv('auditor') }),
        },
      } as unknown as AuditorConfig;
      const move = new RedisLayoutMove(chains, new ViewWriter(database), kafka, config, logger);
      const result = await move.run();
      expect(result).toMatchObject({ records: 0, checkpointNumber: 7 });
      expect(result.keysRemoved).toBeGreaterThanOrEqual(untagged.length + 3);
      expect(await allKeys(redis, `${tagged}*`)).toEqual([]);
      expect(await allKeys(redis, `auditor:view:${run}:*`)).toEqual([]);
      expect(await chains.hasMarker(StateMarkers.initialized)).toBe(true);
      expect(await chains.hasMarker(StateMarkers.redisLayoutCleared)).toBe(true);
      expect((await chains.checkpointState()).number).toBe(7);

      // Once: a later start never reads Redis again.
      await redis.set(`${tagged}state`, 'left behind');
      try {
        expect(await move.run()).toEqual({ records: 0, keysRemoved: 0 });
        expect(await redis.exists(`${tagged}state`)).toBe(1);
      } finally {
        await redis.del(`${tagged}state`);
      }
    });
  });

  describe('the services, each on the cluster', () => {
    let identity: TestIdentity;
    let services: Record<'issuer' | 'revoker' | 'distributor', ServiceProcess>;
    const namespace = `cluster-${run}`;
    const role = `cluster-token-${run}`;

    beforeAll(async () => {
      identity = await TestIdentity.create();
      const catalog = writeTempCatalog(`
roles:
  - name: ${role}
    owner: team-cluster
    backend: { kind: opaque-token }
    bindings:
      - { namespace: ${namespace}, serviceAccount: worker }
    ttl: 3s
    maxTtl: 20s
    quota: { perWorkload: 20 }
introspection:
  allowed: [{ namespace: ${namespace}, serviceAccount: worker }]
`);
      const env = {
        ...identity.env,
        REDIS_CLUSTER_NODES: nodes.join(','),
        ROTOR_CATALOG: catalog,
        ROTOR_TOKEN_HASH_KEY: randomBytes(32).toString('hex'),
        ROTOR_AUDIT_KEY: requiredEnv('ROTOR_AUDIT_KEY'),
        ROTOR_REVOKE_POLL_MS: '100',
        // The clock spread over the masters: four shards, each its own hash tag.
        ROTOR_SCHEDULE_SHARDS: '4',
        LOG_LEVEL: 'info',
      };
      services = {
        issuer: new ServiceProcess('issuer', 18590, env),
        revoker: new ServiceProcess('revoker', 18591, env),
        distributor: new ServiceProcess('distributor', 18592, env),
      };
      await Promise.all(Object.values(services).map((service) => service.start().ready(90_000)));
    }, 180_000);

    afterAll(async () => {
      await Promise.all(Object.values(services ?? {}).map((service) => service.stop()));
    });

    it('issues, reads, renews, introspects and revokes early; the revoker revokes the others at their TTL', async () => {
      const token = await identity.serviceAccountToken(namespace, 'worker', { name: 'worker-1', uid: `pod-${run}` });
      const asWorkload = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
      // A 503 with Retry-After (a dependency briefly busy on this shared, loaded stack) is asked again, as a client would.
      const issue = (key: string, ttl: number) =>
        eventually(
          async () => {
            const response = await fetch(`${services.issuer.url}/v1/credentials`, {
              method: 'POST',
              headers: { ...asWorkload, 'idempotency-key': key },
              body: JSON.stringify({ role, ttl }),
            });
            const body = (await response.json()) as IssuedCredential;
            if (response.status === 503) return undefined;
            if (response.status !== 201) throw new Error(`POST /v1/credentials answered ${response.status}: ${JSON.stringify(body)}`);
            return body;
          },
          { what: 'an issuance', timeoutMs: 30_000, intervalMs: 500 },
        );
      const lease = async (id: string) =>
        (await (await fetch(`${services.issuer.url}/v1/leases/${id}`, { headers: asWorkload })).json()) as LeaseView;

      // Lease 3 is revoked early: a longer TTL, so its expiry cannot come first.
      const issued = await Promise.all(Array.from({ length: 6 }, (_, i) => issue(`${run}-${i}`, i === 3 ? 15 : 3)));
      // The same Idempotency-Key names the lease it issued (its credential is returned only once).
      const replay = await fetch(`${services.issuer.url}/v1/credentials`, {
        method: 'POST',
        headers: { ...asWorkload, 'idempotency-key': `${run}-0` },
        body: JSON.stringify({ role, ttl: 3 }),
      });
      expect({ status: replay.status, names: ((await replay.json()) as { detail: string }).detail.includes(issued[0]!.leaseId) }).toEqual({
        status: 409,
        names: true,
      });

      const introspection = await fetch(`${services.issuer.url}/v1/introspect`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: issued[1]!.credential['token']! }).toString(),
      });
      expect(await introspection.json()).toMatchObject({ active: true, lease_id: issued[1]!.leaseId });

      const renewed = await fetch(`${services.issuer.url}/v1/leases/${issued[2]!.leaseId}/renew`, {
        method: 'POST',
        headers: asWorkload,
        body: JSON.stringify({ ttl: 3 }),
      });
      expect(renewed.status).toBe(200);

      const early = await fetch(`${services.issuer.url}/v1/leases/${issued[3]!.leaseId}`, { method: 'DELETE', headers: asWorkload });
      expect(early.status).toBeLessThan(300);

      // Every lease ends revoked: one early, the others by the revoker at their TTL.
      for (const { leaseId } of issued) {
        const ended = await eventually(async () => ((await lease(leaseId)).state === 'revoked' ? lease(leaseId) : undefined), {
          what: `lease ${leaseId} revoked`,
          timeoutMs: 60_000,
        });
        expect(ended.revocationReason).toBe(leaseId === issued[3]!.leaseId ? 'requested' : 'expired');
      }
      const expired = await lease(issued[0]!.leaseId);
      expect(new Date(expired.revokedAt!).getTime() - new Date(issued[0]!.expiresAt).getTime()).toBeLessThan(10_000);

      for (const service of Object.values(services)) {
        expect({ service: service.name, crossSlot: service.logs.match(CROSS_SLOT)?.[0] ?? null }).toEqual({
          service: service.name,
          crossSlot: null,
        });
      }
    }, 180_000);
  });
});
