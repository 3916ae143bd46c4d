import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

import type { Admin, Kafka } from 'kafkajs';

import { ALL_TOPICS, DOMAIN_TOPICS, Topics } from '@rotor/contracts';
import { readTopicRange } from '@rotor/kafka';

import { ROOT, REPLICAS } from './stack';

export interface TopicMessage {
  topic: string;
  partition: number;
  value: string;
  headers: string;
}

/** Every message on every rotor topic of the run's namespace since `since`, read by one consumer. */
export async function readRun(kafka: Kafka, since: Date, timeoutMs = 180_000): Promise<TopicMessage[]> {
  const messages: TopicMessage[] = [];
  const signal = AbortSignal.timeout(timeoutMs);
  const { read, total } = await readTopicRange(kafka, {
    topic: ALL_TOPICS,
    fromTime: since,
    signal,
    groupPrefix: 'rotor-chaos-reader',
    onMessage: (message, partition, topic) => {
      messages.push({
        topic,
        partition,
        value: message.value?.toString() ?? '',
        headers: Object.values(message.headers ?? {})
          .map((value) => String(value))
          .join('\n'),
      });
    },
  });
  if (read < total) throw new Error(`reading the run's topics: ${read} of ${total} messages after ${timeoutMs} ms`);
  return messages;
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

/** The auditors' group lag over every domain topic: events not yet recorded (committed). */
export async function auditorLag(admin: Admin): Promise<number> {
  const committed = await admin.fetchOffsets({ groupId: 'rotor-auditor', topics: [...DOMAIN_TOPICS] });
  let lag = 0;
  for (const topic of DOMAIN_TOPICS) {
    const done = committed.find((entry) => entry.topic === topic)?.partitions ?? [];
    for (const { partition, high, low } of await admin.fetchTopicOffsets(topic)) {
      const offset = Number(done.find((entry) => entry.partition === partition)?.offset ?? '-1');
      lag += Number(high) - (offset < 0 ? Number(low) : offset);
    }
  }
  return lag;
}
