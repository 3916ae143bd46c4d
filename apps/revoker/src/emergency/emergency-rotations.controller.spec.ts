import type { Response } from 'express';

import type { OperatorCaller } from '@rotor/identity';
import type { Redis } from '@rotor/redis-store';
import { EmergencyRotationViewSchema } from '@rotor/rest-contract';
import type { Logger } from '@rotor/telemetry';

import { EmergencyCounters } from './emergency-counters';
import { EmergencyIndex } from './emergency-index';
import { EmergencyRotationService } from './emergency-rotation.service';
import type { EmergencyPreviewer } from './emergency-preview';
import { EmergencyRotationsController } from './emergency-rotations.controller';
import { EmergencyStore } from './emergency.store';

/** The few Redis calls the record, its snapshot sets, the counters and the run lists make, kept in maps. */
function memoryRedis() {
  const hashes = new Map<string, Record<string, string>>();
  const sets = new Map<string, Set<string>>();
  const zsets = new Map<string, Map<string, number>>();
  const scard = (key: string) => sets.get(key)?.size ?? 0;
  /** Newest first, ties by member descending, as ZREVRANGE orders them. */
  const reversed = (key: string) =>
    [...(zsets.get(key) ?? new Map<string, number>()).entries()]
      .sort(([a, x], [b, y]) => y - x || (b > a ? 1 : b < a ? -1 : 0))
      .map(([member]) => member);
  const redis = {
    hashes,
    sets,
    zsets,
    zadd: async (key: string, _nx: 'NX', score: number, member: string) => {
      const zset = zsets.get(key) ?? new Map<string, number>();
      zsets.set(key, zset);
      if (zset.has(member)) return 0;
      zset.set(member, score);
      return 1;
    },
    zrem: async (key: string, ...members: string[]) => members.filter((member) => zsets.get(key)?.delete(member)).length,
    zrevrank: async (key: string, member: string) => {
      const rank = reversed(key).indexOf(member);
      return rank < 0 ? null : rank;
    },
    zrevrange: async (key: string, start: number, stop: number) => reversed(key).slice(start, stop + 1),
    hset: async (key: string, fields: Record<string, string>) => {
      hashes.set(key, { ...hashes.get(key), ...fields });
      return 0;
    },
    // The store's only script: create the record unless it exists.
    eval: async (_script: string, _keys: number, key: string, ...fields: string[]) => {
      if (hashes.has(key)) return 0;
      const record: Record<string, string> = {};
      for (let i = 0; i < fields.length; i += 2) record[fields[i]!] = fields[i + 1]!;
      hashes.set(key, record);
      return 1;
    },
    hgetall: async (key: string) => ({ ...hashes.get(key) }),
    scard: async (key: string) => scard(key),
    multi: () => {
      const results: [null, number][] = [];
      // ioredis counts MULTI in a transaction's length until EXEC is queued.
      const tx = {
        scard: (key: string) => (results.push([null, scard(key)]), tx),
        get length() {
          return results.length + 1;
        },
        exec: async () => results,
      };
      return tx;
    },
  };
  return redis;
}

const sre: OperatorCaller = { kind: 'operator', subject: 'alice', groups: ['rotor:sre'] };
const wire = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

describe('emergency rotation routes answer what rest-contract documents', () => {
  it('POST and GET /v1/emergency-rotations: the rotation and its progress', async () => {
    const redis = memoryRedis();
    const store = new EmergencyStore(redis as unknown as Redis, new EmergencyCounters(redis as unknown as Redis));
    Object.assign(store, { schedule: { scheduleIfAbsent: async () => undefined } });
    const logger = { warn: () => undefined } as unknown as Logger;
    const controller = new EmergencyRotationsController(new EmergencyRotationService(store, new EmergencyIndex(redis as unknown as Redis), logger), {} as EmergencyPreviewer);
    const response = { status: jest.fn() } as unknown as Response;

    const started = wire(
      await controller.start(
        sre,
        { selector: { namespace: 'shop' }, mode: 'graceful', reason: 'key leaked', requestId: 'inc-42' },
        undefined,
        response,
      ),
    ) as { id: string; startedAt: string };
    expect(response.status).toHaveBeenCalledWith(202);
    const expected = {
      id: started.id,
      state: 'running',
      phase: 'match-leases',
      mode: 'graceful',
      reason: 'key leaked',
      selector: { namespace: 'shop' },
      requestedBy: 'alice',
      requestId: 'inc-42',
      matched: { leases: 0, secrets: 0 },
      revoked: 0,
      failed: 0,
      rotated: 0,
      delivered: 0,
      retired: 0,
      quotaLimited: false,
      startedAt: started.startedAt,
    };
    expect(started).toEqual(expected);
    expect(EmergencyRotationViewSchema.parse(started)).toEqual(started);

    redis.sets.set(`revoker:emergency:{${started.id}}:leases`, new Set(['l1', 'l2', 'l3']));
    redis.sets.set(`revoker:emergency:{${started.id}}:secrets`, new Set(['s1']));
    redis.sets.set(`revoker:emergency:{${started.id}}:revoked`, new Set(['l1', 'l2']));
    redis.sets.set(`revoker:emergency:{${started.id}}:failed`, new Set(['l3']));
    redis.sets.set(`revoker:emergency:{${started.id}}:rotated`, new Set(['s1']));
    const read = wire(await controller.get(sre, started.id));
    expect(read).toEqual({ ...expected, matched: { leases: 3, secrets: 1 }, revoked: 2, failed: 1, rotated: 1 });
    expect(EmergencyRotationViewSchema.parse(read)).toEqual(read);
  });
});
