/**
 * execTransaction against a real Redis: the replies of a MULTI in order, and an error (never a
 * reply read as undefined) when a command inside failed or the transaction was aborted.
 */
import type Redis from 'ioredis';

import { execTransaction } from '@rotor/redis-store';

import { PrivateRedis } from '../support/private-redis';
import { redisFromEnv } from '../../tools/security/env-clients';

describe('execTransaction', () => {
  const server = new PrivateRedis(19437);
  let redis: Redis;
  beforeAll(async () => {
    await server.start();
    redis = redisFromEnv(server.url);
  });
  afterAll(async () => {
    redis.disconnect();
    await server.kill();
  });

  it('returns each command’s reply in order', async () => {
    expect(await execTransaction(redis.multi().set('a', '1').get('a').exists('a', 'missing'))).toEqual(['OK', '1', 1]);
    expect(
      await execTransaction(
        redis.multi([
          ['hset', 'h', 'f', 'v'],
          ['hgetall', 'h'],
        ]),
      ),
    ).toEqual([1, { f: 'v' }]);
  });

  it('throws the error of a command that failed inside the transaction', async () => {
    await redis.set('s', 'string');
    await expect(execTransaction(redis.multi().set('b', '2').hget('s', 'field'))).rejects.toThrow(/WRONGTYPE/);
  });

  it('throws when the transaction was aborted (a watched key changed)', async () => {
    const watcher = redis.duplicate();
    await watcher.watch('w');
    await redis.set('w', 'changed');
    await expect(execTransaction(watcher.multi().set('w', 'mine'))).rejects.toThrow('Redis transaction aborted');
    expect(await redis.get('w')).toBe('changed');
    watcher.disconnect();
  });
});
