import { z } from 'zod';

import { KAFKA_NAMESPACE_PATTERN } from '@rotor/contracts';
import { parseGroupMap } from '@rotor/identity';

import { ConfigError } from './config-error';
import { httpSettings } from './http-settings';
import { keyringEnv } from './keyring';
import { redisServerIdentity, sameRedisServer } from './redis-server-identity';
import {
  kafkaSecurity,
  readConfigFile,
  redisSecurity,
  requireVerifiedPostgres,
  TransportEnvFragments,
  type KafkaSecurity,
  type RedisSecurity,
} from './transport-security';

export { ConfigError };

/**
 * Environment fragments each service composes into its own schema. Every variable is
 * validated once at boot; a bad value stops the service with a message naming it.
 */
const hostPortList = z
  .string()
  .min(1)
  .transform((value) => value.split(',').map((broker) => broker.trim()))
  .pipe(z.array(z.string().regex(/^[^:\s]+:\d{1,5}$/, 'must be host:port[,host:port…]')).min(1));

const url = (protocols: string[]) =>
  z.url().refine((value) => protocols.includes(new URL(value).protocol), {
    message: `must be a ${protocols.map((p) => p.replace(':', '')).join(' or ')} URL`,
  });

const port = z.coerce.number().int().min(1).max(65535);

/** ROTOR_DEDUPE_WINDOW_SECONDS' default: a day, longer than any consumer is expected to stay down and then redeliver. */
export const DEFAULT_DEDUPE_WINDOW_SECONDS = 86_400;

/** A key given as at least 32 bytes of text (base64 or plain). */
const key = z.string().min(32, 'must be at least 32 characters');

export const EnvFragments = {
  http: (defaultPort: number) => ({
    PORT: port.default(defaultPort).describe("The port of the service's REST API; change it when another listener already has it."),
    HOST: z
      .string()
      .min(1)
      .default('127.0.0.1')
      .describe('The address the listeners bind to; set 0.0.0.0 (or the pod IP) to accept connections from other hosts.'),
    ROTOR_OPERATOR_PORT: port
      .optional()
      .describe(
        'A second listener for the operator routes and /metrics, so NetworkPolicies can tell them apart from workload traffic; unset, everything listens on PORT.',
      ),
    ROTOR_TLS_CERT_FILE: z
      .string()
      .min(1)
      .optional()
      .describe('The PEM certificate the service serves HTTPS with, re-read when it changes.')
      .meta({ requiredWhen: 'unless ROTOR_INSECURE_LOCAL=1' }),
    ROTOR_TLS_KEY_FILE: z
      .string()
      .min(1)
      .optional()
      .describe('The PEM private key of ROTOR_TLS_CERT_FILE, re-read when it changes.')
      .meta({ requiredWhen: 'with ROTOR_TLS_CERT_FILE' }),
    ROTOR_TLS_CLIENT_CA_FILE: z
      .string()
      .min(1)
      .optional()
      .describe('When set, clients must present a certificate signed by this CA (mTLS); set it once every caller has a certificate.'),
  }),
  logging: {
    LOG_LEVEL: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info')
      .describe('The lowest level logged; debug while investigating, warn to quieten a busy service.'),
  },
  dependencies: {
    ROTOR_DEPENDENCY_TIMEOUT_MS: z.coerce
      .number()
      .int()
      .min(100)
      .max(60_000)
      .default(1_500)
      .describe(
        'Fail fast: how long a request waits for a Kafka produce, a Redis command or a GSM call before it answers 503 with Retry-After; raise it only for a dependency that is slow but healthy.',
      ),
  },
  kafka: {
    KAFKA_BROKERS: hostPortList
      .default(['127.0.0.1:9092'])
      .describe('The bootstrap brokers, host:port[,host:port…]; name several so that start-up survives one broker being down.'),
    KAFKA_CLIENT_ID: z
      .string()
      .min(1)
      .optional()
      .describe('The client id brokers see in their logs and quotas; rotor-<service> when unset.'),
    KAFKA_TOPIC_PARTITIONS: z.coerce
      .number()
      .int()
      .min(1)
      .max(1000)
      .default(6)
      .describe(
        'Partitions of the topics rotor creates, the most consumers of a group that can work at once; Kafka cannot lower it later.',
      ),
    KAFKA_REPLICATION_FACTOR: z.coerce
      .number()
      .int()
      .min(1)
      .max(7)
      .default(1)
      .describe('Replicas of each topic rotor creates; 3 in production, so that a broker can fail without losing an event.'),
    KAFKA_MIN_INSYNC_REPLICAS: z.coerce
      .number()
      .int()
      .min(1)
      .max(7)
      .optional()
      .describe('min.insync.replicas of the topics rotor creates; by default 2 from a replication factor of 3, else 1.'),
    ROTOR_KAFKA_SESSION_TIMEOUT_MS: z.coerce
      .number()
      .int()
      .min(6_000)
      .max(300_000)
      .optional()
      .describe(
        "How long each consumer group waits for a silent member (a crashed replica) before handing its partitions to the others; when unset kafkajs' 30 s, and 10 s for the revoker's expiry clock. Lower means faster failover and more rebalances under load.",
      ),
    ROTOR_KAFKA_NAMESPACE: z
      .string()
      .regex(KAFKA_NAMESPACE_PATTERN, "must be empty or end in '.', e.g. staging.")
      .default('')
      .describe(
        'A prefix of every topic and consumer group (staging.), so that installations share a cluster; the ACLs are granted per namespace.',
      ),
    ...TransportEnvFragments.kafka,
  },
  redis: {
    REDIS_URL: url(['redis:', 'rediss:'])
      .default('rediss://127.0.0.1:6379')
      .describe(
        "rotor's own Redis (leases, schedules, dedupe marks), rediss://[user:password@]host:port[/db]; redis:// only with ROTOR_INSECURE_LOCAL=1.",
      ),
    REDIS_CLUSTER_NODES: hostPortList
      .optional()
      .describe(
        "Redis Cluster seed nodes (host:port,…): when set, rotor uses ioredis' Cluster client on them with REDIS_URL's scheme, user, password and CA (REDIS_URL's host and database are then unused).",
      ),
    ...TransportEnvFragments.redis,
  },
  gsm: {
    GSM_PROJECT: z
      .string()
      .regex(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, 'must be a GCP project id')
      .default('rotor-local')
      .describe('The GCP project whose Secret Manager holds the managed secrets and the audit checkpoints.'),
    SECRET_MANAGER_EMULATOR_HOST: z
      .string()
      .regex(/^[^:\s]+:\d{1,5}$/, 'must be host:port')
      .optional()
      .describe('host:port of a GSM emulator to use instead of the real GSM, with no credentials; local stacks and tests only.'),
    GOOGLE_APPLICATION_CREDENTIALS: z
      .string()
      .min(1)
      .optional()
      .describe(
        "A service-account key file for the real GSM (Google's own variable), re-read when it changes, no restart; unset with Workload Identity.",
      ),
    ROTOR_GSM_ACCESSES_PER_MINUTE: z.coerce
      .number()
      .int()
      .min(1)
      .default(90_000)
      .describe("Client-side pacing of secret reads, sized to GSM's default per-project quota; lower it when others share the project."),
    ROTOR_GSM_WRITES_PER_MINUTE: z.coerce
      .number()
      .int()
      .min(1)
      .default(600)
      .describe(
        "Client-side pacing of GSM writes (new secrets and versions), sized to GSM's default per-project quota; lower it when others share the project.",
      ),
    ROTOR_GSM_VERSION_WRITES_PER_SECOND_PER_SECRET: z.coerce
      .number()
      .positive()
      .default(2)
      .describe(
        'Most new versions of one secret per second, about what GSM allows on a global secret; lower it if GSM still refuses them.',
      ),
  },
  backends: {
    DATABASE_URL: url(['postgres:', 'postgresql:'])
      .default('postgres://rotor:rotor@127.0.0.1:5432/rotor')
      .describe(
        "The postgres backend's admin URL, which creates and drops the leased roles; sslmode=verify-full unless ROTOR_INSECURE_LOCAL=1.",
      ),
    DATABASE_URL_FILE: z
      .string()
      .min(1)
      .optional()
      .describe(
        'The admin URL in a mounted file instead (it holds the password), re-read when it changes, no restart; wins over DATABASE_URL.',
      ),
    ROTOR_REDIS_ACL_URL: url(['redis:', 'rediss:'])
      .optional()
      .describe(
        "The Redis whose ACL users the redis-acl backend mints, never REDIS_URL's server (where a catalog line could grant rotor's own keys).",
      )
      .meta({ requiredWhen: 'always (checked after parsing)' }),
    ROTOR_REDIS_ACL_USERNAME: z
      .string()
      .min(1)
      .optional()
      .describe("The redis-acl backend's own user (ACL SETUSER/DELUSER); the service's Redis user when unset."),
    ROTOR_REDIS_ACL_PASSWORD: z
      .string()
      .min(1)
      .optional()
      .describe("ROTOR_REDIS_ACL_USERNAME's password in the environment, for local use; prefer ROTOR_REDIS_ACL_PASSWORD_FILE."),
    ROTOR_REDIS_ACL_PASSWORD_FILE: z
      .string()
      .min(1)
      .optional()
      .describe("A file holding ROTOR_REDIS_ACL_USERNAME's password, re-read when it changes (the next connection uses it)."),
  },
  catalog: {
    ROTOR_CATALOG: z
      .string()
      .min(1)
      .default('config/catalog.yaml')
      .describe('The catalog file (roles, bindings, managed secrets and their targets), read at start-up.'),
  },
  dedupe: {
    ROTOR_DEDUPE_WINDOW_SECONDS: z.coerce
      .number()
      .int()
      .min(1)
      .max(30 * 86_400)
      .default(DEFAULT_DEDUPE_WINDOW_SECONDS)
      .describe(
        "How long Redis remembers what has ended (a revoked lease's records, handled event ids); longer than a consumer may stay down and then redeliver.",
      ),
  },
  identity: {
    ROTOR_JWKS: z
      .string()
      .min(1)
      .default('config/jwks.json')
      .describe(
        "The service-account issuer's keys: a file, an https JWKS URL or a discovery URL (plain http only to loopback with ROTOR_INSECURE_LOCAL=1).",
      ),
    ROTOR_TOKEN_ISSUER: z
      .string()
      .min(1)
      .default('https://kubernetes.default.svc.cluster.local')
      .describe("The iss of workload service-account tokens: the cluster's service-account issuer."),
    ROTOR_TOKEN_AUDIENCE: z
      .string()
      .min(1)
      .default('rotor')
      .describe("The aud workload tokens must carry; change it with the audience of the pods' projected tokens."),
    ROTOR_CLOCK_SKEW_SECONDS: z.coerce
      .number()
      .int()
      .min(0)
      .max(300)
      .default(30)
      .describe("Seconds of clock difference tolerated when checking a token's lifetime."),
    ROTOR_TOKEN_CACHE_SECONDS: z.coerce
      .number()
      .int()
      .min(0)
      .max(60)
      .default(30)
      .describe(
        'Seconds a workload token that verified is answered from memory (never past its exp; 0: check every request). Also how late a token the cluster revoked (ROTOR_TOKEN_REVIEW) or one signed by a withdrawn key is noticed.',
      ),
    ROTOR_TOKEN_REVIEW: z
      .enum(['true', 'false'])
      .default('false')
      .transform((value) => value === 'true')
      .describe('Also ask the API server (TokenReview) whether it still accepts each workload token, at the cost of a call per check.'),
    KUBECONFIG: z
      .string()
      .min(1)
      .optional()
      .describe(
        "A kubeconfig for the API server (TokenReview; the distributor's Secret targets and copy scan; the revoker's pod sweep); unset means in-cluster configuration.",
      ),
    ROTOR_OPERATOR_ISSUER: z
      .preprocess((value) => (value === '' ? undefined : value), z.url().optional())
      .describe('The OpenID Provider people sign in with (rotor login); unset, no token carries operator rights.'),
    ROTOR_OPERATOR_JWKS: z
      .string()
      .min(1)
      .optional()
      .describe("The operator issuer's keys, a file or URL; by default found through the issuer's discovery document."),
    ROTOR_OPERATOR_AUDIENCE: z
      .string()
      .min(1)
      .default('rotor-cli')
      .describe("The audience of the operator issuer's tokens for rotor: the CLI's client id at the provider."),
    ROTOR_OPERATOR_GROUPS_CLAIM: z
      .string()
      .min(1)
      .default('groups')
      .describe("The claim holding the person's IdP groups: a name, or a dotted path (realm_access.roles)."),
    ROTOR_OPERATOR_GROUP_MAP: z
      .string()
      .optional()
      .describe(
        'idp-group=rotor:group,… to map IdP groups to rotor groups; unset, IdP groups named rotor:sre, rotor:auditor, rotor:introspect count as they are.',
      ),
  },
  keys: {
    auditKey: {
      ROTOR_AUDIT_KEY: key.describe(
        'Keys the pseudonyms of sensitive identifiers (pod names, operator subjects) and checks records chained before signed checkpoints; never change it, or old pseudonyms stop matching.',
      ),
    },
    tokenHashKey: keyringEnv(
      'ROTOR_TOKEN_HASH_KEY',
      'keys the hashes the issuer stores instead of bearer tokens, so Redis never holds a usable token',
    ),
    contentHashKey: keyringEnv(
      'ROTOR_CONTENT_HASH_KEY',
      'keys the content hashes of delivered copies, so a hash never lets anyone test guesses of a value',
    ),
  },
} as const;

type IdentityEnv = z.infer<z.ZodObject<typeof EnvFragments.identity>> & { ROTOR_INSECURE_LOCAL: boolean };

/** The operator issuer's settings, when one is configured (see TokenVerifier). */
export function operatorTrust(e: IdentityEnv) {
  if (!e.ROTOR_OPERATOR_ISSUER) return {};
  const issuer = e.ROTOR_OPERATOR_ISSUER;
  if (issuer === e.ROTOR_TOKEN_ISSUER)
    throw new ConfigError([
      'ROTOR_OPERATOR_ISSUER: must not be the service-account issuer (ROTOR_TOKEN_ISSUER): workload tokens never carry operator rights',
    ]);
  let groupMap: Map<string, string[]> | undefined;
  try {
    groupMap = e.ROTOR_OPERATOR_GROUP_MAP?.trim() ? parseGroupMap(e.ROTOR_OPERATOR_GROUP_MAP) : undefined;
  } catch (error) {
    throw new ConfigError([(error as Error).message]);
  }
  return {
    operator: {
      issuer,
      jwks: e.ROTOR_OPERATOR_JWKS ?? `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`,
      audience: e.ROTOR_OPERATOR_AUDIENCE,
      groupsClaim: e.ROTOR_OPERATOR_GROUPS_CLAIM,
      ...(groupMap ? { groupMap } : {}),
      insecureLocal: e.ROTOR_INSECURE_LOCAL,
    },
  };
}

/**
 * Validates `env` against a schema shape. Messages name the variable and never echo its
 * value (a secret key may be the one that is wrong).
 */
export function parseEnv<Shape extends z.ZodRawShape>(shape: Shape, env: NodeJS.ProcessEnv = process.env): z.infer<z.ZodObject<Shape>> {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const result = z.object(shape).safeParse(present);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => {
        const variable = String(issue.path[0] ?? '(env)');
        return `${variable}: ${issue.code === 'invalid_type' && present[variable] === undefined ? 'is required' : issue.message}`;
      }),
    );
  }
  return result.data;
}

/** The variables every rotor service reads: HTTP, logging, Kafka, Redis, token verification. */
export const serviceEnvShape = (defaultPort: number) => ({
  ...EnvFragments.http(defaultPort),
  ...EnvFragments.logging,
  ...EnvFragments.dependencies,
  ...TransportEnvFragments.insecure,
  ...EnvFragments.kafka,
  ...EnvFragments.redis,
  ...EnvFragments.identity,
});

type ServiceEnv = z.infer<z.ZodObject<ReturnType<typeof serviceEnvShape>>>;

/** The settings every rotor service has, shaped for the libs that use them. */
export function serviceSettings<S extends string>(service: S, e: ServiceEnv) {
  return {
    service,
    http: httpSettings(e),
    logLevel: e.LOG_LEVEL,
    dependencyTimeoutMs: e.ROTOR_DEPENDENCY_TIMEOUT_MS,
    kafka: {
      service,
      brokers: e.KAFKA_BROKERS,
      clientId: e.KAFKA_CLIENT_ID ?? `rotor-${service}`,
      partitions: e.KAFKA_TOPIC_PARTITIONS,
      replicationFactor: e.KAFKA_REPLICATION_FACTOR,
      ...(e.KAFKA_MIN_INSYNC_REPLICAS ? { minInsyncReplicas: e.KAFKA_MIN_INSYNC_REPLICAS } : {}),
      namespace: e.ROTOR_KAFKA_NAMESPACE,
      ...(e.ROTOR_KAFKA_SESSION_TIMEOUT_MS ? { sessionTimeoutMs: e.ROTOR_KAFKA_SESSION_TIMEOUT_MS } : {}),
      security: kafkaSecurity(e),
    },
    redis: { url: e.REDIS_URL, clusterNodes: e.REDIS_CLUSTER_NODES, security: redisSecurity(e) },
    insecureLocal: e.ROTOR_INSECURE_LOCAL,
    identity: {
      jwks: e.ROTOR_JWKS,
      issuer: e.ROTOR_TOKEN_ISSUER,
      audience: e.ROTOR_TOKEN_AUDIENCE,
      clockSkewSeconds: e.ROTOR_CLOCK_SKEW_SECONDS,
      cacheSeconds: e.ROTOR_TOKEN_CACHE_SECONDS,
      // Plain-http key sets only on loopback, and only on a local stack.
      insecureLocal: e.ROTOR_INSECURE_LOCAL,
      ...operatorTrust(e),
    },
  };
}

/**
 * Where the credential backends connect. The redis-acl backend needs a Redis of its own
 * (ROTOR_REDIS_ACL_URL): on the server holding rotor's own keys, a catalog line could grant
 * a lease the TTL clock itself. Same host and port in another spelling or database counts as
 * the same server (ACL users are server-wide).
 */
export const backendSettings = (e: {
  DATABASE_URL: string;
  DATABASE_URL_FILE?: string;
  ROTOR_REDIS_ACL_URL?: string;
  ROTOR_REDIS_ACL_USERNAME?: string;
  ROTOR_REDIS_ACL_PASSWORD?: string;
  ROTOR_REDIS_ACL_PASSWORD_FILE?: string;
  REDIS_URL: string;
  REDIS_CLUSTER_NODES?: string[];
  REDIS_USERNAME?: string;
  REDIS_PASSWORD?: string;
  REDIS_PASSWORD_FILE?: string;
  REDIS_CA_FILE?: string;
  ROTOR_INSECURE_LOCAL: boolean;
}) => {
  const redisAclUrl = e.ROTOR_REDIS_ACL_URL;
  if (!redisAclUrl)
    throw new ConfigError([
      "ROTOR_REDIS_ACL_URL: is required: the redis-acl backend mints its users on a Redis of its own, never on REDIS_URL's",
    ]);
  if (sameRedisServer(redisAclUrl, e.REDIS_URL))
    throw new ConfigError([
      `ROTOR_REDIS_ACL_URL: names the same Redis server as REDIS_URL (${redisServerIdentity(redisAclUrl)}): ` +
        "the redis-acl backend must not mint users on the Redis holding rotor's own keys",
    ]);
  // On Redis Cluster, rotor's keys live on every node named (the seeds; a node added later is not known here).
  const clusterNode = e.REDIS_CLUSTER_NODES?.find((node) => sameRedisServer(redisAclUrl, `redis://${node}`));
  if (clusterNode)
    throw new ConfigError([
      `ROTOR_REDIS_ACL_URL: names a node of REDIS_CLUSTER_NODES (${redisServerIdentity(redisAclUrl)}): ` +
        "the redis-acl backend must not mint users on the Redis holding rotor's own keys",
    ]);
  const databaseUrl = e.DATABASE_URL_FILE
    ? checkedDatabaseUrlFile(readConfigFile('DATABASE_URL_FILE', e.DATABASE_URL_FILE), e.ROTOR_INSECURE_LOCAL)
    : e.DATABASE_URL;
  return {
    databaseUrl,
    databaseInsecure: requireVerifiedPostgres(
      e.DATABASE_URL_FILE ? 'DATABASE_URL_FILE' : 'DATABASE_URL',
      databaseUrl,
      e.ROTOR_INSECURE_LOCAL,
    ).insecure,
    /** Upstream credentials in files, re-read when they change (see watchSecretFile). */
    files: {
      databaseUrl: e.DATABASE_URL_FILE,
      redisAclPassword: e.ROTOR_REDIS_ACL_USERNAME ? e.ROTOR_REDIS_ACL_PASSWORD_FILE : undefined,
    },
    redisAclUrl,
    // Its own user when one is configured, else the service's (REDIS_USERNAME/REDIS_PASSWORD_FILE).
    redisAclSecurity: e.ROTOR_REDIS_ACL_USERNAME
      ? redisSecurity(
          { ...e, REDIS_URL: redisAclUrl },
          {
            url: 'ROTOR_REDIS_ACL_URL',
            username: 'ROTOR_REDIS_ACL_USERNAME',
            password: 'ROTOR_REDIS_ACL_PASSWORD',
            passwordFile: 'ROTOR_REDIS_ACL_PASSWORD_FILE',
          },
        )
      : redisSecurity(
          { ...e, REDIS_URL: redisAclUrl },
          { url: 'ROTOR_REDIS_ACL_URL', username: 'REDIS_USERNAME', password: 'REDIS_PASSWORD', passwordFile: 'REDIS_PASSWORD_FILE' },
        ),
  };
};

/**
 * The admin URL a DATABASE_URL_FILE holds, checked as DATABASE_URL is (at boot and at every
 * change of the file); never echoed, it carries the password.
 */
export function checkedDatabaseUrlFile(content: string, insecureAllowed: boolean): string {
  const text = content.trim();
  if (!URL.canParse(text) || !['postgres:', 'postgresql:'].includes(new URL(text).protocol))
    throw new ConfigError(['DATABASE_URL_FILE: must hold a postgres URL']);
  requireVerifiedPostgres('DATABASE_URL_FILE', text, insecureAllowed);
  return text;
}

/** GSM client settings, with its client-side pacing. */
export const gsmSettings = (e: {
  GSM_PROJECT: string;
  SECRET_MANAGER_EMULATOR_HOST?: string;
  GOOGLE_APPLICATION_CREDENTIALS?: string;
  ROTOR_GSM_ACCESSES_PER_MINUTE: number;
  ROTOR_GSM_WRITES_PER_MINUTE: number;
  ROTOR_GSM_VERSION_WRITES_PER_SECOND_PER_SECRET: number;
}) => ({
  project: e.GSM_PROJECT,
  emulatorHost: e.SECRET_MANAGER_EMULATOR_HOST,
  // The emulator takes no credentials; the real GSM takes the key file, or ambient (Workload Identity) ones.
  credentialsFile: e.SECRET_MANAGER_EMULATOR_HOST ? undefined : e.GOOGLE_APPLICATION_CREDENTIALS,
  accessesPerMinute: e.ROTOR_GSM_ACCESSES_PER_MINUTE,
  writesPerMinute: e.ROTOR_GSM_WRITES_PER_MINUTE,
  versionWritesPerSecondPerSecret: e.ROTOR_GSM_VERSION_WRITES_PER_SECOND_PER_SECRET,
});

/** Kafka link security straight from an environment (the CLI, scripts, tests). */
export const kafkaSecurityFromEnv = (env: NodeJS.ProcessEnv): KafkaSecurity =>
  kafkaSecurity(parseEnv({ ...TransportEnvFragments.insecure, ...TransportEnvFragments.kafka }, env));

/** Redis link security for `url` straight from an environment (the CLI, scripts, tests). */
export const redisSecurityFromEnv = (env: NodeJS.ProcessEnv, url: string): RedisSecurity =>
  redisSecurity({ ...parseEnv({ ...TransportEnvFragments.insecure, ...TransportEnvFragments.redis }, env), REDIS_URL: url });
