import type { BackendKind } from '@rotor/contracts';
import { BackendRegistry, type CredentialBackend } from '@rotor/credential-backends';
import { ReadinessRegistry, type ReadinessReport } from '@rotor/service-kit';
import { createLogger } from '@rotor/telemetry';

import type { LeaseClock } from '../leases/lease-clock';

import { BackendRecovery } from './backend-recovery';

/** A backend with a readiness check, as the registry names it: by its kind. */
const pingable = (kind: BackendKind) => ({ kind, ping: () => Promise.resolve() }) as unknown as CredentialBackend;

/** The clock's waiter sets, in memory; `resumed` lists what was brought forward. */
const waitingClock = (waiters: Record<string, string[]>) => {
  const resumed: string[] = [];
  const clock = {
    resumeOutageWaiters: async (backend: string, limit: number) => {
      const taken = (waiters[backend] ?? []).splice(0, limit);
      resumed.push(...taken);
      return taken.length;
    },
  };
  return { clock: clock as unknown as LeaseClock, resumed };
};

/** A readiness report with the given checks up or down. */
const report = (checks: Record<string, boolean>): ReadinessReport => ({
  ready: Object.values(checks).every(Boolean),
  checks: Object.fromEntries(Object.entries(checks).map(([name, ok]) => [name, { ok, ms: 1 }])),
});

const recovery = (clock: LeaseClock, kinds: BackendKind[]) =>
  new BackendRecovery(
    clock,
    new BackendRegistry(kinds.map(pingable)),
    new ReadinessRegistry(),
    createLogger({ service: 'test', level: 'silent' }),
  );

describe('BackendRecovery', () => {
  it('brings the waiters forward once their backend, seen down, answers again', async () => {
    const { clock, resumed } = waitingClock({ postgres: ['lease-1', 'lease-2'] });
    const watcher = recovery(clock, ['postgres']);

    expect(await watcher.follow(report({ redis: true, postgres: false }))).toBe(0);
    expect(await watcher.follow(report({ redis: true, postgres: false }))).toBe(0);
    expect(await watcher.follow(report({ redis: true, postgres: true }))).toBe(2);
    expect(resumed).toEqual(['lease-1', 'lease-2']);
  });

  it('leaves waiters on their backoff while their backend was never seen down (it refuses, it is not unreachable)', async () => {
    const { clock, resumed } = waitingClock({ postgres: ['lease-1'] });
    const watcher = recovery(clock, ['postgres']);

    expect(await watcher.follow(report({ postgres: true }))).toBe(0);
    expect(await watcher.follow(report({ postgres: true }))).toBe(0);
    expect(resumed).toEqual([]);
  });

  it('takes more than one batch, for the backend that came back only', async () => {
    const many = Array.from({ length: 1_234 }, (_, i) => `lease-${i}`);
    const { clock, resumed } = waitingClock({ 'redis-acl': many, postgres: ['pg-lease'] });
    const watcher = recovery(clock, ['postgres', 'redis-acl']);

    await watcher.follow(report({ postgres: false, 'redis-acl': false }));
    expect(await watcher.follow(report({ postgres: false, 'redis-acl': true }))).toBe(1_234);
    expect(resumed).toHaveLength(1_234);
    expect(resumed).not.toContain('pg-lease');
  });

  it('follows the reports the readiness registry tells, once the module is up', async () => {
    const { clock, resumed } = waitingClock({ postgres: ['lease-1'] });
    const readiness = new ReadinessRegistry();
    let up = false;
    readiness.register({
      name: 'postgres',
      check: async () => {
        if (!up) throw new Error('ECONNREFUSED');
      },
    });
    const watcher = new BackendRecovery(
      clock,
      new BackendRegistry([pingable('postgres')]),
      readiness,
      createLogger({ service: 'test', level: 'silent' }),
    );
    watcher.onModuleInit();

    await readiness.report();
    up = true;
    await readiness.report();
    await new Promise((resolve) => setImmediate(resolve));
    expect(resumed).toEqual(['lease-1']);
  });
});
