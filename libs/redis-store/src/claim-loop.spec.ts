import { runClaimLoop, type ClaimLoopOptions } from './claim-loop';

/** A schedule in memory: `due` members are handed out in order, up to the limit asked for. */
function fakeSchedule(due: string[], failures = 0) {
  const claims: number[] = [];
  return {
    claims,
    claimDue: ({ limit }: { limit: number }) => {
      claims.push(limit);
      if (failures > 0) {
        failures--;
        return Promise.reject(new Error('READONLY You can not write against a read only replica.'));
      }
      return Promise.resolve(due.splice(0, limit));
    },
  };
}

const quietLogger = () => {
  const lines: { fields: Record<string, unknown>; message: string }[] = [];
  return { lines, error: (fields: Record<string, unknown>, message: string) => void lines.push({ fields, message }) };
};

const until = async (condition: () => boolean, ms = 2_000) => {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};

function start(options: Partial<ClaimLoopOptions> & Pick<ClaimLoopOptions, 'schedule' | 'handle'>) {
  const stopping = new AbortController();
  const logger = quietLogger();
  const loop = runClaimLoop({ what: 'test', pollMs: 20, concurrency: 2, visibilityMs: 1_000, logger, signal: stopping.signal, ...options });
  return { logger, stop: () => (stopping.abort(), loop) };
}

describe('runClaimLoop', () => {
  it('runs at most `concurrency` members at once and starts the next as soon as a slot frees', async () => {
    const schedule = fakeSchedule(['a', 'b', 'c', 'd', 'e']);
    let running = 0;
    let most = 0;
    const done: string[] = [];
    const loop = start({
      schedule,
      concurrency: 2,
      batch: 4,
      handle: async (member) => {
        most = Math.max(most, ++running);
        await new Promise((resolve) => setTimeout(resolve, member === 'a' ? 200 : 10));
        running--;
        done.push(member);
      },
    });
    await until(() => done.length === 5);
    await loop.stop();
    expect(most).toBe(2);
    // 'a' is slow: the others went through the second slot meanwhile.
    expect(done).toEqual(['b', 'c', 'd', 'e', 'a']);
    // Never more than `batch` held at once.
    expect(Math.max(...schedule.claims)).toBeLessThanOrEqual(4);
  });

  it('claims again at once while claims come back full, and pauses when nothing more is due', async () => {
    const schedule = fakeSchedule(Array.from({ length: 9 }, (_, i) => `m${i}`));
    const done: string[] = [];
    const loop = start({ schedule, concurrency: 3, pollMs: 10_000, handle: async (member) => void done.push(member) });
    await until(() => done.length === 9);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await loop.stop();
    // Three full claims, then one short (empty) one, then the poll pause (stopped early by the abort).
    expect(schedule.claims).toHaveLength(4);
  });

  it('logs a failed member and carries on with the others', async () => {
    const schedule = fakeSchedule(['bad', 'good']);
    const done: string[] = [];
    const loop = start({
      schedule,
      logFields: { kind: 'file' },
      describeError: (error) => (error as Error).name,
      handle: async (member) => {
        if (member === 'bad') throw new TypeError('could not write s3cr3t');
        done.push(member);
      },
    });
    await until(() => done.length === 1 && loop.logger.lines.length === 1);
    await loop.stop();
    expect(loop.logger.lines).toEqual([
      { fields: { kind: 'file', member: 'bad', err: 'TypeError' }, message: 'test failed; the claim will be retried' },
    ]);
  });

  it('backs off after failed claims: the pause doubles from the poll interval', async () => {
    const schedule = fakeSchedule([], 1_000);
    const loop = start({ schedule, pollMs: 20, handle: async () => undefined });
    await new Promise((resolve) => setTimeout(resolve, 400));
    await loop.stop();
    // Pauses of 20, 40, 80, 160 ms fit 4 or 5 claims in 400 ms; a fixed 20 ms pause would fit about 20.
    expect(schedule.claims.length).toBeGreaterThanOrEqual(3);
    expect(schedule.claims.length).toBeLessThanOrEqual(6);
    expect(loop.logger.lines[0]).toEqual({
      fields: { err: 'READONLY You can not write against a read only replica.' },
      message: 'could not claim due test work',
    });
  });

  it('at shutdown claims no more and returns once the members in hand are done', async () => {
    const schedule = fakeSchedule(['a', 'b', 'c', 'd']);
    const done: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const loop = start({
      schedule,
      concurrency: 1,
      batch: 3,
      handle: async (member) => {
        await gate;
        done.push(member);
      },
    });
    await until(() => schedule.claims.length === 1);
    const stopped = loop.stop();
    release();
    await stopped;
    expect({ done, claims: schedule.claims.length }).toEqual({ done: ['a', 'b', 'c'], claims: 1 });
  });

  it('tries a member again while its claim holds when a dependency is failing over, not after its visibility deadline', async () => {
    const schedule = fakeSchedule(['a']);
    let attempts = 0;
    const done: string[] = [];
    const loop = start({
      schedule,
      visibilityMs: 2_000,
      handle: (member) => {
        if (++attempts <= 3) return Promise.reject(new Error('Too many Cluster redirections. Last error: Error: Connection is closed.'));
        done.push(member);
        return Promise.resolve();
      },
    });
    await until(() => done.length === 1, 1_500);
    await loop.stop();
    expect({ attempts, logged: loop.logger.lines }).toEqual({ attempts: 4, logged: [] });
  });

  it('leaves a member that keeps failing over to its deadline, and other errors at once', async () => {
    const outage = fakeSchedule(['a']);
    const started = Date.now();
    let outageAttempts = 0;
    const first = start({
      schedule: outage,
      visibilityMs: 1_000,
      handle: () => (outageAttempts++, Promise.reject(new Error('CLUSTERDOWN The cluster is down'))),
    });
    await until(() => first.logger.lines.length === 1);
    await first.stop();
    // Retried with doubling pauses (100, 200 ms) until half the 1 s visibility had passed.
    expect(outageAttempts).toBeGreaterThanOrEqual(2);
    expect(Date.now() - started).toBeLessThan(1_000);

    let bugAttempts = 0;
    const second = start({ schedule: fakeSchedule(['b']), handle: () => (bugAttempts++, Promise.reject(new TypeError('a bug'))) });
    await until(() => second.logger.lines.length === 1);
    await second.stop();
    expect(bugAttempts).toBe(1);
  });
});
