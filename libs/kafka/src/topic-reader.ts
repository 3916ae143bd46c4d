import { randomUUID } from 'node:crypto';

import type { Admin, Kafka, KafkaMessage } from 'kafkajs';

import { retryRetriable } from './retry-retriable';

/** A point in a topic: a time (Kafka's offsets-for-times) or an offset applied to every partition. */
export type LogPoint = { time: Date } | { offset: bigint };

export interface ReadRangeOptions {
  /** One topic, or several read together by one consumer (a group join costs seconds; one per topic adds up). */
  topic: string | readonly string[];
  /** Start here; the beginning of the topic by default. */
  from?: LogPoint;
  /** Shorthand for `from: { time }`. */
  fromTime?: Date;
  /** Exclusive; the end of each partition when the read starts by default. */
  to?: LogPoint;
  /** Called in offset order within each partition. */
  onMessage(message: KafkaMessage, partition: number, topic: string): Promise<void> | void;
  /** Called with messages read so far and the total to read, for progress bars. */
  onProgress?(read: number, total: number): void;
  /** How many messages between progress calls (default 1000). */
  progressEvery?: number;
  signal?: AbortSignal;
  /** Prefix of the throw-away group: the reader's principal may join only its own groups (docs/access-policy.md). */
  groupPrefix?: string;
}

export interface ReadRangeResult {
  read: number;
  total: number;
  partitions: number;
}

/**
 * Reads a range of a topic (or of several), partition by partition in offset order, with a
 * throw-away consumer group (kafkajs can only read through groups), then deletes the group.
 */
export async function readTopicRange(kafka: Kafka, options: ReadRangeOptions): Promise<ReadRangeResult> {
  const topics = typeof options.topic === 'string' ? [options.topic] : [...options.topic];
  const admin = kafka.admin();
  await admin.connect();
  const groupId = `${options.groupPrefix ?? 'rotor-reader'}-${randomUUID()}`;
  const at = (topic: string, partition: number) => `${partition}@${topic}`;
  try {
    const from = options.from ?? (options.fromTime ? { time: options.fromTime } : undefined);
    const starts = new Map<string, { topic: string; partition: number; offset: bigint }>();
    const remaining = new Map<string, bigint>();
    let total = 0;
    let partitions = 0;
    for (const topic of topics) {
      const watermarks = await retryRetriable(() => admin.fetchTopicOffsets(topic));
      partitions += watermarks.length;
      const begin = await offsetsAt(admin, topic, watermarks, from, 'low');
      const ends = await offsetsAt(admin, topic, watermarks, options.to, 'high');
      for (const [partition, end] of ends) {
        const start = begin.get(partition) ?? end;
        starts.set(at(topic, partition), { topic, partition, offset: start });
        if (end > start) {
          remaining.set(at(topic, partition), end);
          total += Number(end - start);
        }
      }
    }
    options.onProgress?.(0, total);
    if (remaining.size === 0) return { read: 0, total, partitions };

    const progressEvery = options.progressEvery ?? 1000;
    let read = 0;
    const consumeOnce = async (): Promise<void> => {
      const consumer = kafka.consumer({
        groupId,
        allowAutoTopicCreation: false,
        maxBytesPerPartition: 8 * 1024 * 1024,
        maxBytes: 32 * 1024 * 1024,
        // The range is known and read to its end; disconnecting then waits for the fetch in flight,
        // which an idle partition holds open this long (kafkajs' default is 5 s).
        maxWaitTimeInMs: 250,
      });
      await consumer.connect();
      try {
        await consumer.subscribe({ topics, fromBeginning: true });
        await new Promise<void>((resolve, reject) => {
          options.signal?.addEventListener('abort', () => resolve(), { once: true });
          consumer.on(consumer.events.CRASH, ({ payload }) => reject(payload.error));
          consumer
            .run({
              autoCommit: false,
              eachBatchAutoResolve: true,
              eachBatch: async ({ batch }) => {
                const key = at(batch.topic, batch.partition);
                const end = remaining.get(key);
                const start = starts.get(key)?.offset ?? 0n;
                if (end === undefined) return;
                for (const message of batch.messages) {
                  const offset = BigInt(message.offset);
                  if (offset < start) continue;
                  if (offset >= end) break;
                  await options.onMessage(message, batch.partition, batch.topic);
                  read++;
                  if (read % progressEvery === 0) options.onProgress?.(read, total);
                  if (offset + 1n >= end) remaining.delete(key);
                }
                if (remaining.size === 0) resolve();
              },
            })
            .catch(reject);
          for (const [key, { topic, partition, offset }] of starts) {
            if (remaining.has(key)) consumer.seek({ topic, partition, offset: String(offset) });
          }
        });
      } finally {
        await consumer.disconnect();
      }
    };
    try {
      // Joining the throw-away group can meet a coordinator still loading (a broker that just
      // resumed or restarted): start again, but only while nothing was handed to onMessage.
      await retryRetriable(consumeOnce, { unless: () => read > 0 });
      options.onProgress?.(read, total);
      return { read, total, partitions };
    } finally {
      await admin.deleteGroups([groupId]).catch(() => undefined);
    }
  } finally {
    await admin.disconnect();
  }
}

/** Each partition's offset at a point, clamped to what the partition holds. */
async function offsetsAt(
  admin: Admin,
  topic: string,
  watermarks: { partition: number; low: string; high: string }[],
  point: LogPoint | undefined,
  fallback: 'low' | 'high',
): Promise<Map<number, bigint>> {
  const byTime =
    point && 'time' in point ? await retryRetriable(() => admin.fetchTopicOffsetsByTimestamp(topic, point.time.getTime())) : [];
  const offsets = new Map<number, bigint>();
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
}
