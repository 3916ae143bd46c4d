/**
 * Nothing rotor minted outlives its lease, whatever happened to Redis (issue 13, item 13): the
 * revoker's reconciliation sweeps against the real PostgreSQL and the redis-acl backend's
 * Redis, with the TTL clock in a Redis of the test's own (so it can lose its data, and so the
 * sweeps see no other suite's leases).
 *
 * PostgreSQL roles are cluster-wide and other suites mint them concurrently: the orphan sweep
 * here sees only this suite's credentials (the real listings, filtered by lease id), so it
 * never revokes another suite's. The listings themselves are checked unfiltered.
 */
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';

import { Client } from 'pg';

import { parseCatalog, type Catalog } from '@rotor/catalog';
import { Topics, type BackendKind } from '@rotor/contracts';
import {
  BackendRegistry,
  OpaqueTokenBackend,
  PostgresBackend,
  postgresRoleName,
  RedisAclBackend,
  redisAclUsername,
  type CredentialBackend,
  type IssuedCredential,
} from '@rotor/credential-backends';
import { EventPublisher } from '@rotor/kafka';
import type { Redis } from '@rotor/redis-store';
import { createLogger, Metrics } from '@rotor/telemetry';

import { BreakGlassFollowUp } from '../../apps/revoker/src/break-glass/break-glass-follow-up';
import { loadRevokerConfig, type RevokerConfig } from '../../apps/revoker/src/config';
import { LeaseClock } from '../../apps/revoker/src/leases/lease-clock';
import { CatalogWithdrawal } from '../../apps/revoker/src/reconciliation/catalog-withdrawal';
import { OrphanSweep } from '../../apps/revoker/src/reconciliation/orphan-sweep';
import { RevocationEvents } from '../../apps/revoker/src/revocation/revocation-events';
import { RevocationService } from '../../apps/revoker/src/revocation/revocation.service';
import { PrivateRedis } from '../support/private-redis';
import { requiredEnv } from '../support/services-env';
import { writeTempCatalog } from '../support/temp-files';
import { readRotorTopicsSince } from '../support/topic-tap';
import { kafkaFromEnv, redisFromEnv, redisLinkFromEnv } from '../../tools/security/env-clients';

const DATABASE_URL = requiredEnv('DATABASE_URL');
const REDIS_ACL_URL = requiredEnv('ROTOR_REDIS_ACL_URL');
const MARGIN_MS = 1_500;
const GRACE_MS = 1_500;
const quietLogger = createLogger({ service: 'test', destination: new Writable({ write: (_c, _e, done) => done() }) });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const CATALOG = `
roles:
  - name: orders-db
    owner: team-orders
    backend: { kind: postgres, grants: ['GRANT CONNECT ON DATABASE rotor TO {{role}}'] }
    bindings: [{ namespace: shop, serviceAccount: orders }, { namespace: shop, serviceAccount: reports }]
    ttl: 15m
    maxTtl: 1h
  - name: cart-cache
    owner: team-cart
    backend: { kind: redis-acl, rules: ['+get', '~cart:*'] }
    bindings: [{ namespace: shop, serviceAccount: cart }]
    ttl: 15m
    maxTtl: 1h
`;

/** Only this suite's credentials, from the backend's real listing. */
const scoped = (backend: CredentialBackend, mine: Set<string>): CredentialBackend => ({
  kind: backend.kind,
  leaseHandle: (leaseId) => backend.leaseHandle(leaseId),
  issue: (request) => backend.issue(request),
  renew: (handle, expiresAt) => backend.renew(handle, expiresAt),
  revoke: (handle) => backend.revoke(handle),
  listMinted: async () => (await backend.listMinted!()).filter(({ leaseId }) => mine.has(leaseId)),
});

/** A series' value, 0 when it has none yet. */
const metricValue = async (metrics: Metrics, name: string, labels: Record<string, string> = {}) =>
  (await metrics.valueOf(name, labels)) ?? 0;

describe('revoker reconciliation', () => {
  const clockRedisServer = new PrivateRedis(19447);
  const postgres = new PostgresBackend({ databaseUrl: DATABASE_URL });
  const redisAcl = new RedisAclBackend({ url: REDIS_ACL_URL, security: redisLinkFromEnv(REDIS_ACL_URL) });
  const publisher = new EventPublisher(kafkaFromEnv('rotor-test-reconcile'));
  const admin = new Client({ connectionString: DATABASE_URL });
  const aclRedis = redisFromEnv(REDIS_ACL_URL);
  /** Lease ids whose credentials this suite minted (the orphan sweep's scope). */
  const mine = new Set<string>();
  const minted: IssuedCredential[] = [];
  let clockRedis: Redis;
  let config: RevokerConfig;

  beforeAll(async () => {
    await clockRedisServer.start();
    clockRedis = redisFromEnv(clockRedisServer.url);
    config = loadRevokerConfig({
      ...process.env,
      REDIS_URL: clockRedisServer.url,
      ROTOR_CATALOG: writeTempCatalog(CATALOG),
      ROTOR_RECONCILE_MARGIN_MS: String(MARGIN_MS),
      ROTOR_CATALOG_WITHDRAWAL_GRACE_MS: String(GRACE_MS),
    });
    await Promise.all([publisher.connect(), admin.connect()]);
  });

  afterAll(async () => {
    await Promise.all(
      minted.map(({ handle }) => (handle.backend === 'postgres' ? postgres : redisAcl).revoke(handle).catch(() => undefined)),
    );
    await Promise.all([postgres.close(), redisAcl.close(), publisher.disconnect(), admin.end()]);
    aclRedis.disconnect();
    clockRedis.disconnect();
    await clockRedisServer.kill();
  });

  /** Mints a real credential and, unless `untracked`, tracks its lease as the clock consumer would. */
  const lease = async (
    clock: LeaseClock,
    { role, backend, serviceAccount, tracked = true }: { role: string; backend: BackendKind; serviceAccount: string; tracked?: boolean },
  ) => {
    const id = randomUUID();
    const expiresAt = new Date(Date.now() + 15 * 60_000);
    const settings =
      backend === 'postgres'
        ? { kind: 'postgres' as const, grants: ['GRANT CONNECT ON DATABASE rotor TO {{role}}'] }
        : { kind: 'redis-acl' as const, rules: ['+get', '~cart:*'] };
    const issued =
      settings.kind === 'postgres'
        ? await postgres.issue({ leaseId: id, settings, expiresAt })
        : await redisAcl.issue({ leaseId: id, settings, expiresAt });
    mine.add(id);
    minted.push(issued);
    if (tracked)
      await clock.track({
        id,
        role,
        owner: 'team-test',
        backend,
        workload: { namespace: 'shop', serviceAccount },
        handle: issued.handle,
        expiresAt,
      });
    return id;
  };

  const roleExists = async (leaseId: string) =>
    (await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [postgresRoleName(leaseId)])).rowCount === 1;
  const aclUserExists = async (leaseId: string) => (await aclRedis.call('ACL', 'GETUSER', redisAclUsername(leaseId))) !== null;

  const wire = (catalog: Catalog) => {
    const metrics = new Metrics('revoker-test');
    const clock = new LeaseClock(clockRedis, config);
    const backends = new BackendRegistry([new OpaqueTokenBackend(), scoped(postgres, mine), scoped(redisAcl, mine)]);
    const breakGlass = new BreakGlassFollowUp(clockRedis, publisher, config, quietLogger, metrics);
    return {
      metrics,
      clock,
      orphans: new OrphanSweep(clockRedis, clock, backends, publisher, config, quietLogger, metrics),
      withdrawals: new CatalogWithdrawal(clockRedis, clock, breakGlass, catalog, config, quietLogger, metrics),
      revocation: new RevocationService(clock, backends, publisher, new RevocationEvents(), config, quietLogger, metrics),
    };
  };

  it('lists rotor’s PostgreSQL roles and Redis ACL users by their prefix, with the lease id their names carry, and nothing else', async () => {
    const { clock } = wire(parseCatalog(CATALOG));
    const [role, user] = [
      await lease(clock, { role: 'orders-db', backend: 'postgres', serviceAccount: 'orders' }),
      await lease(clock, { role: 'cart-cache', backend: 'redis-acl', serviceAccount: 'cart' }),
    ];
    const roles = await postgres.listMinted();
    expect(roles).toContainEqual({ leaseId: role, handle: { backend: 'postgres', roleName: postgresRoleName(role) } });
    expect(roles.every(({ handle }) => handle.backend === 'postgres' && /^rotor_[0-9a-f]{32}$/.test(handle.roleName))).toBe(true);
    const users = await redisAcl.listMinted();
    expect(users).toContainEqual({ leaseId: user, handle: { backend: 'redis-acl', username: redisAclUsername(user) } });
    expect(users.map(({ handle }) => (handle.backend === 'redis-acl' ? handle.username : ''))).not.toContain('acl-admin');
    // Gone before the next scenario, whose sweep sees every credential of this suite.
    await postgres.revoke({ backend: 'postgres', roleName: postgresRoleName(role) });
    await redisAcl.revoke({ backend: 'redis-acl', username: redisAclUsername(user) });
    mine.delete(role);
    mine.delete(user);
  });

  it('after the clock’s Redis lost its data, revokes the credentials of the forgotten leases once the margin has passed, with an event and a metric', async () => {
    const { clock, orphans, metrics } = wire(parseCatalog(CATALOG));
    const forgottenRole = await lease(clock, { role: 'orders-db', backend: 'postgres', serviceAccount: 'orders' });
    const forgottenUser = await lease(clock, { role: 'cart-cache', backend: 'redis-acl', serviceAccount: 'cart' });
    expect(await orphans.sweep()).toMatchObject({ waiting: 0, revoked: 0 });

    // Data loss: a failover that dropped acknowledged writes, a restore from an old backup.
    const since = new Date();
    await clockRedis.flushall();
    // A lease issued after the restore is tracked as usual and must survive the sweep.
    const kept = await lease(clock, { role: 'orders-db', backend: 'postgres', serviceAccount: 'orders' });

    expect(await orphans.sweep()).toMatchObject({ waiting: 2, revoked: 0 });
    expect(await roleExists(forgottenRole)).toBe(true); // inside the margin: maybe merely late
    await sleep(MARGIN_MS + 200);
    expect(await orphans.sweep()).toMatchObject({ waiting: 0, revoked: 2 });

    expect(await roleExists(forgottenRole)).toBe(false);
    expect(await aclUserExists(forgottenUser)).toBe(false);
    expect(await roleExists(kept)).toBe(true);
    const events = (await readRotorTopicsSince(since))
      .filter((message) => message.topic === Topics.credentialOrphanRevoked)
      .map((message) => JSON.parse(message.value) as { data: { leaseId: string; backend: string; reason: string } })
      .filter((event) => mine.has(event.data.leaseId));
    expect(events.map(({ data }) => [data.leaseId, data.backend, data.reason]).sort()).toEqual(
      [
        [forgottenRole, 'postgres', 'untracked'],
        [forgottenUser, 'redis-acl', 'untracked'],
      ].sort(),
    );
    expect(await metricValue(metrics, 'rotor_orphaned_credentials_revoked_total', { backend: 'postgres', reason: 'untracked' })).toBe(1);
    expect(await metricValue(metrics, 'rotor_orphaned_credentials_revoked_total', { backend: 'redis-acl', reason: 'untracked' })).toBe(1);
    expect(await orphans.sweep()).toMatchObject({ revoked: 0 });
  });

  it('publishes the event at the next sweep when Kafka refused it right after the revocation', async () => {
    const { clock } = wire(parseCatalog(CATALOG));
    const forgotten = await lease(clock, { role: 'orders-db', backend: 'postgres', serviceAccount: 'orders', tracked: false });
    let refusals = 1;
    const flaky = Object.assign(Object.create(publisher) as EventPublisher, {
      publish: (...args: Parameters<EventPublisher['publish']>) =>
        refusals-- > 0 ? Promise.reject(new Error('broker down')) : publisher.publish(...args),
    });
    const backends = new BackendRegistry([scoped(postgres, mine)]);
    const sweep = new OrphanSweep(clockRedis, clock, backends, flaky, config, quietLogger, new Metrics('revoker-test'));
    const since = new Date();
    expect(await sweep.sweep()).toMatchObject({ waiting: 1 });
    await sleep(MARGIN_MS + 200);
    expect(await sweep.sweep()).toMatchObject({ revoked: 0, failed: 1 });
    expect(await roleExists(forgotten)).toBe(false); // revoked; only its event is missing

    expect(await sweep.sweep()).toMatchObject({ waiting: 0, revoked: 0 });
    const events = (await readRotorTopicsSince(since))
      .filter((message) => message.topic === Topics.credentialOrphanRevoked && message.key === forgotten)
      .map((message) => (JSON.parse(message.value) as { data: { reason: string } }).data.reason);
    expect(events).toEqual(['untracked']);
    expect(await clockRedis.hlen('revoker:reconcile:orphans')).toBe(0);
    mine.delete(forgotten);
  });

  it('when the catalog drops a binding, revokes the leases it no longer allows after the grace, and no other', async () => {
    const before = parseCatalog(CATALOG);
    const { clock } = wire(before);
    const unbound = await lease(clock, { role: 'orders-db', backend: 'postgres', serviceAccount: 'reports' });
    const stillBound = await lease(clock, { role: 'orders-db', backend: 'postgres', serviceAccount: 'orders' });
    const since = new Date();

    // The revoker restarts with a catalog that no longer binds shop/reports to orders-db.
    const after = parseCatalog(CATALOG.replace(', { namespace: shop, serviceAccount: reports }', ''));
    const { withdrawals, revocation, metrics } = wire(after);
    expect(await withdrawals.sweep()).toMatchObject({ waiting: 1, requested: 0 });
    expect((await clock.get(unbound))?.state).toBe('active');
    await sleep(GRACE_MS + 200);
    expect(await withdrawals.sweep()).toMatchObject({ waiting: 0, requested: 1 });

    // The usual revocation path ends it: claimed from the schedule like any due lease.
    const due = await clock.schedule.claimDue({ nowMs: Date.now(), limit: 100, visibilityMs: 30_000 });
    expect(due).toContain(unbound);
    expect(due).not.toContain(stillBound);
    expect(await revocation.revokeClaimed(unbound)).toBe('revoked');
    expect(await roleExists(unbound)).toBe(false);
    expect(await roleExists(stillBound)).toBe(true);
    expect(await metricValue(metrics, 'rotor_catalog_withdrawn_leases_total', { withdrawal: 'binding-removed' })).toBe(1);
    expect(await metricValue(metrics, 'rotor_leases_revoked_total', { reason: 'catalog-withdrawn', backend: 'postgres' })).toBe(1);
    const revoked = (await readRotorTopicsSince(since))
      .filter((message) => message.topic === Topics.leaseRevoked && message.key === unbound)
      .map((message) => (JSON.parse(message.value) as { data: { reason: string } }).data.reason);
    expect(revoked).toEqual(['catalog-withdrawn']);
    expect(await withdrawals.sweep()).toMatchObject({ waiting: 0, requested: 0 });
  });

  it('forgets a withdrawal when the catalog allows the lease again before the grace ends', async () => {
    const { clock } = wire(parseCatalog(CATALOG));
    const id = await lease(clock, { role: 'cart-cache', backend: 'redis-acl', serviceAccount: 'cart' });
    const dropped = wire(
      parseCatalog(
        CATALOG.replace('bindings: [{ namespace: shop, serviceAccount: cart }]', 'bindings: [{ namespace: shop, serviceAccount: other }]'),
      ),
    );
    expect(await dropped.withdrawals.sweep()).toMatchObject({ waiting: 1 });
    const restored = wire(parseCatalog(CATALOG));
    await restored.withdrawals.sweep();
    await sleep(GRACE_MS + 200);
    // Dropped again: the grace starts over, so nothing is requested yet.
    expect(await dropped.withdrawals.sweep()).toMatchObject({ waiting: 1, requested: 0 });
    expect(await aclUserExists(id)).toBe(true);
    expect((await clock.get(id))?.state).toBe('active');
  });
});
