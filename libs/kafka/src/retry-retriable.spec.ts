import { retryRetriable } from './retry-retriable';

const retriable = () => Object.assign(new Error('This server is not the leader for that topic-partition'), { retriable: true });

describe('retryRetriable', () => {
  it('retries errors the broker marks retriable until the call succeeds', async () => {
    let calls = 0;
    const result = await retryRetriable(
      async () => {
        calls++;
        if (calls < 3) throw retriable();
        return 'offsets';
      },
      { attempts: 5, pauseMs: 1 },
    );
    expect({ result, calls }).toEqual({ result: 'offsets', calls: 3 });
  });

  it('gives up after the last attempt, and never retries other errors', async () => {
    let calls = 0;
    await expect(
      retryRetriable(
        async () => {
          calls++;
          throw retriable();
        },
        { attempts: 3, pauseMs: 1 },
      ),
    ).rejects.toThrow('not the leader');
    expect(calls).toBe(3);

    calls = 0;
    await expect(
      retryRetriable(
        async () => {
          calls++;
          throw new Error('unknown topic');
        },
        { attempts: 3, pauseMs: 1 },
      ),
    ).rejects.toThrow('unknown topic');
    expect(calls).toBe(1);
  });

  it('stops retrying once `unless` says the call already had an effect', async () => {
    let calls = 0;
    await expect(
      retryRetriable(
        async () => {
          calls++;
          throw retriable();
        },
        { attempts: 10, pauseMs: 1, unless: () => calls >= 2 },
      ),
    ).rejects.toThrow('not the leader');
    expect(calls).toBe(2);
  });
});
