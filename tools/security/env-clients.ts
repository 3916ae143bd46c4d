import { Kafka, logLevel, type KafkaConfig } from 'kafkajs';
import Redis, { type RedisOptions } from 'ioredis';

import { kafkaSecurityFromEnv, redisSecurityFromEnv } from '@rotor/config';
import { inNamespace, KafkaNamespace, kafkaSecurityOptions } from '@rotor/kafka';
import { redisSecurityOptions } from '@rotor/redis-store';

/**
 * Kafka and Redis clients for the scripts, tests and benches, connected the way the services
 * are (TLS and the principal the environment names: `admin` in .rotor/env), in the Kafka
 * namespace ROTOR_KAFKA_NAMESPACE names (a test worker's own; none by default).
 */
export function kafkaFromEnv(clientId: string, env: NodeJS.ProcessEnv = process.env, extra: Partial<KafkaConfig> = {}): Kafka {
  const kafka = new Kafka({
    clientId,
    brokers: (env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',').map((broker) => broker.trim()),
    ...kafkaSecurityOptions(kafkaSecurityFromEnv(env)),
    logLevel: logLevel.NOTHING,
    ...extra,
  });
  return inNamespace(kafka, new KafkaNamespace(env['ROTOR_KAFKA_NAMESPACE'] ?? ''));
}

/** The environment's Redis user and TLS trust for REDIS_URL's server or `url` (e.g. a private test Redis). */
export const redisLinkFromEnv = (url?: string, env: NodeJS.ProcessEnv = process.env) =>
  redisSecurityFromEnv(env, url ?? env['REDIS_URL'] ?? 'rediss://127.0.0.1:6379');

export function redisFromEnv(url?: string, options: RedisOptions = {}, env: NodeJS.ProcessEnv = process.env): Redis {
  const target = url ?? env['REDIS_URL'] ?? 'rediss://127.0.0.1:6379';
  return new Redis(target, { ...redisSecurityOptions(redisLinkFromEnv(target, env)), ...options });
}
