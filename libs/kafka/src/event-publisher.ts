import { context, type Context } from '@opentelemetry/api';
import { Partitioners, type Kafka, type Producer } from 'kafkajs';

import type { DomainTopic, Envelope } from '@rotor/contracts';
import { sleep } from '@rotor/backoff';
import { isDependencyOutage } from '@rotor/errors';

import { isKafkaAuthorizationFailure, KafkaAuthorizationError } from './errors';
import { endSpan, startSendSpan, withTraceHeaders } from './message-tracing';

export interface PublishOptions {
  /** Partition key; per-entity order (lease id, managed-secret name). Defaults to the event subject. */
  key?: string;
  /**
   * The trace the send belongs to; by default the caller's active context (the HTTP request's
   * or the consumed message's span). A batch handler names each item's own.
   */
  parent?: Context;
  /**
   * Give up after this long (a request path that must fail fast while the broker hangs). The
   * send may still land later; callers treat the timeout as "not published" and undo.
   */
  timeoutMs?: number;
}

/** A bounded send did not finish in time. */
export class PublishTimeoutError extends Error {
  override readonly name = 'PublishTimeoutError';
  /** Stable: service-kit's problem filter answers it with 503 kafka-unavailable. */
  readonly code = 'publish-timeout';
}

export interface OutgoingMessage {
  topic: string;
  key: string | null;
  /** A partition chosen by the caller instead of the key's (the audit log's checkpoint copies). */
  partition?: number;
  value: string;
  headers?: Record<string, string>;
  /** The trace this message continues, when not the send's own (an audit record: its event's). */
  traceContext?: Context;
}

/** Tries of one request, and the pauses between them (doubling): about 20 s in all, as kafkajs' own retries were. */
const SEND_ATTEMPTS = 8;
const SEND_RETRY_FIRST_MS = 200;
const SEND_RETRY_MAX_MS = 5_000;

/** kafkajs marks what a retry can mend; with its own retries off, the cause is in `originalError`. */
const isRetriable = (error: unknown): boolean => {
  for (
    let current = error as { retriable?: boolean; originalError?: unknown; name?: string } | undefined, depth = 0;
    current && depth < 4;
    depth++
  ) {
    if (current.retriable === true || current.name === 'KafkaJSConnectionError' || current.name === 'KafkaJSConnectionClosedError')
      return true;
    current = current.originalError as typeof current;
  }
  return isDependencyOutage(error);
};

/** Most bytes of message values one produce request groups (under the broker's 1 MiB per-partition batch limit). */
const MAX_GROUP_BYTES = 512 * 1024;

type TopicMessages = Parameters<Producer['sendBatch']>[0]['topicMessages'];

interface Queued {
  topicMessages: NonNullable<TopicMessages>;
  bytes: number;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * An idempotent producer that waits for every in-sync replica: once `publish` resolves, the
 * event is durable in Kafka.
 *
 * One produce request at a time: sends that arrive while one is in flight wait and then go
 * together in the next request (a group commit).
 *
 * The retries are this class's, of whole requests; kafkajs' own are off, and so is its
 * idempotence (which it only allows with its own retries). Its retry re-sends only to the
 * brokers that have not answered yet, so a message whose partition moved to a broker that had
 * answered is dropped while the send resolves; and its idempotent producer can number two
 * batches alike across a leader change, which the broker then acknowledges as a duplicate
 * without writing it. The chaos run (issue 15) lost acknowledged audit records and checkpoint
 * copies both ways when Kafka nodes were killed. Delivery is at least once: a retried request
 * may write again what its first attempt wrote, and every consumer dedupes by event id (the
 * audit verifier skips a record appended twice).
 */
export class EventPublisher {
  private readonly producer: Producer;
  private connected = false;
  private readonly queue: Queued[] = [];
  private sending = false;

  /**
   * `onRefused` counts the broker's authorization refusals (a metric in the services);
   * `sendAttempts` bounds the tries of one request (a test against a broker that is not there).
   */
  constructor(
    kafka: Kafka,
    private readonly onRefused: (topic: string) => void = () => undefined,
    private readonly sendAttempts = SEND_ATTEMPTS,
  ) {
    this.producer = kafka.producer({
      idempotent: false,
      retry: { retries: 0 },
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner, // murmur2, the same key→partition mapping as the Java client
    });
  }

  async connect(): Promise<void> {
    if (this.connected) return;
    await this.producer.connect();
    this.connected = true;
  }

  async publish<T extends DomainTopic>(event: Envelope<T>, options: PublishOptions = {}): Promise<void> {
    await this.publishAll([event], options);
  }

  /**
   * Several events in one produce request: a request path that reports many findings sends
   * them together, so a timeout leaves none of them sent by this call rather than some.
   * `options.key` applies to every event; without it each is keyed by its subject.
   */
  async publishAll(events: readonly Envelope<DomainTopic>[], options: PublishOptions = {}): Promise<void> {
    const { sent, cancel } = this.enqueue(
      events.map((event) => ({
        topic: event.type,
        key: options.key ?? event.subject,
        value: JSON.stringify(event),
        headers: { 'content-type': 'application/cloudevents+json', 'ce-id': event.id },
      })),
      options.parent,
    );
    if (options.timeoutMs === undefined) return sent;
    const what = [...new Set(events.map((event) => event.type))].join(', ');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        // Still waiting behind another request: it is never sent. Already handed to Kafka: it may land.
        cancel();
        reject(new PublishTimeoutError(`${what} not acknowledged within ${options.timeoutMs} ms`));
      }, options.timeoutMs);
    });
    sent.catch(() => undefined); // a late failure after the timeout is already answered
    try {
      await Promise.race([sent, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends raw messages (audit records, dead letters) with the same durability. */
  send(messages: OutgoingMessage[], parent?: Context): Promise<void> {
    return this.enqueue(messages, parent).sent;
  }

  private enqueue(messages: OutgoingMessage[], parent?: Context): { sent: Promise<void>; cancel: () => void } {
    // A batch handler's send (no active span) belongs to its first message's trace, not a new one.
    const traced = startSendSpan(messages, parent ?? messages[0]?.traceContext ?? context.active());
    const byTopic = new Map<string, OutgoingMessage[]>();
    for (const message of messages) {
      const batch = byTopic.get(message.topic);
      if (batch) batch.push(message);
      else byTopic.set(message.topic, [message]);
    }
    const topicMessages = [...byTopic].map(([topic, batch]) => ({
      topic,
      messages: batch.map((message) => ({
        key: message.key,
        ...(message.partition === undefined ? {} : { partition: message.partition }),
        value: message.value,
        headers: withTraceHeaders(message.headers, message.traceContext ?? traced.context),
      })),
    }));
    let entry!: Queued;
    const sent = new Promise<void>((resolve, reject) => {
      entry = { topicMessages, bytes: messages.reduce((sum, message) => sum + message.value.length, 0), resolve, reject };
    });
    sent.then(
      () => endSpan(traced.span),
      (error: unknown) => endSpan(traced.span, error instanceof Error ? error.name : 'send failed'),
    );
    this.queue.push(entry);
    this.sendNext();
    return {
      sent,
      cancel: () => {
        const index = this.queue.indexOf(entry);
        if (index < 0) return;
        this.queue.splice(index, 1);
        endSpan(traced.span, 'cancelled');
      },
    };
  }

  /** Sends what is queued, as one request, unless a request is in flight; then the next. */
  private sendNext(): void {
    if (this.sending || this.queue.length === 0) return;
    const group: Queued[] = [];
    let bytes = 0;
    while (this.queue.length > 0 && (group.length === 0 || bytes + this.queue[0]!.bytes <= MAX_GROUP_BYTES)) {
      const next = this.queue.shift()!;
      bytes += next.bytes;
      group.push(next);
    }
    this.sending = true;
    this.sendWithRetries(mergeTopics(group.flatMap((queued) => queued.topicMessages)))
      .then(
        () => group.forEach((queued) => queued.resolve()),
        (error: unknown) => {
          const refused = isKafkaAuthorizationFailure(error);
          for (const queued of group) {
            const topics = queued.topicMessages.map(({ topic }) => topic);
            if (refused) topics.forEach((topic) => this.onRefused(topic));
            queued.reject(refused ? new KafkaAuthorizationError(topics, { cause: error }) : error);
          }
        },
      )
      .finally(() => {
        this.sending = false;
        this.sendNext();
      });
  }

  /** The whole request again, with backoff, while the failure is one a retry can mend (kafkajs refreshed its metadata). */
  private async sendWithRetries(topicMessages: NonNullable<TopicMessages>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.producer.sendBatch({ acks: -1, topicMessages });
        return;
      } catch (error) {
        if (attempt >= this.sendAttempts || isKafkaAuthorizationFailure(error) || !isRetriable(error)) throw error;
        await sleep(Math.min(SEND_RETRY_MAX_MS, SEND_RETRY_FIRST_MS * 2 ** (attempt - 1)));
      }
    }
  }

  async disconnect(): Promise<void> {
    if (!this.connected) return;
    this.connected = false;
    await this.producer.disconnect();
  }
}

/** One entry per topic, messages in the order they were queued (per-key order is kept). */
function mergeTopics(topicMessages: NonNullable<TopicMessages>): NonNullable<TopicMessages> {
  const merged = new Map<string, NonNullable<TopicMessages>[number]['messages']>();
  for (const { topic, messages } of topicMessages) merged.set(topic, [...(merged.get(topic) ?? []), ...messages]);
  return [...merged].map(([topic, messages]) => ({ topic, messages }));
}
