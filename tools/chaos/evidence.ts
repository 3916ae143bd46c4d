import { randomUUID } from 'node:crypto';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

import type { Kafka } from 'kafkajs';

import { ALL_TOPICS, Topics } from '@rotor/contracts';

import { ROOT, REPLICAS } from './stack';

export interface TopicMessage {
  topic: string;
  value: string;
  headers: string;
}

/**
 * Every message on every rotor topic of the run's namespace since `since`, read with one
 * throw-away consumer for all topics (a group per topic costs a join of seconds each).
 */
export async function readRun(kafka: Kafka, since: Date, timeoutMs = 180_000): Promise<TopicMessage[]> {
  const admin = kafka.admin();
  await admin.connect();
  const groupId = `rotor-chaos-reader-${randomUUID()}`;
  const starts = new Map<string, bigint>();
  const remaining = new Map<string, bigint>();
  try {
    for (const topic of ALL_TOPICS) {
      const watermarks = await admin.fetchTopicOffsets(topic);
      const byTime = await admin.fetchTopicOffsetsByTimestamp(topic, since.getTime());
      for (const { partition, low, high } of watermarks) {
        const found = BigInt(byTime.find((entry) => entry.partition === partition)?.offset ?? '-1');
        const start = found < 0n ? BigInt(high) : found < BigInt(low) ? BigInt(low) : found;
        starts.set(`${topic}:${partition}`, start);
        if (BigInt(high) > start) remaining.set(`${topic}:${partition}`, BigInt(high));
      }
    }
    const messages: TopicMessage[] = [];
    if (remaining.size === 0) return messages;
    const consumer = kafka.consumer({
      groupId,
      allowAutoTopicCreation: false,
      maxBytesPerPartition: 8 * 1024 * 1024,
      maxBytes: 64 * 1024 * 1024,
    });
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [...ALL_TOPICS], fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(
                `reading the run's topics: ${remaining.size} partitions unread after ${timeoutMs} ms (${[...remaining.keys()].slice(0, 3).join(', ')})`,
              ),
            ),
          timeoutMs,
        );
        const done = () => {
          clearTimeout(timer);
          resolve();
        };
        consumer.on(consumer.events.CRASH, ({ payload }) => reject(payload.error));
        consumer
          .run({
            autoCommit: false,
            eachBatchAutoResolve: true,
            eachBatch: async ({ batch }) => {
              const key = `${batch.topic}:${batch.partition}`;
              const end = remaining.get(key);
              const start = starts.get(key) ?? 0n;
              if (end === undefined) return;
              for (const message of batch.messages) {
                const offset = BigInt(message.offset);
                if (offset < start) continue;
                if (offset >= end) break;
                messages.push({
                  topic: batch.topic,
                  value: message.value?.toString() ?? '',
                  headers: Object.values(message.headers ?? {})
                    .map((value) => String(value))
                    .join('\n'),
                });
                if (offset + 1n >= end) remaining.delete(key);
              }
              if (remaining.size === 0) done();
              await Promise.resolve();
            },
          })
          .catch(reject);
        for (const [key, offset] of starts) {
          const split = key.lastIndexOf(':');
          if (remaining.has(key))
            consumer.seek({ topic: key.slice(0, split), partition: Number(key.slice(split + 1)), offset: String(offset) });
        }
      });
    } finally {
      await consumer.disconnect();
    }
    return messages;
  } finally {
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
  }
}

interface Envelope<T> {
  id: string;
  type: string;
  time: string;
  data: T;
}

export const parseEvent = <T>(value: string): Envelope<T> | undefined => {
  try {
    const event = JSON.parse(value) as Envelope<T>;
    return typeof event?.id === 'string' && event.data && typeof event.data === 'object' ? event : undefined;
  } catch {
    return undefined;
  }
};

export const eventsOf = <T>(messages: TopicMessage[], topic: string): Envelope<T>[] =>
  messages
    .filter((message) => message.topic === topic)
    .map((message) => parseEvent<T>(message.value))
    .filter((event): event is Envelope<T> => !!event);

export interface LeaseFacts {
  leaseId: string;
  backend: string;
  namespace: string;
  expiresAt: number;
  /** Distinct lease.revoked event ids, with their reason and time. */
  revoked: { id: string; reason: string; revokedAt: number }[];
}

/** What the topics say about each lease: issued (and renewed) expiry, and every revocation event. */
export function leaseFacts(messages: TopicMessage[]): Map<string, LeaseFacts> {
  const leases = new Map<string, LeaseFacts>();
  type Issued = { leaseId: string; backend: string; workload: { namespace: string }; expiresAt: string };
  for (const event of eventsOf<Issued>(messages, Topics.leaseIssued)) {
    if (!event.data.leaseId) continue;
    const known = leases.get(event.data.leaseId);
    const expiresAt = Date.parse(event.data.expiresAt);
    if (known) known.expiresAt = Math.max(known.expiresAt, expiresAt);
    else
      leases.set(event.data.leaseId, {
        leaseId: event.data.leaseId,
        backend: event.data.backend,
        namespace: event.data.workload?.namespace ?? '',
        expiresAt,
        revoked: [],
      });
  }
  for (const event of eventsOf<{ leaseId: string; expiresAt: string }>(messages, Topics.leaseRenewed)) {
    const known = leases.get(event.data.leaseId);
    if (known) known.expiresAt = Math.max(known.expiresAt, Date.parse(event.data.expiresAt));
  }
  for (const event of eventsOf<{ leaseId: string; reason: string; revokedAt: string }>(messages, Topics.leaseRevoked)) {
    const known = leases.get(event.data.leaseId);
    if (!known || known.revoked.some((revocation) => revocation.id === event.id)) continue;
    known.revoked.push({ id: event.id, reason: event.data.reason, revokedAt: Date.parse(event.data.revokedAt) });
  }
  return leases;
}

/** The replicas' log files (.rotor/logs/test/<app>-<port>.log, appended across restarts). */
export function replicaLogs(): { name: string; text: string }[] {
  return REPLICAS.map(({ id, app, port }) => {
    const file = join(ROOT, '.rotor', 'logs', 'test', `${app}-${port}.log`);
    return { name: `${id} log`, text: existsSync(file) ? readFileSync(file, 'utf8') : '' };
  });
}

/**
 * Finds which of many secret values occur in a text, in one pass per distinct value length:
 * every window of the text's runs of value characters is looked up in a set.
 */
export class CanarySearch {
  private readonly values: Set<string>;
  private readonly lengths: number[];
  private readonly runs: RegExp;

  constructor(values: Iterable<string>) {
    this.values = new Set([...values].filter((value) => value.length >= 12));
    this.lengths = [...new Set([...this.values].map((value) => value.length))];
    const alphabet = new Set([...this.values].join(''));
    const escaped = [...alphabet].map((char) => char.replace(/[\]\\^-]/g, '\\$&')).join('');
    this.runs = new RegExp(`[${escaped || 'a'}]{12,}`, 'g');
  }

  get size(): number {
    return this.values.size;
  }

  /** The values found in `text`. */
  find(text: string): Set<string> {
    const found = new Set<string>();
    if (this.values.size === 0) return found;
    for (const match of text.matchAll(this.runs)) {
      const run = match[0];
      for (const length of this.lengths) {
        for (let start = 0; start + length <= run.length; start++) {
          const window = run.slice(start, start + length);
          if (this.values.has(window)) found.add(window);
        }
      }
    }
    return found;
  }
}
