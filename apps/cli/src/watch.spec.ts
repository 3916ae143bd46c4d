import { ApiError, UnavailableError } from './exit-codes';
import { watchUntilFinished } from './watch';

describe('--watch', () => {
  it('survives a service that stops answering for a while, saying so, and ends when the work does', async () => {
    const readings: (number | Error)[] = [
      1,
      new UnavailableError('cannot reach https://127.0.0.1:8081: connect ECONNREFUSED', true),
      new ApiError(503, {}),
      2,
      3,
    ];
    const shown: number[] = [];
    const notes: string[] = [];
    const last = await watchUntilFinished(0, {
      read: async () => {
        const next = readings.shift();
        if (next instanceof Error) throw next;
        return next!;
      },
      finished: (value) => value === 3,
      show: (value) => shown.push(value),
      note: (line) => notes.push(line),
      intervalMs: 1,
    });
    expect(last).toBe(3);
    expect(shown).toEqual([0, 1, 2, 3]);
    expect(notes).toEqual([
      'cannot reach https://127.0.0.1:8081: connect ECONNREFUSED; still watching (the work goes on without the CLI)',
      'answering again; still watching',
    ]);
  });

  it('gives up after its patience, and at once on an answer a retry cannot change', async () => {
    const down = new UnavailableError('cannot reach', true);
    await expect(
      watchUntilFinished(0, {
        read: () => Promise.reject(down),
        finished: () => false,
        show: () => undefined,
        note: () => undefined,
        intervalMs: 5,
        patienceMs: 30,
      }),
    ).rejects.toBe(down);
    const gone = new ApiError(404, { code: 'unknown-emergency-rotation' });
    let reads = 0;
    await expect(
      watchUntilFinished(0, {
        read: () => (reads++, Promise.reject(gone)),
        finished: () => false,
        show: () => undefined,
        note: () => undefined,
        intervalMs: 1,
      }),
    ).rejects.toBe(gone);
    expect(reads).toBe(1);
  });
});
