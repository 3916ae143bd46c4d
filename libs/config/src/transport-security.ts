import { readFileSync } from 'node:fs';

import { z } from 'zod';

import { ConfigError } from './config-error';

/**
 * How rotor authenticates and encrypts its links to Kafka, Redis and PostgreSQL. Secure by
 * default: without TLS and credentials a service refuses to start, unless
 * ROTOR_INSECURE_LOCAL=1 says this is an explicitly insecure local stack. Files are read at
 * boot; errors name the variable, never a value.
 */

export const INSECURE_HINT = 'set ROTOR_INSECURE_LOCAL=1 only for an explicitly insecure local stack';

const file = z.string().min(1);

export const TransportEnvFragments = {
  insecure: {
    ROTOR_INSECURE_LOCAL: z
      .enum(['0', '1', 'true', 'false'])
      .default('0')
      .transform((value) => value === '1' || value === 'true')
      .describe(
        'Declares an explicitly insecure local stack, where plain HTTP and Kafka, Redis and PostgreSQL without TLS or credentials are accepted; never outside a laptop or CI.',
      ),
  },
  kafka: {
    KAFKA_SSL: z
      .enum(['true', 'false'])
      .optional()
      .describe(
        'TLS to the brokers, on unless ROTOR_INSECURE_LOCAL=1 and no KAFKA_SSL_CA_FILE; false is accepted only with ROTOR_INSECURE_LOCAL=1.',
      ),
    KAFKA_SSL_CA_FILE: file.optional().describe("The CA that signed the brokers' certificates; the system's roots when unset."),
    KAFKA_SSL_CERT_FILE: file
      .optional()
      .describe('A client certificate for brokers whose listeners require mTLS, with KAFKA_SSL_KEY_FILE.'),
    KAFKA_SSL_KEY_FILE: file.optional().describe('The private key of KAFKA_SSL_CERT_FILE.'),
    KAFKA_SASL_MECHANISM: z
      .enum(['scram-sha-512', 'scram-sha-256', 'plain'])
      .default('scram-sha-512')
      .describe("The SASL mechanism; change it only to match the brokers' listener."),
    KAFKA_SASL_USERNAME: z
      .string()
      .min(1)
      .optional()
      .describe("The service's Kafka principal, which the ACLs name.")
      .meta({ requiredWhen: 'unless ROTOR_INSECURE_LOCAL=1' }),
    KAFKA_SASL_PASSWORD: z
      .string()
      .min(1)
      .optional()
      .describe("KAFKA_SASL_USERNAME's password in the environment, for local use; prefer KAFKA_SASL_PASSWORD_FILE."),
    KAFKA_SASL_PASSWORD_FILE: file
      .optional()
      .describe("A file holding KAFKA_SASL_USERNAME's password, read at start-up.")
      .meta({ requiredWhen: 'with KAFKA_SASL_USERNAME, unless KAFKA_SASL_PASSWORD is set' }),
  },
  redis: {
    REDIS_USERNAME: z
      .string()
      .min(1)
      .optional()
      .describe("The service's Redis ACL user (else the user in REDIS_URL).")
      .meta({ requiredWhen: 'unless ROTOR_INSECURE_LOCAL=1 or REDIS_URL names the user' }),
    REDIS_PASSWORD: z
      .string()
      .min(1)
      .optional()
      .describe("REDIS_USERNAME's password in the environment, for local use; prefer REDIS_PASSWORD_FILE."),
    REDIS_PASSWORD_FILE: file
      .optional()
      .describe("A file holding REDIS_USERNAME's password, read at start-up.")
      .meta({ requiredWhen: 'unless ROTOR_INSECURE_LOCAL=1, REDIS_PASSWORD is set or REDIS_URL holds the password' }),
    REDIS_CA_FILE: file.optional().describe("The CA that signed Redis's certificate (rediss://); the system's roots when unset."),
  },
} as const;

export interface KafkaSecurity {
  ssl: false | { ca?: string; cert?: string; key?: string };
  sasl?: { mechanism: 'scram-sha-512' | 'scram-sha-256' | 'plain'; username: string; password: string };
  /** True when this link runs without TLS or authentication (ROTOR_INSECURE_LOCAL). */
  insecure: boolean;
}

export interface RedisSecurity {
  username?: string;
  password?: string;
  tls?: { ca?: string };
  insecure: boolean;
}

/** Reads a PEM or password file named by `variable`; the error names the variable and the path, never content. */
export function readConfigFile(variable: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError([`${variable}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`]);
  }
}

const secretFrom = (env: Record<string, string | undefined>, plain: string, fromFile: string): string | undefined => {
  if (env[fromFile]) return readConfigFile(fromFile, env[fromFile]).trim();
  return env[plain];
};

type KafkaEnv = { ROTOR_INSECURE_LOCAL: boolean } & Partial<Record<keyof typeof TransportEnvFragments.kafka, string>>;

export function kafkaSecurity(e: KafkaEnv): KafkaSecurity {
  const problems: string[] = [];
  const password = secretFrom(e as unknown as Record<string, string | undefined>, 'KAFKA_SASL_PASSWORD', 'KAFKA_SASL_PASSWORD_FILE');
  const sslOff = e.KAFKA_SSL === 'false' || (e.ROTOR_INSECURE_LOCAL && e.KAFKA_SSL === undefined && !e.KAFKA_SSL_CA_FILE);
  if (!e.ROTOR_INSECURE_LOCAL) {
    if (sslOff) problems.push(`KAFKA_SSL: rotor refuses plaintext Kafka (${INSECURE_HINT})`);
    if (!e.KAFKA_SASL_USERNAME) problems.push(`KAFKA_SASL_USERNAME: is required: rotor refuses unauthenticated Kafka (${INSECURE_HINT})`);
    if (!password)
      problems.push(`KAFKA_SASL_PASSWORD_FILE: is required (or KAFKA_SASL_PASSWORD for local use): rotor refuses unauthenticated Kafka`);
  }
  if (Boolean(e.KAFKA_SSL_CERT_FILE) !== Boolean(e.KAFKA_SSL_KEY_FILE))
    problems.push(`${e.KAFKA_SSL_CERT_FILE ? 'KAFKA_SSL_KEY_FILE' : 'KAFKA_SSL_CERT_FILE'}: is required with its pair for mTLS`);
  if (e.KAFKA_SASL_USERNAME && !password) problems.push('KAFKA_SASL_PASSWORD_FILE: is required with KAFKA_SASL_USERNAME');
  if (problems.length) throw new ConfigError(problems);
  const ssl = sslOff
    ? (false as const)
    : {
        ...(e.KAFKA_SSL_CA_FILE ? { ca: readConfigFile('KAFKA_SSL_CA_FILE', e.KAFKA_SSL_CA_FILE) } : {}),
        ...(e.KAFKA_SSL_CERT_FILE ? { cert: readConfigFile('KAFKA_SSL_CERT_FILE', e.KAFKA_SSL_CERT_FILE) } : {}),
        ...(e.KAFKA_SSL_KEY_FILE ? { key: readConfigFile('KAFKA_SSL_KEY_FILE', e.KAFKA_SSL_KEY_FILE) } : {}),
      };
  const sasl =
    e.KAFKA_SASL_USERNAME && password
      ? {
          mechanism: (e.KAFKA_SASL_MECHANISM ?? 'scram-sha-512') as NonNullable<KafkaSecurity['sasl']>['mechanism'],
          username: e.KAFKA_SASL_USERNAME,
          password,
        }
      : undefined;
  return { ssl, ...(sasl ? { sasl } : {}), insecure: ssl === false || !sasl };
}

type RedisEnv = { ROTOR_INSECURE_LOCAL: boolean; REDIS_URL: string } & Partial<Record<keyof typeof TransportEnvFragments.redis, string>>;

/** `variable` names the URL in errors (REDIS_URL, ROTOR_REDIS_ACL_URL). */
export function redisSecurity(
  e: RedisEnv,
  names = { url: 'REDIS_URL', username: 'REDIS_USERNAME', password: 'REDIS_PASSWORD', passwordFile: 'REDIS_PASSWORD_FILE' },
): RedisSecurity {
  const problems: string[] = [];
  const env = e as unknown as Record<string, string | undefined>;
  const url = new URL(e.REDIS_URL);
  const username = env[names.username] ?? (decodeURIComponent(url.username) || undefined);
  const password = secretFrom(env, names.password, names.passwordFile) ?? (decodeURIComponent(url.password) || undefined);
  const tls = url.protocol === 'rediss:';
  if (!e.ROTOR_INSECURE_LOCAL) {
    if (!tls) problems.push(`${names.url}: must be a rediss:// URL: rotor refuses Redis without TLS (${INSECURE_HINT})`);
    if (!username || !password)
      problems.push(
        `${names.username}: and ${names.passwordFile} are required: rotor refuses Redis without authentication (${INSECURE_HINT})`,
      );
  }
  if (problems.length) throw new ConfigError(problems);
  return {
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
    ...(tls ? { tls: e.REDIS_CA_FILE ? { ca: readConfigFile('REDIS_CA_FILE', e.REDIS_CA_FILE) } : {} } : {}),
    insecure: !tls || !password,
  };
}

/** PostgreSQL must verify the server's certificate and host name (sslmode=verify-full). */
export function requireVerifiedPostgres(variable: string, databaseUrl: string, insecureAllowed: boolean): { insecure: boolean } {
  const mode = new URL(databaseUrl).searchParams.get('sslmode');
  if (mode === 'verify-full') return { insecure: false };
  if (insecureAllowed) return { insecure: true };
  throw new ConfigError([
    `${variable}: must set sslmode=verify-full (and sslrootcert): rotor refuses PostgreSQL without verified TLS (${INSECURE_HINT})`,
  ]);
}
