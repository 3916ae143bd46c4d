import { withTimeout } from './timeout';

describe('withTimeout', () => {
  it('answers what the work answers when it settles in time', async () => {
    await expect(withTimeout(Promise.resolve('pong'), 1_000)).resolves.toBe('pong');
    await expect(withTimeout(Promise.reject(new Error('refused')), 1_000)).rejects.toThrow('refused');
  });

  it('rejects with "no answer within" once the time is up', async () => {
    const never = new Promise<never>(() => undefined);
    await expect(withTimeout(never, 20)).rejects.toThrow('no answer within 20 ms');
  });
});
