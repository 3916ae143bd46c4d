import { Kafka, logLevel } from 'kafkajs';

import { kafkaSecurityFromEnv, redisSecurityFromEnv } from '@rotor/config';
import { Topics } from '@rotor/contracts';
import { inNamespace, KafkaNamespace, kafkaSecurityOptions, type KafkaLinkSecurity, type LogPoint } from '@rotor/kafka';

/**
 * Where the CLI finds the audit log: the same variables the services read, secure by default
 * (the operators' principal is `cli-audit`, which may only read audit topics).
 */
export function auditLogSettings(env: NodeJS.ProcessEnv = process.env) {
  const redisUrl = env['REDIS_URL'] ?? 'rediss://127.0.0.1:6379';
  return {
    brokers: (env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',').map((broker) => broker.trim()),
    kafkaSecurity: kafkaSecurityFromEnv(env),
    kafkaNamespace: env['ROTOR_KAFKA_NAMESPACE'] ?? '',
    topic: env['ROTOR_AUDIT_TOPIC'] ?? Topics.auditLog,
    redisUrl,
    /** Redis Cluster seed nodes (REDIS_CLUSTER_NODES), as the services read them. */
    redisClusterNodes: env['REDIS_CLUSTER_NODES']?.split(',').map((node) => node.trim()),
    /** Only `--rebuild` uses Redis, so its settings are checked only then. */
    redisSecurity: () => redisSecurityFromEnv(env, redisUrl),
    auditKey: env['ROTOR_AUDIT_KEY'],
  };
}

export const cliKafka = (brokers: string[], security?: KafkaLinkSecurity, namespace = '') =>
  inNamespace(
    new Kafka({ clientId: 'rotor-cli', brokers, ...kafkaSecurityOptions(security), logLevel: logLevel.NOTHING, retry: { retries: 5 } }),
    new KafkaNamespace(namespace),
  );

/** A point in the log from a flag: an ISO time or an offset applied to every partition. */
export function parseLogPoint(text: string, flag: string): LogPoint {
  if (/^\d+$/.test(text)) return { offset: BigInt(text) };
  const time = new Date(text);
  if (Number.isNaN(time.getTime())) throw new Error(`--${flag}: expected an ISO time (2026-11-27T10:00:00Z) or an offset, got "${text}"`);
  return { time };
}
