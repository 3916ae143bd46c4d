import { EnvFragments, parseEnv } from '@rotor/config';

export function loadAuditorConfig(env: NodeJS.ProcessEnv = process.env) {
  const e = parseEnv(
    {
      ...EnvFragments.http(8083),
      ...EnvFragments.logging,
      ...EnvFragments.kafka,
      ...EnvFragments.redis,
      ...EnvFragments.identity,
      ...EnvFragments.keys.auditKey,
    },
    env,
  );
  return {
    service: 'auditor' as const,
    http: { host: e.HOST, port: e.PORT },
    logLevel: e.LOG_LEVEL,
    kafka: { brokers: e.KAFKA_BROKERS, clientId: e.KAFKA_CLIENT_ID ?? 'rotor-auditor', partitions: e.KAFKA_TOPIC_PARTITIONS, replicationFactor: e.KAFKA_REPLICATION_FACTOR },
    redis: { url: e.REDIS_URL },
    identity: { jwks: e.ROTOR_JWKS, issuer: e.ROTOR_TOKEN_ISSUER, audience: e.ROTOR_TOKEN_AUDIENCE, clockSkewSeconds: e.ROTOR_CLOCK_SKEW_SECONDS },
    auditKey: e.ROTOR_AUDIT_KEY,
  };
}

export type AuditorConfig = ReturnType<typeof loadAuditorConfig>;
