import { Kafka, logLevel, type KafkaConfig } from 'kafkajs';
import Redis, { type RedisOptions } from 'ioredis';

import { kafkaSecurity, parseEnv, redisSecurity, TransportEnvFragments } from '@rotor/config';
import { kafkaSecurityOptions } from '@rotor/kafka';
import { redisSecurityOptions } from '@rotor/redis-store';

/**
 * Kafka and Redis clients for the scripts, tests and benches, connected the way the services
 * are (TLS and the principal the environment names: `admin` in .rotor/env).
 */
export function kafkaFromEnv(clientId: string, env: NodeJS.ProcessEnv = process.env, extra: Partial<KafkaConfig> = {}): Kafka {
  const e = parseEnv({ ...TransportEnvFragments.insecure, ...TransportEnvFragments.kafka }, env);
  return new Kafka({
    clientId,
    brokers: (env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',').map((broker) => broker.trim()),
    ...kafkaSecurityOptions(kafkaSecurity(e)),
    logLevel: logLevel.NOTHING,
    ...extra,
  });
}

/** ioredis options for REDIS_URL's server with the environment's user (or `url`, e.g. a private test Redis). */
export function redisOptionsFromEnv(env: NodeJS.ProcessEnv = process.env, url = env['REDIS_URL'] ?? 'rediss://127.0.0.1:6379'): RedisOptions {
  const e = parseEnv({ ...TransportEnvFragments.insecure, ...TransportEnvFragments.redis }, env);
  return redisSecurityOptions(redisSecurity({ ...e, REDIS_URL: url }));
}

/** The environment's Redis user and TLS trust, for libs that take a link's security (createRedis, backends). */
export function redisLinkFromEnv(url?: string, env: NodeJS.ProcessEnv = process.env) {
  const e = parseEnv({ ...TransportEnvFragments.insecure, ...TransportEnvFragments.redis }, env);
  return redisSecurity({ ...e, REDIS_URL: url ?? env['REDIS_URL'] ?? 'rediss://127.0.0.1:6379' });
}

export function redisFromEnv(url?: string, options: RedisOptions = {}, env: NodeJS.ProcessEnv = process.env): Redis {
  const target = url ?? env['REDIS_URL'] ?? 'rediss://127.0.0.1:6379';
  return new Redis(target, { ...redisOptionsFromEnv(env, target), ...options });
}
