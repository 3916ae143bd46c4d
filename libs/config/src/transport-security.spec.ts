import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ConfigError } from './config-error';
import { kafkaSecurity, redisSecurity, requireVerifiedPostgres } from './transport-security';

const problemsOf = (fn: () => unknown): string[] => {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
};

const dir = mkdtempSync(join(tmpdir(), 'rotor-transport-'));
const passwordFile = join(dir, 'kafka.password');
writeFileSync(passwordFile, 'canary-password-7f3a\n');
const caFile = join(dir, 'ca.crt');
writeFileSync(caFile, '-----BEGIN CERTIFICATE-----\nnot-parsed-here\n-----END CERTIFICATE-----\n');

describe('kafkaSecurity', () => {
  it('refuses an unauthenticated link unless the stack is explicitly insecure, naming the variables', () => {
    const problems = problemsOf(() => kafkaSecurity({ ROTOR_INSECURE_LOCAL: false }));
    expect(problems.join('\n')).toMatch(/KAFKA_SASL_USERNAME: is required/);
    expect(problems.join('\n')).toMatch(/KAFKA_SASL_PASSWORD_FILE: is required/);
    expect(
      problemsOf(() =>
        kafkaSecurity({ ROTOR_INSECURE_LOCAL: false, KAFKA_SSL: 'false', KAFKA_SASL_USERNAME: 'issuer', KAFKA_SASL_PASSWORD: 'x' }),
      ),
    ).toEqual([expect.stringMatching(/^KAFKA_SSL: rotor refuses plaintext Kafka/)]);
    expect(kafkaSecurity({ ROTOR_INSECURE_LOCAL: true })).toEqual({ ssl: false, insecure: true });
  });

  it('reads the password and CA from files and never puts them in an error', () => {
    const security = kafkaSecurity({
      ROTOR_INSECURE_LOCAL: false,
      KAFKA_SSL_CA_FILE: caFile,
      KAFKA_SASL_USERNAME: 'issuer',
      KAFKA_SASL_PASSWORD_FILE: passwordFile,
    });
    expect(security).toMatchObject({
      insecure: false,
      sasl: { mechanism: 'scram-sha-512', username: 'issuer', password: 'canary-password-7f3a' },
    });
    expect(security.ssl && security.ssl.ca).toContain('BEGIN CERTIFICATE');
    const problems = problemsOf(() =>
      kafkaSecurity({ ROTOR_INSECURE_LOCAL: false, KAFKA_SASL_USERNAME: 'issuer', KAFKA_SASL_PASSWORD_FILE: join(dir, 'missing') }),
    );
    expect(problems).toEqual([expect.stringMatching(/^KAFKA_SASL_PASSWORD_FILE: cannot read .*missing \(ENOENT\)$/)]);
  });
});

describe('redisSecurity', () => {
  it('refuses redis:// and a missing user on the secure stack', () => {
    const problems = problemsOf(() => redisSecurity({ ROTOR_INSECURE_LOCAL: false, REDIS_URL: 'redis://127.0.0.1:6379' }));
    expect(problems[0]).toMatch(/^REDIS_URL: must be a rediss:\/\/ URL/);
    expect(problems[1]).toMatch(/^REDIS_USERNAME: and REDIS_PASSWORD_FILE are required/);
  });

  it('takes the user and password file over anything in the URL', () => {
    expect(
      redisSecurity({
        ROTOR_INSECURE_LOCAL: false,
        REDIS_URL: 'rediss://127.0.0.1:6379',
        REDIS_USERNAME: 'revoker',
        REDIS_PASSWORD_FILE: passwordFile,
        REDIS_CA_FILE: caFile,
      }),
    ).toMatchObject({
      username: 'revoker',
      password: 'canary-password-7f3a',
      tls: { ca: expect.stringContaining('BEGIN CERTIFICATE') },
      insecure: false,
    });
  });
});

describe('requireVerifiedPostgres', () => {
  it('accepts only sslmode=verify-full unless insecure', () => {
    expect(requireVerifiedPostgres('DATABASE_URL', 'postgres://u:p@h/db?sslmode=verify-full', false)).toEqual({ insecure: false });
    expect(problemsOf(() => requireVerifiedPostgres('DATABASE_URL', 'postgres://u:canary@h/db?sslmode=require', false))).toEqual([
      expect.stringMatching(/^DATABASE_URL: must set sslmode=verify-full/),
    ]);
    expect(requireVerifiedPostgres('DATABASE_URL', 'postgres://u:p@h/db', true)).toEqual({ insecure: true });
  });
});
