/**
 * Secure by default (DESIGN §14): a service refuses to start on an insecure or
 * unauthenticated link, with a message naming the variable and never a secret, unless
 * ROTOR_INSECURE_LOCAL=1 says so, and then it warns loudly. Real service processes.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { principalEnv } from '../support/principals';
import { requiredEnv } from '../support/services-env';
import { ServiceProcess } from '../support/service-process';
import { TcpSwitch } from '../support/tcp-switch';
import { TestIdentity } from '../support/test-identity';

describe('secure boot', () => {
  let identity: TestIdentity;
  let nextPort = 19560;
  beforeAll(async () => {
    identity = await TestIdentity.create();
  });
  const wrongPasswordFile = join(mkdtempSync(join(tmpdir(), 'rotor-secure-boot-')), 'kafka.password');
  const WRONG = 'canary-wrong-password-5d1e';
  writeFileSync(wrongPasswordFile, `${WRONG}\n`);

  const bootFails = async (service: 'issuer' | 'revoker' | 'auditor', env: Record<string, string>) => {
    const process = new ServiceProcess(service, nextPort++, {
      ...identity.env,
      ROTOR_AUDIT_KEY: 'a'.repeat(64),
      ROTOR_TOKEN_HASH_KEY: 'b'.repeat(64),
      ...env,
    }).start();
    const code = await process.exitCode(60_000);
    return { code, logs: process.logs };
  };

  it('refuses unauthenticated Kafka, naming the variables', async () => {
    const { code, logs } = await bootFails('revoker', { KAFKA_SASL_USERNAME: '', KAFKA_SASL_PASSWORD_FILE: '' });
    expect(code).toBe(1);
    expect(logs).toMatch(/KAFKA_SASL_USERNAME: is required: rotor refuses unauthenticated Kafka/);
    expect(logs).toMatch(/ROTOR_INSECURE_LOCAL=1/);
  });

  it('refuses Redis without TLS, and PostgreSQL without verify-full', async () => {
    const redis = await bootFails('auditor', { REDIS_URL: 'redis://127.0.0.1:6379' });
    expect(redis.code).toBe(1);
    expect(redis.logs).toMatch(/REDIS_URL: must be a rediss:\/\/ URL/);
    const pg = await bootFails('issuer', { DATABASE_URL: 'postgres://rotor:canary-pg-secret@127.0.0.1:5432/rotor?sslmode=require' });
    expect(pg.code).toBe(1);
    expect(pg.logs).toMatch(/DATABASE_URL: must set sslmode=verify-full/);
    expect(pg.logs).not.toContain('canary-pg-secret');
    // The auditor's own database (its chain heads and views) too. It refuses before connecting to
    // anything, so no private database is needed here.
    const audit = await bootFails('auditor', {
      ROTOR_AUDIT_DATABASE_URL_FILE: '',
      ROTOR_AUDIT_DATABASE_URL: 'postgres://rotor_auditor:canary-audit-secret@127.0.0.1:5432/rotor_audit?sslmode=require',
    });
    expect(audit.code).toBe(1);
    expect(audit.logs).toMatch(/ROTOR_AUDIT_DATABASE_URL: must set sslmode=verify-full/);
    expect(audit.logs).not.toContain('canary-audit-secret');
  });

  it('refuses a redis-acl backend on rotor’s own Redis, however its URL is spelled, and without ROTOR_REDIS_ACL_URL', async () => {
    const issuer = await bootFails('issuer', { ROTOR_REDIS_ACL_URL: 'rediss://LOCALHOST:6379/2' });
    expect(issuer.code).toBe(1);
    expect(issuer.logs).toMatch(/ROTOR_REDIS_ACL_URL: names the same Redis server as REDIS_URL/);
    const revoker = await bootFails('revoker', { ROTOR_REDIS_ACL_URL: '' });
    expect(revoker.code).toBe(1);
    expect(revoker.logs).toMatch(/ROTOR_REDIS_ACL_URL: is required/);
  });

  it('refuses a redis-acl backend that reaches rotor’s own Redis under another address (same run_id)', async () => {
    // A port forward to rotor's Redis: a URL no spelling rule can tell from another server.
    const forward = await new TcpSwitch(
      { host: '127.0.0.1', port: Number(new URL(requiredEnv('REDIS_URL')).port || 6379) },
      nextPort++,
    ).start();
    try {
      const issuer = await bootFails('issuer', { ROTOR_REDIS_ACL_URL: `rediss://127.0.0.1:${forward.port}` });
      expect(issuer.code).toBe(1);
      expect(issuer.logs).toMatch(/ROTOR_REDIS_ACL_URL: reaches the same Redis server as REDIS_URL \(same run_id\)/);
    } finally {
      await forward.stop();
    }
  });

  it('stops on a wrong Kafka password with the broker’s refusal, never the password', async () => {
    const { code, logs } = await bootFails('revoker', { ...principalEnv('revoker'), KAFKA_SASL_PASSWORD_FILE: wrongPasswordFile });
    expect(code).toBe(1);
    expect(logs).toMatch(/authentication failed/i);
    expect(logs).not.toContain(WRONG);
  }, 90_000);

  it('starts without TLS or users only with ROTOR_INSECURE_LOCAL=1, and says so loudly', async () => {
    const revoker = new ServiceProcess('revoker', nextPort++, {
      ...identity.env,
      ROTOR_INSECURE_LOCAL: '1',
      ROTOR_TLS_CERT_FILE: '',
      ROTOR_TLS_KEY_FILE: '',
      // Plaintext Kafka does not exist on the secure stack: the warning comes before any connection.
      KAFKA_BROKERS: '127.0.0.1:9',
      KAFKA_SSL: 'false',
      KAFKA_SASL_USERNAME: '',
      KAFKA_SASL_PASSWORD_FILE: '',
    }).start();
    try {
      await expectEventually(() => /INSECURE: Kafka link without TLS or authentication/.test(revoker.logs));
    } finally {
      await revoker.kill();
    }
  }, 90_000);
});

async function expectEventually(condition: () => boolean, timeoutMs = 45_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
