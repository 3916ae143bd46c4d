import { randomUUID } from 'node:crypto';

import { Kafka, logLevel, type KafkaMessage } from 'kafkajs';

import { Topics } from '@rotor/contracts';

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

/** A point in the log: a time (Kafka's offsets-for-times) or an offset applied to every partition. */
export type LogPoint = { time: Date } | { offset: bigint };

export function parseLogPoint(text: string, flag: string): LogPoint {
  if (/^\d+$/.test(text)) return { offset: BigInt(text) };
  const time = new Date(text);
  if (Number.isNaN(time.getTime())) throw new Error(`--${flag}: expected an ISO time (2026-11-27T10:00:00Z) or an offset, got "${text}"`);
  return { time };
}

export interface ReadRange {
  topic: string;
  from?: LogPoint;
  /** Exclusive; the end of each partition at the start of the read by default. */
  to?: LogPoint;
  onMessage(message: KafkaMessage, partition: number): Promise<void> | void;
  onProgress?(read: number, total: number): void;
  signal?: AbortSignal;
}

/**
 * Reads one range of the audit topic, partition by partition in offset order (each chain lives
 * in one partition), with a throw-away consumer group that it deletes afterwards.
 */
export async function readLogRange(kafka: Kafka, range: ReadRange): Promise<{ read: number; total: number; partitions: number }> {
  const admin = kafka.admin();
  await admin.connect();
  const groupId = `rotor-cli-replay-${randomUUID()}`;
  try {
    const watermarks = await admin.fetchTopicOffsets(range.topic);
    const at = async (point: LogPoint | undefined, fallback: 'low' | 'high') => {
      const offsets = new Map<number, bigint>();
      const byTime = point && 'time' in point ? await admin.fetchTopicOffsetsByTimestamp(range.topic, point.time.getTime()) : [];
      for (const { partition, low, high } of watermarks) {
        let offset: bigint;
        if (!point) offset = BigInt(fallback === 'low' ? low : high);
        else if ('offset' in point) offset = point.offset;
        else {
          const found = BigInt(byTime.find((entry) => entry.partition === partition)?.offset ?? '-1');
          offset = found < 0n ? BigInt(high) : found; // -1: nothing at or after that time
        }
        offsets.set(partition, offset < BigInt(low) ? BigInt(low) : offset > BigInt(high) ? BigInt(high) : offset);
      }
      return offsets;
    };
    const starts = await at(range.from, 'low');
    const ends = await at(range.to, 'high');
    const remaining = new Map<number, bigint>();
    let total = 0;
    for (const [partition, end] of ends) {
      const start = starts.get(partition) ?? end;
      if (end > start) {
        remaining.set(partition, end);
        total += Number(end - start);
      }
    }
    range.onProgress?.(0, total);
    if (remaining.size === 0) return { read: 0, total, partitions: watermarks.length };

    const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, maxBytesPerPartition: 8 * 1024 * 1024, maxBytes: 32 * 1024 * 1024 });
    await consumer.connect();
    let read = 0;
    try {
      await consumer.subscribe({ topics: [range.topic], fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        range.signal?.addEventListener('abort', () => resolve(), { once: true });
        consumer.on(consumer.events.CRASH, ({ payload }) => reject(payload.error));
        consumer
          .run({
            autoCommit: false,
            eachBatchAutoResolve: true,
            eachBatch: async ({ batch }) => {
              const end = remaining.get(batch.partition);
              const start = starts.get(batch.partition) ?? 0n;
              if (end === undefined) return;
              for (const message of batch.messages) {
                const offset = BigInt(message.offset);
                if (offset < start) continue;
                if (offset >= end) break;
                await range.onMessage(message, batch.partition);
                read++;
                if (read % 5000 === 0) range.onProgress?.(read, total);
                if (offset + 1n >= end) remaining.delete(batch.partition);
              }
              if (remaining.size === 0) resolve();
            },
          })
          .catch(reject);
        for (const [partition, offset] of starts) {
          if (remaining.has(partition)) consumer.seek({ topic: range.topic, partition, offset: String(offset) });
        }
      });
      range.onProgress?.(read, total);
      return { read, total, partitions: watermarks.length };
    } finally {
      await consumer.disconnect();
      await admin.deleteGroups([groupId]).catch(() => undefined);
    }
  } finally {
    await admin.disconnect();
  }
}
