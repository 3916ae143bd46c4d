/**
 * The revoker's backlog and emergency-progress gauges, read at scrape time from a Redis of the
 * test's own (so no other suite's leases or runs are counted).
 */
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';

import type { BackendKind } from '@rotor/contracts';
import { BackendRegistry, OpaqueTokenBackend } from '@rotor/credential-backends';
import { EventPublisher } from '@rotor/kafka';
import type { Redis } from '@rotor/redis-store';
import { createLogger, Metrics, sampleValue } from '@rotor/telemetry';

import { loadRevokerConfig, type RevokerConfig } from '../../apps/revoker/src/config';
import { EmergencyCounters } from '../../apps/revoker/src/emergency/emergency-counters';
import { EmergencyIndex } from '../../apps/revoker/src/emergency/emergency-index';
import { EmergencyMetrics } from '../../apps/revoker/src/emergency/emergency-metrics';
import { EmergencyStore, type EmergencyRotation } from '../../apps/revoker/src/emergency/emergency.store';
import { LeaseClock } from '../../apps/revoker/src/leases/lease-clock';
import { RevocationEvents } from '../../apps/revoker/src/revocation/revocation-events';
import { RevocationService } from '../../apps/revoker/src/revocation/revocation.service';
import { PrivateRedis } from '../support/private-redis';
import { writeTempCatalog } from '../support/temp-files';
import { kafkaFromEnv, redisFromEnv } from '../../tools/security/env-clients';

const quietLogger = createLogger({ service: 'test', destination: new Writable({ write: (_c, _e, done) => done() }) });
const CATALOG = `
roles:
  - name: api-token
    owner: team-test
    backend: { kind: opaque-token }
    bindings: [{ namespace: shop, serviceAccount: orders }]
    ttl: 15m
    maxTtl: 1h
`;

describe('revoker progress metrics', () => {
  const server = new PrivateRedis(19142);
  let redis: Redis;
  let config: RevokerConfig;

  beforeAll(async () => {
    await server.start();
    redis = redisFromEnv(server.url);
    config = loadRevokerConfig({ ...process.env, REDIS_URL: server.url, ROTOR_CATALOG: writeTempCatalog(CATALOG) });
  });

  afterAll(async () => {
    redis.disconnect();
    await server.kill();
  });

  it('exports the due backlog and the claims in flight, and both drain to 0', async () => {
    const metrics = new Metrics('revoker');
    const clock = new LeaseClock(redis, config);
    // Never connected: nothing here publishes.
    const publisher = new EventPublisher(kafkaFromEnv('rotor-test-progress-metrics'));
    new RevocationService(
      clock,
      new BackendRegistry<BackendKind>([new OpaqueTokenBackend()]),
      publisher,
      new RevocationEvents(),
      config,
      quietLogger,
      metrics,
    );
    const track = async (expiresAt: Date) => {
      const id = randomUUID();
      await clock.track({
        id,
        role: 'api-token',
        owner: 'team-test',
        backend: 'opaque-token',
        workload: { namespace: 'shop', serviceAccount: 'orders' },
        handle: { backend: 'opaque-token' },
        expiresAt,
      });
      return id;
    };
    // Tracked before they expire (a lease first read after its expiry gets a grace: LeaseClock.dueAt), then let expire.
    const soon = Date.now() + 500;
    const expired = [await track(new Date(soon - 200)), await track(new Date(soon - 100)), await track(new Date(soon))];
    await track(new Date(Date.now() + 15 * 60_000));
    await new Promise((resolve) => setTimeout(resolve, soon + 50 - Date.now()));

    let text = await metrics.render();
    expect(sampleValue(text, 'rotor_revocation_due_leases')).toBe(3);
    expect(sampleValue(text, 'rotor_revocation_claims_in_flight')).toBe(0);

    const claimed = await clock.schedule.claimDue({ nowMs: Date.now(), limit: 2, visibilityMs: 60_000 });
    expect(claimed).toHaveLength(2);
    text = await metrics.render();
    expect(sampleValue(text, 'rotor_revocation_due_leases')).toBe(1);
    expect(sampleValue(text, 'rotor_revocation_claims_in_flight')).toBe(2);

    claimed.push(...(await clock.schedule.claimDue({ nowMs: Date.now(), limit: 10, visibilityMs: 60_000 })));
    expect([...claimed].sort()).toEqual([...expired].sort());
    for (const id of claimed) await clock.schedule.complete(id);
    text = await metrics.render();
    expect(sampleValue(text, 'rotor_revocation_due_leases')).toBe(0);
    expect(sampleValue(text, 'rotor_revocation_claims_in_flight')).toBe(0);
    for (const id of expired) expect(text).not.toContain(id);
  });

  it('exports the active emergency runs and their items by scope and state, never a run id, and nothing of finished runs', async () => {
    const metrics = new Metrics('revoker');
    const counters = new EmergencyCounters(redis);
    const store = new EmergencyStore(redis, counters);
    const index = new EmergencyIndex(redis);
    new EmergencyMetrics(store, index, metrics);
    const start = async (scope: EmergencyRotation['scope'], leases: number, secrets: string[]) => {
      const id = randomUUID();
      const startedAt = new Date().toISOString();
      await store.create({
        id,
        scope,
        selector: { role: 'api-token' },
        ...(scope === 'rotation' ? { mode: 'immediate' as const } : {}),
        reason: 'test',
        requestedBy: 'sre',
        state: 'running',
        phase: 'watch',
        cursor: '0',
        secretsRequested: secrets.length,
        quotaLimited: false,
        startedAt,
        lastProgressAt: 0,
      });
      await index.add(scope, id, startedAt);
      const leaseIds = Array.from({ length: leases }, () => randomUUID());
      await store.addLeases(id, leaseIds);
      await store.setSecrets(id, secrets);
      return { id, leaseIds };
    };

    const quiet = await metrics.render();
    expect(sampleValue(quiet, 'rotor_emergency_rotations_active', { scope: 'rotation' })).toBe(0);
    expect(sampleValue(quiet, 'rotor_emergency_rotation_items')).toBeUndefined();

    const first = await start('rotation', 4, ['orders-db', 'billing-key']);
    await counters.leaseRevoked(first.id, first.leaseIds[0]!);
    await counters.add(first.id, 'failed', first.leaseIds[1]!);
    await counters.add(first.id, 'rotated', 'orders-db');
    await counters.add(first.id, 'delivered', 'orders-db:2:gsm');
    const second = await start('rotation', 2, []);
    await counters.leaseRevoked(second.id, second.leaseIds[0]!);
    const revocation = await start('lease-revocation', 3, []);
    await counters.leaseRevoked(revocation.id, revocation.leaseIds[0]!);
    const finished = await start('rotation', 5, []);
    await store.finish(finished.id, 'completed', new Date());

    // Past the reuse window of the previous read.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const text = await metrics.render();
    expect(sampleValue(text, 'rotor_emergency_rotations_active', { scope: 'rotation' })).toBe(2);
    expect(sampleValue(text, 'rotor_emergency_rotations_active', { scope: 'lease-revocation' })).toBe(1);
    const items = (state: string, scope = 'rotation') => sampleValue(text, 'rotor_emergency_rotation_items', { scope, state });
    expect(items('pending')).toBe(2 + 1);
    expect(items('revoked')).toBe(2);
    expect(items('failed')).toBe(1);
    expect(items('awaiting-rotation')).toBe(1);
    expect(items('rotated')).toBe(1);
    expect(items('delivered')).toBe(1);
    expect(items('retired')).toBe(0);
    expect(items('pending', 'lease-revocation')).toBe(2);
    expect(items('revoked', 'lease-revocation')).toBe(1);
    expect(items('rotated', 'lease-revocation')).toBeUndefined();
    for (const id of [first.id, second.id, revocation.id, finished.id, ...first.leaseIds]) expect(text).not.toContain(id);
  });
});
