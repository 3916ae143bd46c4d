import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';

import Redis from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import { Client } from 'pg';

import { parseCatalog } from '@rotor/catalog';
import { keyringFrom } from '@rotor/config';
import { BackendRegistry, postgresRoleName, PostgresBackend, RedisAclBackend, type PostgresFailure } from '@rotor/credential-backends';
import { DomainError } from '@rotor/errors';
import { EventPublisher } from '@rotor/kafka';
import { createRedis } from '@rotor/redis-store';
import { createLogger, Metrics } from '@rotor/telemetry';

import { TokenHasher } from '../../apps/issuer/src/introspection/token-hasher';
import { ActiveLeases } from '../../apps/issuer/src/leases/active-leases';
import { LeaseStore } from '../../apps/issuer/src/leases/lease.store';
import { LeaseService } from '../../apps/issuer/src/leases/lease.service';
import { eventually } from '../support/eventually';
import { loggingDdl, POSTGRES_LOG, postgresLogOffset, postgresLogSince } from '../support/postgres-log';
import { requiredEnv } from '../support/services-env';
import { redisFromEnv, redisLinkFromEnv } from '../../tools/security/env-clients';

const DATABASE_URL = requiredEnv('DATABASE_URL');
const REDIS_URL = requiredEnv('REDIS_URL');
/** The redis-acl backend's own Redis (scripts/services-up.sh starts it next to rotor's). */
const REDIS_ACL_URL = requiredEnv('ROTOR_REDIS_ACL_URL');
const quietLogger = createLogger({ service: 'test', destination: new Writable({ write: (_c, _e, done) => done() }) });

const connectAs = async (username: string, password: string) => {
  const url = new URL(DATABASE_URL);
  url.username = username;
  url.password = password;
  const client = new Client({ connectionString: url.toString(), connectionTimeoutMillis: 3_000 });
  client.on('error', () => undefined);
  await client.connect();
  return client;
};

const roleExists = async (admin: Client, role: string) =>
  (await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount === 1;

describe('postgres backend against a real PostgreSQL', () => {
  const backend = new PostgresBackend({ databaseUrl: DATABASE_URL });
  const admin = new Client({ connectionString: DATABASE_URL });
  const table = `rotor_it_orders_${randomUUID().slice(0, 8)}`;
  const hidden = `rotor_it_hidden_${randomUUID().slice(0, 8)}`;
  const grants = [`GRANT SELECT ON ${table} TO {{role}}`];

  beforeAll(async () => {
    await admin.connect();
    await admin.query(`CREATE TABLE ${table} (id int primary key, item text)`);
    await admin.query(`INSERT INTO ${table} VALUES (1, 'book')`);
    await admin.query(`CREATE TABLE ${hidden} (id int)`);
  });

  afterAll(async () => {
    await admin.query(`DROP TABLE IF EXISTS ${table}, ${hidden}`);
    await admin.end();
    await backend.close();
  });

  it('issues a role that can run its granted query and nothing else, and that stops working once revoked', async () => {
    const leaseId = randomUUID();
    const { credential, handle } = await backend.issue({
      leaseId,
      settings: { kind: 'postgres', grants },
      expiresAt: new Date(Date.now() + 60_000),
    });
    expect(handle).toEqual({ backend: 'postgres', roleName: postgresRoleName(leaseId) });

    const session = await connectAs(credential['username']!, credential['password']!);
    expect((await session.query(`SELECT item FROM ${table} WHERE id = 1`)).rows).toEqual([{ item: 'book' }]);
    await expect(session.query(`INSERT INTO ${table} VALUES (2, 'pen')`)).rejects.toThrow(/permission denied/);
    await expect(session.query(`SELECT * FROM ${hidden}`)).rejects.toThrow(/permission denied/);

    await backend.revoke(handle);
    // The open session was terminated, and no new one can start.
    await expect(session.query('SELECT 1')).rejects.toThrow();
    await expect(connectAs(credential['username']!, credential['password']!)).rejects.toThrow(
      /password authentication failed|does not exist/,
    );
    expect(await roleExists(admin, handle.backend === 'postgres' ? handle.roleName : '')).toBe(false);
  });

  it('sets VALID UNTIL, so PostgreSQL itself refuses the role after expiry even if rotor were gone', async () => {
    const leaseId = randomUUID();
    const expiresAt = new Date(Date.now() + 60_000);
    const { handle } = await backend.issue({ leaseId, settings: { kind: 'postgres', grants }, expiresAt });
    const { rows } = await admin.query<{ rolvaliduntil: Date }>('SELECT rolvaliduntil FROM pg_roles WHERE rolname = $1', [
      postgresRoleName(leaseId),
    ]);
    expect(Math.abs(rows[0]!.rolvaliduntil.getTime() - expiresAt.getTime())).toBeLessThan(1_000);
    const later = new Date(Date.now() + 120_000);
    await backend.renew(handle, later);
    const renewed = await admin.query<{ rolvaliduntil: Date }>('SELECT rolvaliduntil FROM pg_roles WHERE rolname = $1', [
      postgresRoleName(leaseId),
    ]);
    expect(Math.abs(renewed.rows[0]!.rolvaliduntil.getTime() - later.getTime())).toBeLessThan(1_000);
    await backend.revoke(handle);
  });

  it('issues concurrently without PostgreSQL refusing concurrent grants', async () => {
    const issued = await Promise.all(
      Array.from({ length: 24 }, () =>
        backend.issue({ leaseId: randomUUID(), settings: { kind: 'postgres', grants }, expiresAt: new Date(Date.now() + 60_000) }),
      ),
    );
    expect(issued).toHaveLength(24);
    await Promise.all(issued.map(({ handle }) => backend.revoke(handle)));
  });

  it('treats revoking a role that is already gone as success', async () => {
    const leaseId = randomUUID();
    const { handle } = await backend.issue({ leaseId, settings: { kind: 'postgres', grants }, expiresAt: new Date(Date.now() + 60_000) });
    await backend.revoke(handle);
    await expect(backend.revoke(handle)).resolves.toBeUndefined();
  });

  it('creates no lease role when the grant template fails, and no half-granted group', async () => {
    const leaseId = randomUUID();
    await expect(
      backend.issue({
        leaseId,
        settings: { kind: 'postgres', grants: [...grants, 'GRANT SELECT ON no_such_table TO {{role}}'] },
        expiresAt: new Date(Date.now() + 60_000),
      }),
    ).rejects.toBeInstanceOf(DomainError);
    expect(await roleExists(admin, postgresRoleName(leaseId))).toBe(false);
  });

  it('never sends the password: with log_statement=ddl the server log shows CREATE ROLE with a SCRAM verifier, and the role logs in', async () => {
    // Every DDL statement of this backend's sessions goes to the server log, as an operator might configure it.
    const logged = new PostgresBackend({ databaseUrl: loggingDdl(DATABASE_URL) });
    const logStart = postgresLogOffset();
    const leaseId = randomUUID();
    try {
      const { credential, handle } = await logged.issue({
        leaseId,
        settings: { kind: 'postgres', grants },
        expiresAt: new Date(Date.now() + 60_000),
      });
      const password = credential['password']!;
      const session = await connectAs(credential['username']!, password);
      expect((await session.query(`SELECT item FROM ${table} WHERE id = 1`)).rows).toEqual([{ item: 'book' }]);
      await session.end();

      const role = postgresRoleName(leaseId);
      const log = await eventually(
        async () => {
          const text = postgresLogSince(logStart);
          return text.includes(`CREATE ROLE "${role}"`) ? text : undefined;
        },
        { what: `the CREATE ROLE of ${role} in ${POSTGRES_LOG}` },
      );
      expect(log).toContain(`CREATE ROLE "${role}" LOGIN PASSWORD 'SCRAM-SHA-256$4096:`);
      expect(log).not.toContain(password);
      const { rows } = await admin.query<{ rolpassword: string }>('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [role]);
      expect(rows[0]!.rolpassword).toMatch(/^SCRAM-SHA-256\$4096:/);
      await logged.revoke(handle);
    } finally {
      await logged.close();
    }
  });

  it('answers a generic problem when PostgreSQL refuses, and logs its SQLSTATE and message with the quoted values masked', async () => {
    const failures: PostgresFailure[] = [];
    const reporting = new PostgresBackend({ databaseUrl: DATABASE_URL, onFailure: (failure) => failures.push(failure) });
    const canary = `canary-${randomUUID().slice(0, 8)}`;
    try {
      const error = await reporting
        .issue({
          leaseId: randomUUID(),
          settings: { kind: 'postgres', grants: [`GRANT SELECT ON ${table} TO {{role}}`, `SELECT '${canary}'::int`] },
          expiresAt: new Date(Date.now() + 60_000),
        })
        .catch((caught: unknown) => caught);
      expect(error).toMatchObject({
        kind: 'unavailable',
        code: 'postgres-unavailable',
        message: 'PostgreSQL failed (group); retry later',
      });
      expect(JSON.stringify(error)).not.toContain(canary);
      expect((error as Error).cause).toBeUndefined();
      expect(failures).toEqual([{ operation: 'group', code: '22P02', message: 'invalid input syntax for type integer: "…"' }]);
    } finally {
      await reporting.close();
    }
  });

  it('refuses a handle that is not a rotor role name, so a forged event cannot drop other roles', async () => {
    await expect(backend.revoke({ backend: 'postgres', roleName: 'rotor' })).rejects.toMatchObject({ code: 'bad-revocation-handle' });
    expect(await roleExists(admin, 'rotor')).toBe(true);
  });
});

describe('redis-acl backend against a real Redis', () => {
  const backend = new RedisAclBackend({ url: REDIS_ACL_URL, security: redisLinkFromEnv(REDIS_ACL_URL) });
  const rotorRedis = redisFromEnv(REDIS_URL);
  const aclRedis = redisFromEnv(REDIS_ACL_URL);

  afterAll(async () => {
    await backend.close();
    rotorRedis.disconnect();
    aclRedis.disconnect();
  });

  const connectAs = async (username: string, password: string) => {
    const client = new Redis(REDIS_ACL_URL, {
      username,
      password,
      lazyConnect: true,
      enableReadyCheck: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  };

  it('issues a user that can run only its allowed commands on its keys, and whose AUTH fails once revoked', async () => {
    const { credential, handle } = await backend.issue({
      leaseId: randomUUID(),
      settings: { kind: 'redis-acl', rules: ['+get', '+set', '~rotor-it:orders:*'] },
      expiresAt: new Date(Date.now() + 60_000),
    });
    const session = await connectAs(credential['username']!, credential['password']!);
    await session.set('rotor-it:orders:1', 'book');
    expect(await session.get('rotor-it:orders:1')).toBe('book');
    await expect(session.get('issuer:anything')).rejects.toThrow(/NOPERM/);
    await expect(session.del('rotor-it:orders:1')).rejects.toThrow(/NOPERM/);

    await backend.revoke(handle);
    await expect(session.get('rotor-it:orders:1')).rejects.toThrow();
    const probe = redisFromEnv(REDIS_ACL_URL, { lazyConnect: true });
    await probe.connect();
    await expect(probe.auth(credential['username']!, credential['password']!)).rejects.toThrow(/WRONGPASS/);
    probe.disconnect();
    await expect(backend.revoke(handle)).resolves.toBeUndefined();
  });

  it("mints users on its own Redis, never on the one holding rotor's keys", async () => {
    const { credential, handle } = await backend.issue({
      leaseId: randomUUID(),
      settings: { kind: 'redis-acl', rules: ['+get', '~rotor-it:orders:*'] },
      expiresAt: new Date(Date.now() + 60_000),
    });
    const username = credential['username']!;
    expect(await aclRedis.call('ACL', 'GETUSER', username)).not.toBeNull();
    expect(await rotorRedis.call('ACL', 'GETUSER', username)).toBeNull();
    const runIds = await Promise.all([rotorRedis, aclRedis].map(async (client) => /run_id:(\w+)/.exec(await client.info('server'))?.[1]));
    expect(runIds[0]).toBeDefined();
    expect(runIds[0]).not.toBe(runIds[1]);
    await backend.revoke(handle);
  });

  it('never hands out admin or dangerous commands, even through a category that includes them', async () => {
    const { credential, handle } = await backend.issue({
      leaseId: randomUUID(),
      settings: { kind: 'redis-acl', rules: ['+@write', '+@read', '+@connection', '~rotor-it:cart:*'] },
      expiresAt: new Date(Date.now() + 60_000),
    });
    const session = await connectAs(credential['username']!, credential['password']!);
    try {
      await session.set('rotor-it:cart:1', 'x');
      await expect(session.flushall()).rejects.toThrow(/NOPERM/);
      await expect(session.call('CLIENT', 'KILL', 'USER', 'acl-admin')).rejects.toThrow(/NOPERM/);
      await expect(session.keys('*')).rejects.toThrow(/NOPERM/);
    } finally {
      session.disconnect();
      await backend.revoke(handle);
    }
  });
});

describe('issuance when Kafka is unreachable after the backend call', () => {
  it('revokes the PostgreSQL role it just created and answers 503: no untracked credential survives', async () => {
    const admin = new Client({ connectionString: DATABASE_URL });
    await admin.connect();
    const redis = createRedis(REDIS_URL, { connectionName: 'rotor-test', security: redisLinkFromEnv(REDIS_URL) });
    await redis.connect();
    const backends = BackendRegistry.create({
      postgres: { databaseUrl: DATABASE_URL },
      'redis-acl': { url: REDIS_ACL_URL, security: redisLinkFromEnv(REDIS_ACL_URL) },
    });
    const deadKafka = new Kafka({
      clientId: 'rotor-test',
      brokers: ['127.0.0.1:1'],
      logLevel: logLevel.NOTHING,
      retry: { retries: 1, initialRetryTime: 50 },
    });
    const catalog = parseCatalog(`
roles:
  - name: db-read
    owner: team-test
    backend: { kind: postgres, grants: ["GRANT CONNECT ON DATABASE rotor TO {{role}}"] }
    bindings: [{ namespace: fi, serviceAccount: app }]
    ttl: 1m
    maxTtl: 5m
`);
    const createdRoles: string[] = [];
    const postgres = backends.get('postgres');
    const issue = postgres.issue.bind(postgres);
    postgres.issue = async (request) => {
      const issued = await issue(request);
      createdRoles.push(issued.handle.backend === 'postgres' ? issued.handle.roleName : '');
      return issued;
    };
    const service = new LeaseService(
      catalog,
      backends,
      new LeaseStore(redis),
      new ActiveLeases(redis),
      new EventPublisher(deadKafka),
      new TokenHasher(keyringFrom('ROTOR_TOKEN_HASH_KEY', { ROTOR_TOKEN_HASH_KEY: 'k'.repeat(32) })),
      quietLogger,
      new Metrics('issuer'),
    );
    try {
      const error = await service
        .issue({
          caller: { kind: 'workload', subject: 'system:serviceaccount:fi:app', workload: { namespace: 'fi', serviceAccount: 'app' } },
          role: 'db-read',
        })
        .catch((caught: unknown) => caught);
      expect(error).toMatchObject({ kind: 'unavailable', code: 'issuance-incomplete' });
      expect(createdRoles).toHaveLength(1); // the backend did create the role…
      expect(await roleExists(admin, createdRoles[0]!)).toBe(false); // …and it did not survive
    } finally {
      await backends.close();
      redis.disconnect();
      await admin.end();
    }
  });
});
