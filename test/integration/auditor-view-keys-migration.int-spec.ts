import { LEGACY_VIEW_PREFIX, ViewKeys } from '@rotor/audit-chain';
import { allKeys, createRedis, type Redis } from '@rotor/redis-store';
import type { Logger } from '@rotor/telemetry';

import { ViewKeysMigration } from '../../apps/auditor/src/audit/view-keys.migration';
import { principalEnv } from '../support/principals';
import { PrivateRedis } from '../support/private-redis';
import { redisLinkFromEnv } from '../../tools/security/env-clients';

/**
 * Upgrade: the auditor's state written in the layout before the hash tag (`auditor:chain:…`) is
 * moved to `{auditor:views}:…` at start-up, values and TTLs kept, as the auditor's own Redis user.
 * A private Redis: the move scans every `auditor:` key of the server.
 */
describe('auditor: upgrading its Redis state to the hash-tagged layout', () => {
  const server = new PrivateRedis(19481);
  let redis: Redis;
  const logger = { info: () => undefined } as unknown as Logger;

  beforeAll(async () => {
    await server.start();
    redis = createRedis(server.url, {
      connectionName: 'rotor-test-auditor-migration',
      security: redisLinkFromEnv(server.url, { ...process.env, ...principalEnv('auditor') }),
    });
  }, 30_000);

  afterAll(async () => {
    redis?.disconnect();
    await server.kill();
  });

  it('moves chain heads, records, indexes, seen marks and the marker, keeping TTLs; a second run changes nothing', async () => {
    const legacy = (key: string) => `${LEGACY_VIEW_PREFIX}${key}`;
    await redis.hset(legacy('chain:rotor.lease.issued.v1:0'), { seq: '41', hash: 'ab'.repeat(32), sourceOffset: '41' });
    await redis.set(legacy('record:rotor.lease.issued.v1:0:41'), '{"seq":41}');
    await redis.set(legacy('seen:event-1'), '1', 'EX', 3_600);
    await redis.zadd(legacy('idx:lease:lease-1'), 1_000, 'rotor.lease.issued.v1:0:41');
    await redis.hset(legacy('checkpoint'), { number: '7' });
    await redis.set(legacy('state'), '2026-01-01T00:00:00.000Z');
    // Written by the upgraded auditor already (a replica that started first): kept, the old one dropped.
    await redis.set(ViewKeys.record('rotor.lease.issued.v1:0:40'), '{"seq":40,"new":true}');
    await redis.set(legacy('record:rotor.lease.issued.v1:0:40'), '{"seq":40}');

    const migration = new ViewKeysMigration(redis, logger);
    expect(await migration.run()).toEqual({ moved: 6, superseded: 1 });

    expect(await redis.hgetall(ViewKeys.head('rotor.lease.issued.v1:0'))).toEqual({ seq: '41', hash: 'ab'.repeat(32), sourceOffset: '41' });
    expect(await redis.get(ViewKeys.record('rotor.lease.issued.v1:0:41'))).toBe('{"seq":41}');
    expect(await redis.get(ViewKeys.record('rotor.lease.issued.v1:0:40'))).toBe('{"seq":40,"new":true}');
    expect(await redis.ttl(ViewKeys.seen('event-1'))).toBeGreaterThan(3_500);
    expect(await redis.zrange(ViewKeys.eventIndex('lease', 'lease-1'), 0, -1)).toEqual(['rotor.lease.issued.v1:0:41']);
    expect(await redis.hget(ViewKeys.checkpoint, 'number')).toBe('7');
    expect(await redis.get(ViewKeys.marker)).toBe('2026-01-01T00:00:00.000Z');
    expect(await allKeys(redis, `${LEGACY_VIEW_PREFIX}*`)).toEqual([]);

    expect(await migration.run()).toEqual({ moved: 0, superseded: 0 });
  });
});
