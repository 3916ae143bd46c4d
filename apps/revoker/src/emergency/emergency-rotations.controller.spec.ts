import type { Response } from 'express';

import { randomUUID } from 'node:crypto';

import type { Caller, OperatorCaller } from '@rotor/identity';
import type { Redis } from '@rotor/redis-store';
import {
  EmergencyRotationPageSchema,
  EmergencyRotationViewSchema,
  LeaseRevocationPageSchema,
  LeaseRevocationViewSchema,
} from '@rotor/rest-contract';
import type { Logger } from '@rotor/telemetry';

import { EmergencyCounters } from './emergency-counters';
import { EmergencyIndex } from './emergency-index';
import { EmergencyRotationService } from './emergency-rotation.service';
import type { EmergencyPreviewer } from './emergency-preview';
import { EmergencyRotationsController } from './emergency-rotations.controller';
import { EmergencyStore } from './emergency.store';
import { LeaseRevocationsController } from './lease-revocations.controller';

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
    // The schedule's scripts are defined at construction; these routes never run them.
    defineCommand: () => undefined,
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
    const controller = new EmergencyRotationsController(
      new EmergencyRotationService(store, new EmergencyIndex(redis as unknown as Redis), logger),
      {} as EmergencyPreviewer,
    );
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

describe('lease revocation routes and the run lists answer what rest-contract documents', () => {
  const wireUp = () => {
    const redis = memoryRedis();
    const store = new EmergencyStore(redis as unknown as Redis, new EmergencyCounters(redis as unknown as Redis));
    const scheduled: string[] = [];
    Object.assign(store, { schedule: { scheduleIfAbsent: async (id: string) => void scheduled.push(id) } });
    const logger = { warn: () => undefined } as unknown as Logger;
    const service = new EmergencyRotationService(store, new EmergencyIndex(redis as unknown as Redis), logger);
    const previewer = {} as EmergencyPreviewer;
    return {
      redis,
      store,
      scheduled,
      rotations: new EmergencyRotationsController(service, previewer),
      revocations: new LeaseRevocationsController(service, previewer),
      response: () => ({ status: jest.fn() }) as unknown as Response & { status: jest.Mock },
    };
  };
  const auditor: OperatorCaller = { kind: 'operator', subject: 'bob', groups: ['rotor:auditor'] };
  const workload: Caller = { kind: 'workload', workload: { namespace: 'shop', serviceAccount: 'api' } } as Caller;

  it('POST and GET /v1/lease-revocations: the run, its progress and who asked; one run per Idempotency-Key', async () => {
    const { redis, revocations, rotations, scheduled, response } = wireUp();
    const first = response();
    const started = wire(await revocations.start(sre, { selector: { role: 'orders-db' }, reason: 'INC-7' }, 'inc-7', first)) as {
      id: string;
      startedAt: string;
    };
    expect(first.status).toHaveBeenCalledWith(202);
    const expected = {
      id: started.id,
      state: 'running',
      phase: 'match-leases',
      reason: 'INC-7',
      selector: { role: 'orders-db' },
      requestedBy: 'alice',
      requestId: 'inc-7',
      matched: 0,
      revoked: 0,
      failed: 0,
      startedAt: started.startedAt,
    };
    expect(started).toEqual(expected);
    expect(LeaseRevocationViewSchema.parse(started)).toEqual(started);
    expect(scheduled).toEqual([started.id]);
    expect(redis.hashes.get(`revoker:emergency:{${started.id}}`)).toMatchObject({ scope: 'lease-revocation' });

    const again = response();
    expect(wire(await revocations.start(sre, { selector: { role: 'orders-db' }, reason: 'INC-7' }, 'inc-7', again))).toEqual(expected);
    expect(again.status).toHaveBeenCalledWith(200);
    // The same key for an emergency rotation names another run.
    const rotation = (await rotations.start(
      sre,
      { selector: { role: 'orders-db' }, mode: 'graceful', reason: 'INC-7' },
      'inc-7',
      response(),
    )) as {
      id: string;
    };
    expect(rotation.id).not.toBe(started.id);

    redis.sets.set(`revoker:emergency:{${started.id}}:leases`, new Set(['l1', 'l2', 'l3']));
    redis.sets.set(`revoker:emergency:{${started.id}}:revoked`, new Set(['l1', 'l2']));
    redis.sets.set(`revoker:emergency:{${started.id}}:failed`, new Set(['l3']));
    const read = wire(await revocations.get(auditor, started.id));
    expect(read).toEqual({ ...expected, matched: 3, revoked: 2, failed: 1 });
    expect(LeaseRevocationViewSchema.parse(read)).toEqual(read);

    // Each route knows only its own kind of run.
    await expect(rotations.get(sre, started.id)).rejects.toMatchObject({ code: 'unknown-emergency-rotation' });
    await expect(revocations.get(sre, rotation.id)).rejects.toMatchObject({ code: 'unknown-lease-revocation' });
    await expect(revocations.get(sre, 'nope')).rejects.toMatchObject({ code: 'invalid-lease-revocation-id' });
  });

  it('refuses a workload and an auditor on start and preview (403 missing-group) before reading the body', async () => {
    const { revocations, scheduled, response } = wireUp();
    for (const caller of [workload, auditor]) {
      await expect(revocations.start(caller, { selector: {} }, undefined, response())).rejects.toMatchObject({ code: 'missing-group' });
      await expect(revocations.preview(caller, { selector: { all: true } })).rejects.toMatchObject({ code: 'missing-group' });
    }
    await expect(revocations.get(workload, randomUUID())).rejects.toMatchObject({ code: 'missing-group' });
    await expect(revocations.list(workload, {})).rejects.toMatchObject({ code: 'missing-group' });
    expect(scheduled).toEqual([]);
  });

  it('refuses a selector naming a managed secret, and a reason left empty', async () => {
    const { revocations, response } = wireUp();
    await expect(revocations.start(sre, { selector: { secret: 'k' }, reason: 'x' }, undefined, response())).rejects.toMatchObject({
      code: 'invalid-body',
    });
    await expect(revocations.start(sre, { selector: { all: true }, reason: ' ' }, undefined, response())).rejects.toMatchObject({
      code: 'invalid-body',
    });
  });

  it('GET /v1/lease-revocations and /v1/emergency-rotations: newest first, paged with after, filtered by state', async () => {
    const { redis, store, revocations, rotations, response } = wireUp();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      jest.useFakeTimers({ now: Date.parse('2026-12-01T10:00:00Z') + i * 60_000, doNotFake: ['nextTick', 'setImmediate'] });
      const view = (await revocations.start(sre, { selector: { namespace: `ns-${i}` }, reason: `r${i}` }, undefined, response())) as {
        id: string;
      };
      ids.push(view.id);
    }
    jest.useRealTimers();
    await rotations.start(sre, { selector: { all: true }, mode: 'immediate', reason: 'other kind' }, undefined, response());
    await store.update(ids[1]!, { state: 'completed', phase: 'done' });
    await store.update(ids[3]!, { state: 'completed', phase: 'done' });

    const first = wire(await revocations.list(auditor, { limit: '2' })) as { items: { id: string }[]; next?: string };
    expect(LeaseRevocationPageSchema.parse(first)).toEqual(first);
    expect(first.items.map((item) => item.id)).toEqual([ids[4], ids[3]]);
    expect(first.next).toBe(ids[3]);
    const second = (await revocations.list(sre, { limit: '2', after: first.next })) as { items: { id: string }[]; next?: string };
    expect(second.items.map((item) => item.id)).toEqual([ids[2], ids[1]]);
    const third = (await revocations.list(sre, { limit: '2', after: second.next })) as { items: { id: string }[]; next?: string };
    expect(third).toEqual({ items: [expect.objectContaining({ id: ids[0] })] });

    const completed = (await revocations.list(sre, { state: 'completed' })) as { items: { id: string; state: string }[] };
    expect(completed.items.map((item) => item.id)).toEqual([ids[3], ids[1]]);
    const running = (await revocations.list(sre, { state: 'running', limit: '50' })) as { items: { id: string }[] };
    expect(running.items.map((item) => item.id)).toEqual([ids[4], ids[2], ids[0]]);

    const emergencies = wire(await rotations.list(auditor, {})) as { items: { reason: string }[] };
    expect(EmergencyRotationPageSchema.parse(emergencies)).toEqual(emergencies);
    expect(emergencies.items.map((item) => item.reason)).toEqual(['other kind']);

    // A run whose record expired drops out of the list, and out of the index.
    redis.hashes.delete(`revoker:emergency:{${ids[2]}}`);
    const after = (await revocations.list(sre, {})) as { items: { id: string }[] };
    expect(after.items.map((item) => item.id)).toEqual([ids[4], ids[3], ids[1], ids[0]]);
    expect(redis.zsets.get('revoker:emergency-runs:{lease-revocation}')?.has(ids[2]!)).toBe(false);

    await expect(revocations.list(sre, { limit: '501' })).rejects.toMatchObject({ code: 'invalid-query' });
    await expect(revocations.list(sre, { state: 'paused' })).rejects.toMatchObject({ code: 'invalid-query' });
    await expect(revocations.list(sre, { after: ids[2] })).rejects.toMatchObject({ code: 'unknown-cursor' });
  });
});
