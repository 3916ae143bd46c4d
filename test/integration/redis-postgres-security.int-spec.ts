/**
 * Redis and PostgreSQL as the secured local stack runs them (DESIGN §14): Redis over TLS
 * with one ACL user per service limited to its own keys (docs/access-policy.md), PostgreSQL
 * over TLS with scram-sha-256 and nothing else. Each refusal has its allowed twin.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';

import Redis, { type RedisOptions } from 'ioredis';
import { Client } from 'pg';

import { redisFromEnv } from '../../tools/security/env-clients';
import { principalEnv } from '../support/principals';
import { PrivateRedis } from '../support/private-redis';
import { requiredEnv } from '../support/services-env';

const REDIS_URL = requiredEnv('REDIS_URL');
const ca = readFileSync(requiredEnv('REDIS_CA_FILE'), 'utf8');

/** A Redis connection as one service's own user, exactly as the service connects. */
const asService = (name: 'issuer' | 'revoker' | 'distributor' | 'auditor') => {
  const env = principalEnv(name);
  return redisFromEnv(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null }, { ...process.env, ...env });
};

const attempt = async (work: () => Promise<unknown>): Promise<string> => {
  try {
    await work();
    return 'ok';
  } catch (error) {
    return (error as Error).message;
  }
};

describe('Redis: TLS and one ACL user per service', () => {
  const schedule = `{revoker:schedule:lease-expiry:s${randomUUID().slice(0, 4)}}:due`;
  let revoker: Redis;
  let distributor: Redis;

  beforeAll(async () => {
    revoker = asService('revoker');
    distributor = asService('distributor');
    await Promise.all([revoker.connect(), distributor.connect()]);
  });

  afterAll(async () => {
    await revoker.del(schedule).catch(() => undefined);
    revoker.disconnect();
    distributor.disconnect();
  });

  it('lets the revoker use its hash-tagged schedule, and refuses the distributor reading or deleting it', async () => {
    await revoker.zadd(schedule, Date.now(), 'lease-1');
    expect(await revoker.zcard(schedule)).toBe(1);

    expect(await attempt(() => distributor.zrange(schedule, 0, -1))).toMatch(/^NOPERM/);
    expect(await attempt(() => distributor.del(schedule))).toMatch(/^NOPERM/);
    expect(await attempt(() => distributor.eval("return redis.call('DEL', KEYS[1])", 1, schedule))).toMatch(/NOPERM|No permissions/i);
    expect(await revoker.zcard(schedule)).toBe(1); // untouched

    expect(await attempt(() => distributor.set(`distributor:test:${randomUUID()}`, '1', 'EX', 5))).toBe('ok');
  });

  it('shares the GSM quota buckets on purpose, and nothing else', async () => {
    const bucket = `rotor:quota:gsm:test-${randomUUID().slice(0, 6)}`;
    expect(await attempt(() => distributor.set(bucket, '1', 'EX', 5))).toBe('ok');
    expect(await attempt(() => revoker.get(bucket))).toBe('ok');
    const auditor = asService('auditor');
    await auditor.connect();
    try {
      expect(await attempt(() => auditor.get(bucket))).toMatch(/^NOPERM/);
    } finally {
      auditor.disconnect();
    }
  });

  it('refuses admin commands to a service user', async () => {
    expect(await attempt(() => distributor.keys('*'))).toMatch(/^NOPERM/);
    expect(await attempt(() => distributor.flushall())).toMatch(/^NOPERM/);
    expect(await attempt(() => distributor.config('GET', 'requirepass'))).toMatch(/^NOPERM/);
    expect(await attempt(() => distributor.call('ACL', 'LIST'))).toMatch(/^NOPERM/);
  });

  it('refuses a client without a password, with a wrong one, or speaking plaintext', async () => {
    const url = new URL(REDIS_URL);
    const refused = async (options: RedisOptions, target = REDIS_URL) => {
      const client = new Redis(target, {
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
        enableReadyCheck: false,
        ...options,
      });
      // A refused AUTH ends the connection; the reason arrives as an 'error' event first.
      let first: string | undefined;
      client.on('error', (error: Error) => (first ??= error.message));
      try {
        const outcome = await attempt(async () => {
          await client.connect();
          await client.get('distributor:anything');
        });
        return outcome === 'ok' ? outcome : `${first ?? ''} ${outcome}`;
      } finally {
        client.disconnect();
      }
    };
    expect(await refused({ tls: { ca } })).toMatch(/NOAUTH|WRONGPASS|NOPERM/); // the default user is off
    expect(await refused({ tls: { ca }, username: 'distributor', password: 'not-the-password' })).toMatch(/WRONGPASS/);
    expect(await refused({ username: 'distributor', password: 'whatever' }, `redis://${url.host}`)).not.toBe('ok');
    expect(await refused({ tls: { ca: [] as string[] }, username: 'distributor', password: 'whatever' })).toMatch(
      /certificate|self[- ]signed|unable/i,
    );
  });
});

describe('Redis with the ACL file: durable across a restart', () => {
  // Redis 7.0 replays MULTI/EXEC from the append-only file as the default user; with that user
  // `off -@all` every transaction was dropped on restart (the auditor lost confirmed runs).
  it("keeps a service user's MULTI/EXEC writes after the server restarts from its AOF", async () => {
    const server = new PrivateRedis(19433, { appendonly: true });
    await server.start();
    const env = { ...process.env, ...principalEnv('auditor') };
    const key = `auditor:test:durable:${randomUUID()}`;
    const write = redisFromEnv(server.url, { maxRetriesPerRequest: 1 }, env);
    try {
      await write.multi().hset(key, 'seq', '7').set(`${key}:head`, 'abc').exec();
      await write.incr(`${key}:plain`);
    } finally {
      write.disconnect();
    }
    await server.shutdown();
    await server.start();
    const read = redisFromEnv(server.url, { maxRetriesPerRequest: 1 }, env);
    try {
      expect(await read.incr(`${key}:plain`)).toBe(2); // a plain write survived: the AOF was read
      expect(await read.hget(key, 'seq')).toBe('7');
      expect(await read.get(`${key}:head`)).toBe('abc');
    } finally {
      read.disconnect();
      await server.shutdown().catch(() => undefined);
      await server.kill();
    }
  }, 60_000);
});

describe('PostgreSQL: TLS with scram-sha-256, nothing else', () => {
  const DATABASE_URL = requiredEnv('DATABASE_URL');

  const connect = async (url: string) => {
    const client = new Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
    try {
      await client.connect();
      return (await client.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).rows[0]?.ssl
        ? 'tls'
        : 'plain';
    } catch (error) {
      return (error as Error).message;
    } finally {
      await client.end().catch(() => undefined);
    }
  };

  it('serves the admin connection over verified TLS (sslmode=verify-full against the local CA)', async () => {
    expect(new URL(DATABASE_URL).searchParams.get('sslmode')).toBe('verify-full');
    expect(await connect(DATABASE_URL)).toBe('tls');
  });

  it('refuses a plaintext connection, even with the right password', async () => {
    const plain = new URL(DATABASE_URL);
    plain.search = '?sslmode=disable';
    expect(await connect(plain.toString())).toMatch(/pg_hba\.conf rejects connection.*no encryption/);
  });

  it('refuses a server certificate the client does not trust', async () => {
    const url = new URL(DATABASE_URL);
    // A CA list without the local CA: the server's certificate cannot be verified.
    const client = new Client({
      host: url.hostname,
      port: Number(url.port),
      user: decodeURIComponent(url.username),
      password: decodeURIComponent(url.password),
      database: url.pathname.slice(1),
      ssl: { rejectUnauthorized: true, ca: [] as string[] },
      connectionTimeoutMillis: 3_000,
    });
    const outcome = await client.connect().then(
      () => 'ok',
      (error: Error) => error.message,
    );
    await client.end().catch(() => undefined);
    expect(outcome).toMatch(/certificate|self[- ]signed|unable/i);
  });
});
