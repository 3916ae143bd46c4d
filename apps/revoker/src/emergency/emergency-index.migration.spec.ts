import type { Redis } from '@rotor/redis-store';
import type { Logger } from '@rotor/telemetry';

import { EmergencyIndex, runIndexKey } from './emergency-index';
import { EmergencyIndexMigration } from './emergency-index.migration';

/** Hashes and sorted sets in maps, with the SCAN, HMGET and sorted-set calls the migration makes. */
function memoryRedis(hashes: Record<string, Record<string, string>>) {
  const zsets = new Map<string, Map<string, number>>();
  const zset = (key: string) => zsets.get(key) ?? zsets.set(key, new Map()).get(key)!;
  const glob = (pattern: string) => new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
  return {
    zsets,
    scan: async (_cursor: string, _match: 'MATCH', pattern: string) => ['0', Object.keys(hashes).filter((key) => glob(pattern).test(key))],
    hmget: async (key: string, ...fields: string[]) => fields.map((field) => hashes[key]?.[field] ?? null),
    exists: async (key: string) => (hashes[key] ? 1 : 0),
    zscore: async (key: string, member: string) => zsets.get(key)?.get(member)?.toString() ?? null,
    zadd: async (key: string, _nx: 'NX', score: number, member: string) => (zset(key).has(member) ? 0 : (zset(key).set(member, score), 1)),
    zrem: async (key: string, ...members: string[]) => members.filter((member) => zsets.get(key)?.delete(member)).length,
    zrange: async (key: string, start: number, stop: number) =>
      [...zset(key).entries()]
        .sort(([, a], [, b]) => a - b)
        .map(([member]) => member)
        .slice(start, stop + 1),
  };
}

describe('EmergencyIndexMigration', () => {
  const record = (id: string, startedAt: string, scope?: string) => ({ id, startedAt, state: 'completed', ...(scope ? { scope } : {}) });

  it('lists records written before the lists (no scope: rotations) and lease revocations missing their entry, once', async () => {
    const redis = memoryRedis({
      'revoker:emergency:{old}': record('old', '2026-12-01T10:00:00.000Z'),
      'revoker:emergency:{old}:leases': { not: 'a record' },
      'revoker:emergency:{lr}': record('lr', '2026-12-02T10:00:00.000Z', 'lease-revocation'),
      'revoker:emergency-versions:{secret}': { 3: 'old' },
    });
    const migration = new EmergencyIndexMigration(redis as unknown as Redis, new EmergencyIndex(redis as unknown as Redis), {
      info: () => undefined,
    } as unknown as Logger);
    expect(await migration.run()).toEqual({ indexed: 2, pruned: 0 });
    expect([...redis.zsets.get(runIndexKey('rotation'))!]).toEqual([['old', Date.parse('2026-12-01T10:00:00.000Z')]]);
    expect([...redis.zsets.get(runIndexKey('lease-revocation'))!]).toEqual([['lr', Date.parse('2026-12-02T10:00:00.000Z')]]);
    expect(await migration.run()).toEqual({ indexed: 0, pruned: 0 });
  });

  it('drops entries whose record has expired', async () => {
    const redis = memoryRedis({ 'revoker:emergency:{kept}': record('kept', '2026-12-01T10:00:00.000Z') });
    await redis.zadd(runIndexKey('rotation'), 'NX', 1, 'kept');
    await redis.zadd(runIndexKey('rotation'), 'NX', 2, 'expired');
    await redis.zadd(runIndexKey('lease-revocation'), 'NX', 3, 'expired-too');
    const migration = new EmergencyIndexMigration(redis as unknown as Redis, new EmergencyIndex(redis as unknown as Redis), {
      info: () => undefined,
    } as unknown as Logger);
    expect(await migration.run()).toEqual({ indexed: 0, pruned: 2 });
    expect([...redis.zsets.get(runIndexKey('rotation'))!.keys()]).toEqual(['kept']);
    expect(redis.zsets.get(runIndexKey('lease-revocation'))!.size).toBe(0);
  });
});
