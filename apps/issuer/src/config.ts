import { EnvFragments, parseEnv } from '@rotor/config';

export function loadIssuerConfig(env: NodeJS.ProcessEnv = process.env) {
  const e = parseEnv(
    {
      ...EnvFragments.http(8080),
      ...EnvFragments.logging,
      ...EnvFragments.kafka,
      ...EnvFragments.redis,
      ...EnvFragments.backends,
      ...EnvFragments.gsm,
      ...EnvFragments.catalog,
      ...EnvFragments.identity,
      ...EnvFragments.keys.tokenHashKey,
    },
    env,
  );
  return {
    service: 'issuer' as const,
    http: { host: e.HOST, port: e.PORT },
    logLevel: e.LOG_LEVEL,
    kafka: { brokers: e.KAFKA_BROKERS, clientId: e.KAFKA_CLIENT_ID ?? 'rotor-issuer', partitions: e.KAFKA_TOPIC_PARTITIONS, replicationFactor: e.KAFKA_REPLICATION_FACTOR },
    redis: { url: e.REDIS_URL },
    backends: { databaseUrl: e.DATABASE_URL, redisAclUrl: e.ROTOR_REDIS_ACL_URL ?? e.REDIS_URL },
    gsm: { project: e.GSM_PROJECT, emulatorHost: e.SECRET_MANAGER_EMULATOR_HOST },
    catalogFile: e.ROTOR_CATALOG,
    identity: { jwks: e.ROTOR_JWKS, issuer: e.ROTOR_TOKEN_ISSUER, audience: e.ROTOR_TOKEN_AUDIENCE, clockSkewSeconds: e.ROTOR_CLOCK_SKEW_SECONDS },
    tokenReview: e.ROTOR_TOKEN_REVIEW ? { kubeconfig: e.KUBECONFIG } : undefined,
    tokenHashKey: e.ROTOR_TOKEN_HASH_KEY,
  };
}

export type IssuerConfig = ReturnType<typeof loadIssuerConfig>;
