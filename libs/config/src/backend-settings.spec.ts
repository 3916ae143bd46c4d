import { backendSettings, ConfigError } from './env';
import { redisServerIdentity, sameRedisServer } from './redis-server-identity';

const base = {
  DATABASE_URL: 'postgres://rotor:x@127.0.0.1:5432/rotor',
  REDIS_URL: 'redis://127.0.0.1:6379',
  ROTOR_INSECURE_LOCAL: true,
};

const problemsOf = (fn: () => unknown): string[] => {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
};

describe('redis-acl backend settings', () => {
  it('refuses to start without ROTOR_REDIS_ACL_URL instead of minting users on rotor’s own Redis', () => {
    expect(problemsOf(() => backendSettings(base))).toEqual([expect.stringMatching(/^ROTOR_REDIS_ACL_URL: is required/)]);
  });

  it.each([
    'redis://127.0.0.1:6379',
    'redis://127.0.0.1',
    'redis://localhost:6379/3',
    'redis://LOCALHOST:6379',
    'redis://127.1:6379',
    'redis://0x7f.0.0.1:6379',
    'redis://[::1]:6379',
    'rediss://user:pw@127.0.0.2:6379/1',
  ])('refuses %s: the same server as REDIS_URL in another spelling or database', (aclUrl) => {
    expect(problemsOf(() => backendSettings({ ...base, ROTOR_REDIS_ACL_URL: aclUrl }))).toEqual([
      expect.stringMatching(/^ROTOR_REDIS_ACL_URL: names the same Redis server as REDIS_URL \(loopback:6379\)/),
    ]);
  });

  it('refuses a node of the Redis Cluster holding rotor’s keys (REDIS_CLUSTER_NODES)', () => {
    const cluster = { ...base, REDIS_CLUSTER_NODES: ['127.0.0.1:7001', '127.0.0.1:7002'] };
    expect(problemsOf(() => backendSettings({ ...cluster, ROTOR_REDIS_ACL_URL: 'rediss://localhost:7002' }))).toEqual([
      expect.stringMatching(/^ROTOR_REDIS_ACL_URL: names a node of REDIS_CLUSTER_NODES \(loopback:7002\)/),
    ]);
    expect(backendSettings({ ...cluster, ROTOR_REDIS_ACL_URL: 'redis://127.0.0.1:6380' }).redisAclUrl).toBe('redis://127.0.0.1:6380');
  });

  it('accepts a Redis on another port or host', () => {
    expect(backendSettings({ ...base, ROTOR_REDIS_ACL_URL: 'redis://127.0.0.1:6380' }).redisAclUrl).toBe('redis://127.0.0.1:6380');
    expect(backendSettings({ ...base, ROTOR_REDIS_ACL_URL: 'redis://redis-acl.example:6379' }).redisAclUrl).toBe(
      'redis://redis-acl.example:6379',
    );
  });

  it('names the ACL URL, not REDIS_URL, when the secure stack lacks TLS there', () => {
    const problems = problemsOf(() =>
      backendSettings({
        ...base,
        DATABASE_URL: `${base.DATABASE_URL}?sslmode=verify-full`,
        ROTOR_INSECURE_LOCAL: false,
        ROTOR_REDIS_ACL_URL: 'redis://127.0.0.1:6380',
        ROTOR_REDIS_ACL_USERNAME: 'a',
      }),
    );
    expect(problems[0]).toMatch(/^ROTOR_REDIS_ACL_URL: must be a rediss:\/\/ URL/);
  });
});

describe('redisServerIdentity', () => {
  it('tells hosts apart and ignores case and the trailing dot of a name', () => {
    expect(redisServerIdentity('redis://Redis.Example.:6379/2')).toBe('redis.example:6379');
    expect(sameRedisServer('redis://a.example:6379', 'rediss://a.example')).toBe(true);
    expect(sameRedisServer('redis://a.example:6379', 'redis://b.example:6379')).toBe(false);
  });
});
