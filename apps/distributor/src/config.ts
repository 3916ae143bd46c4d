import { EnvFragments, parseEnv } from '@rotor/config';

export function loadDistributorConfig(env: NodeJS.ProcessEnv = process.env) {
  const e = parseEnv(
    {
      ...EnvFragments.http(8082),
      ...EnvFragments.logging,
      ...EnvFragments.kafka,
      ...EnvFragments.redis,
      ...EnvFragments.gsm,
      ...EnvFragments.identity,
    },
    env,
  );
  return {
    service: 'distributor' as const,
    http: { host: e.HOST, port: e.PORT },
    logLevel: e.LOG_LEVEL,
    kafka: { brokers: e.KAFKA_BROKERS, clientId: e.KAFKA_CLIENT_ID ?? 'rotor-distributor', partitions: e.KAFKA_TOPIC_PARTITIONS, replicationFactor: e.KAFKA_REPLICATION_FACTOR },
    redis: { url: e.REDIS_URL },
    gsm: { project: e.GSM_PROJECT, emulatorHost: e.SECRET_MANAGER_EMULATOR_HOST },
    identity: { jwks: e.ROTOR_JWKS, issuer: e.ROTOR_TOKEN_ISSUER, audience: e.ROTOR_TOKEN_AUDIENCE, clockSkewSeconds: e.ROTOR_CLOCK_SKEW_SECONDS },
  };
}

export type DistributorConfig = ReturnType<typeof loadDistributorConfig>;
