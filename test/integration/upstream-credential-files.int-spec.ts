import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';

import type { FactoryProvider } from '@nestjs/common';
import { Client } from 'pg';

import { backendSettings, EnvFragments, parseEnv, TransportEnvFragments } from '@rotor/config';
import { scramSha256Verifier, type BackendRegistry, type PostgresBackend } from '@rotor/credential-backends';
import { backendsProvider } from '@rotor/nest-backends';
import type { Redis } from '@rotor/redis-store';
import { createLogger } from '@rotor/telemetry';

import { redisFromEnv } from '../../tools/security/env-clients';
import { eventually } from '../support/eventually';
import { requiredEnv } from '../support/services-env';

const DATABASE_URL = requiredEnv('DATABASE_URL');
const REDIS_ACL_URL = requiredEnv('ROTOR_REDIS_ACL_URL');
const quietLogger = createLogger({ service: 'test', destination: new Writable({ write: (_c, _e, done) => done() }) });

/** The backends as a service builds them from its environment (the real provider, file watchers included). */
function backendsFrom(env: Record<string, string>): BackendRegistry {
  const e = parseEnv({ ...EnvFragments.backends, ...EnvFragments.redis, ...TransportEnvFragments.insecure }, { ...process.env, ...env });
  const provider = backendsProvider(backendSettings(e)) as FactoryProvider<BackendRegistry>;
  return provider.useFactory({ register: () => undefined }, quietLogger) as BackendRegistry;
}

/** Whether the operation succeeds within 5 s (a command stuck on a refused connection counts as failing). */
const succeeds = (operation: () => Promise<unknown>) =>
  Promise.race([
    operation().then(
      () => true,
      () => false,
    ),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 5_000).unref()),
  ]);

describe("rotor's upstream credentials in files, picked up when they change (real PostgreSQL and Redis)", () => {
  const dir = mkdtempSync(join(tmpdir(), 'rotor-upstream-'));
  const suffix = randomBytes(4).toString('hex');

  describe('the postgres backend admin URL (DATABASE_URL_FILE)', () => {
    // Not rotor_<32 hex>: the revoker's sweep would take it for a lease role.
    const role = `kr_admin_${suffix}`;
    const urlFile = join(dir, 'database-url');
    const urlWith = (password: string) => {
      const url = new URL(DATABASE_URL);
      url.username = role;
      url.password = password;
      return url.toString();
    };
    let admin: Client;
    let registry: BackendRegistry;

    beforeAll(async () => {
      admin = new Client({ connectionString: DATABASE_URL });
      await admin.connect();
      await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD '${await scramSha256Verifier('first-password-1')}'`);
    });

    afterAll(async () => {
      await registry?.close();
      await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1`, [role]);
      await admin.query(`DROP ROLE IF EXISTS ${role}`);
      await admin.end();
    });

    it('connects with the new URL after the file changes, with no restart', async () => {
      writeFileSync(urlFile, `${urlWith('first-password-1')}\n`);
      registry = backendsFrom({ DATABASE_URL_FILE: urlFile });
      const postgres = registry.get('postgres') as PostgresBackend;
      await postgres.ping();

      // The admin password is rotated on the server and the old sessions end: the old URL no longer works.
      await admin.query(`ALTER ROLE ${role} PASSWORD '${await scramSha256Verifier('second-password-2')}'`);
      await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1`, [role]);
      expect(await succeeds(() => postgres.ping())).toBe(false);

      writeFileSync(urlFile, `${urlWith('second-password-2')}\n`);
      await eventually(async () => (await succeeds(() => postgres.ping())) || undefined, {
        what: 'the backend to connect with the rotated URL',
        timeoutMs: 20_000,
      });
    });
  });

  describe('the redis-acl backend admin password (ROTOR_REDIS_ACL_PASSWORD_FILE)', () => {
    const user = `kr-acl-admin-${suffix}`;
    const passwordFile = join(dir, 'redis-acl-password');
    let admin: Redis;
    let registry: BackendRegistry;

    beforeAll(async () => {
      admin = redisFromEnv(REDIS_ACL_URL);
      await admin.call('ACL', 'SETUSER', user, 'reset', 'on', '>first-password-1', '~*', '&*', '+@all');
    });

    afterAll(async () => {
      await registry?.close();
      await admin.call('ACL', 'DELUSER', user);
      admin.disconnect();
    });

    it('authenticates its next connection with the new password after the file changes, with no restart', async () => {
      writeFileSync(passwordFile, 'first-password-1\n');
      registry = backendsFrom({ ROTOR_REDIS_ACL_USERNAME: user, ROTOR_REDIS_ACL_PASSWORD_FILE: passwordFile });
      const redisAcl = registry.get('redis-acl');
      await redisAcl.listMinted!();

      await admin.call('ACL', 'SETUSER', user, 'resetpass', '>second-password-2');
      await admin.call('CLIENT', 'KILL', 'USER', user);
      expect(await succeeds(() => redisAcl.listMinted!())).toBe(false);

      writeFileSync(passwordFile, 'second-password-2\n');
      await eventually(async () => (await succeeds(() => redisAcl.listMinted!())) || undefined, {
        what: 'the backend to authenticate with the rotated password',
        timeoutMs: 20_000,
      });
    });
  });
});
