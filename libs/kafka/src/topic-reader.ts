import { randomUUID } from 'node:crypto';

import type { Kafka, KafkaMessage } from 'kafkajs';

export interface ReadRangeOptions {
  topic: string;
  /** Start at this time (Kafka's offsets-for-times); the beginning of the topic by default. */
  fromTime?: Date;
  /** Called in offset order within each partition. */
  onMessage(message: KafkaMessage, partition: number): Promise<void> | void;
  /** Called with messages read so far and the total to read, for progress bars. */
  onProgress?(read: number, total: number): void;
  signal?: AbortSignal;
}

/**
 * Reads a topic from a point up to the end offsets it has when the read starts, with a
 * throw-away consumer group (kafkajs can only read through groups), then deletes the group.
 */
export async function readTopicRange(kafka: Kafka, options: ReadRangeOptions): Promise<{ read: number }> {
  const admin = kafka.admin();
  await admin.connect();
  const groupId = `rotor-reader-${randomUUID()}`;
  try {
    const ends = await admin.fetchTopicOffsets(options.topic);
    const starts = options.fromTime
      ? await admin.fetchTopicOffsetsByTimestamp(options.topic, options.fromTime.getTime())
      : ends.map(({ partition, low }) => ({ partition, offset: low }));
    const remaining = new Map<number, bigint>();
    let total = 0;
    for (const { partition, high, low } of ends) {
      const start = BigInt(starts.find((s) => s.partition === partition)?.offset ?? low);
      const effectiveStart = start < 0n ? BigInt(high) : start; // -1: nothing at or after that time
      if (BigInt(high) > effectiveStart) {
        remaining.set(partition, BigInt(high));
        total += Number(BigInt(high) - effectiveStart);
      }
    }
    if (remaining.size === 0) return { read: 0 };

    const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false });
    await consumer.connect();
    let read = 0;
    try {
      await consumer.subscribe({ topics: [options.topic], fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        options.signal?.addEventListener('abort', () => resolve(), { once: true });
        consumer.on(consumer.events.CRASH, ({ payload }) => reject(payload.error));
        consumer
          .run({
            autoCommit: false,
            eachBatchAutoResolve: true,
            eachBatch: async ({ batch }) => {
              const end = remaining.get(batch.partition);
              if (end === undefined) return;
              for (const message of batch.messages) {
                if (BigInt(message.offset) >= end) break;
                await options.onMessage(message, batch.partition);
                read++;
                if (read % 1000 === 0) options.onProgress?.(read, total);
                if (BigInt(message.offset) + 1n >= end) remaining.delete(batch.partition);
              }
              if (remaining.size === 0) resolve();
            },
          })
          .catch(reject);
        for (const { partition, offset } of starts) {
          if (remaining.has(partition) && Number(offset) >= 0) consumer.seek({ topic: options.topic, partition, offset: String(offset) });
        }
      });
      options.onProgress?.(read, total);
      return { read };
    } finally {
      await consumer.disconnect();
      await admin.deleteGroups([groupId]).catch(() => undefined);
    }
  } finally {
    await admin.disconnect();
  }
}
