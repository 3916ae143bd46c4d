import { Kafka, logLevel } from 'kafkajs';

import { Topics } from '@rotor/contracts';
import type { LogPoint } from '@rotor/kafka';

/** Where the CLI finds the audit log: the same variables the services read. */
export function auditLogSettings(env: NodeJS.ProcessEnv = process.env) {
  return {
    brokers: (env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',').map((broker) => broker.trim()),
    topic: env['ROTOR_AUDIT_TOPIC'] ?? Topics.auditLog,
    redisUrl: env['REDIS_URL'] ?? 'redis://127.0.0.1:6379',
    auditKey: env['ROTOR_AUDIT_KEY'],
  };
}

export const cliKafka = (brokers: string[]) => new Kafka({ clientId: 'rotor-cli', brokers, logLevel: logLevel.NOTHING, retry: { retries: 5 } });

/** A point in the log from a flag: an ISO time or an offset applied to every partition. */
export function parseLogPoint(text: string, flag: string): LogPoint {
  if (/^\d+$/.test(text)) return { offset: BigInt(text) };
  const time = new Date(text);
  if (Number.isNaN(time.getTime())) throw new Error(`--${flag}: expected an ISO time (2026-11-27T10:00:00Z) or an offset, got "${text}"`);
  return { time };
}
