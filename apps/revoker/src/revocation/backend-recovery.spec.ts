import type { BackendKind } from '@rotor/contracts';
import { BackendRegistry, type CredentialBackend } from '@rotor/credential-backends';
import { createLogger } from '@rotor/telemetry';

import type { RevokerConfig } from '../config';
import type { LeaseClock } from '../leases/lease-clock';

import { BackendRecovery } from './backend-recovery';

/** A backend whose ping answers as `up` says, or hangs when `up` is 'frozen'. */
const pingable = (kind: BackendKind, state: { up: boolean | 'frozen' }) =>
  ({
    kind,
    ping: () =>
      state.up === 'frozen' ? new Promise<void>(() => undefined) : state.up ? Promise.resolve() : Promise.reject(new Error('ECONNREFUSED')),
  }) as unknown as CredentialBackend;

/** The clock's waiter sets, in memory; `resumed` lists what was brought forward. */
const waitingClock = (waiters: Record<string, string[]>) => {
  const resumed: string[] = [];
  const clock = {
    hasOutageWaiters: async (backend: string) => (waiters[backend] ?? []).length > 0,
    resumeOutageWaiters: async (backend: string, limit: number) => {
      const taken = (waiters[backend] ?? []).splice(0, limit);
      resumed.push(...taken);
      return taken.length;
    },
  };
  return { clock: clock as unknown as LeaseClock, resumed };
};

const config = { dependencyTimeoutMs: 100, revocation: { outageCheckMs: 1_000 } } as RevokerConfig;

describe('BackendRecovery', () => {
  it('brings the waiters forward once their backend, seen down, answers again', async () => {
    const postgres = { up: false as boolean | 'frozen' };
    const { clock, resumed } = waitingClock({ postgres: ['lease-1', 'lease-2'] });
    const recovery = new BackendRecovery(
      clock,
      new BackendRegistry([pingable('postgres', postgres)]),
      config,
      createLogger({ service: 'test', level: 'silent' }),
    );

    expect(await recovery.checkOnce()).toBe(0);
    postgres.up = 'frozen';
    expect(await recovery.checkOnce()).toBe(0);
    postgres.up = true;
    expect(await recovery.checkOnce()).toBe(2);
    expect(resumed).toEqual(['lease-1', 'lease-2']);
  });

  it('leaves waiters on their backoff while their backend was never seen down (it refuses, it is not unreachable)', async () => {
    const { clock, resumed } = waitingClock({ postgres: ['lease-1'] });
    const recovery = new BackendRecovery(
      clock,
      new BackendRegistry([pingable('postgres', { up: true })]),
      config,
      createLogger({ service: 'test', level: 'silent' }),
    );

    expect(await recovery.checkOnce()).toBe(0);
    expect(await recovery.checkOnce()).toBe(0);
    expect(resumed).toEqual([]);
  });

  it('pings only backends with waiters, and takes more than one batch', async () => {
    const calls: string[] = [];
    const counted = (kind: BackendKind, state: { up: boolean }) =>
      ({
        kind,
        ping: async () => {
          calls.push(kind);
          if (!state.up) throw new Error('ETIMEDOUT');
        },
      }) as unknown as CredentialBackend;
    const redisAcl = { up: false };
    const many = Array.from({ length: 1_234 }, (_, i) => `lease-${i}`);
    const { clock, resumed } = waitingClock({ 'redis-acl': many });
    const registry = new BackendRegistry([counted('postgres', { up: true }), counted('redis-acl', redisAcl)]);
    const recovery = new BackendRecovery(clock, registry, config, createLogger({ service: 'test', level: 'silent' }));

    await recovery.checkOnce();
    redisAcl.up = true;
    expect(await recovery.checkOnce()).toBe(1_234);
    expect(resumed).toHaveLength(1_234);
    expect(calls).toEqual(['redis-acl', 'redis-acl']);
    // Nothing waits any more: no pings.
    await recovery.checkOnce();
    expect(calls).toHaveLength(2);
  });
});
