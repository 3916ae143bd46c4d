import { EventEmitter } from 'node:events';

import type { Redis } from '@rotor/redis-store';

import { connectOnce } from './redis.module';

/** Just enough of an ioredis client: its status, connect() and its events. */
function fakeRedis(status: string): Redis & { connects: number } {
  const emitter = new EventEmitter() as EventEmitter & { status: string; connects: number; connect: () => Promise<void> };
  emitter.status = status;
  emitter.connects = 0;
  emitter.connect = () => {
    emitter.connects++;
    if (emitter.status !== 'wait') return Promise.reject(new Error('Redis is already connecting/connected'));
    emitter.status = 'ready';
    return Promise.resolve();
  };
  return emitter as unknown as Redis & { connects: number };
}

describe('connectOnce', () => {
  it('connects a client nobody has used yet', async () => {
    const redis = fakeRedis('wait');
    await connectOnce(redis);
    expect(redis.connects).toBe(1);
  });

  it('waits for a connection a readiness probe already started, instead of failing the boot', async () => {
    const redis = fakeRedis('connecting');
    const connected = connectOnce(redis);
    setTimeout(() => redis.emit('ready'), 10);
    await expect(connected).resolves.toBeUndefined();
    expect(redis.connects).toBe(0);
  });

  it('fails the boot when that connection fails or ends instead, as connect() would', async () => {
    const failing = fakeRedis('connecting');
    const failed = connectOnce(failing);
    setTimeout(() => failing.emit('error', new Error('connect ECONNREFUSED')), 10);
    await expect(failed).rejects.toThrow('connect ECONNREFUSED');

    const ending = fakeRedis('connecting');
    const ended = connectOnce(ending);
    setTimeout(() => ending.emit('end'), 10);
    await expect(ended).rejects.toThrow('Connection is closed.');
  });
});
