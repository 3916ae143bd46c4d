import { Partitioners, type Kafka, type Producer } from 'kafkajs';

import type { DomainTopic, Envelope } from '@rotor/contracts';
import { outgoingTraceparent } from '@rotor/telemetry';

import { isKafkaAuthorizationFailure, KafkaAuthorizationError } from './errors';

export interface PublishOptions {
  /** Partition key; per-entity order (lease id, managed-secret name). Defaults to the event subject. */
  key?: string;
  /** Parent trace context, e.g. from the HTTP request or the consumed message. */
  traceparent?: string;
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
}

/**
 * An idempotent producer that waits for every in-sync replica: once `publish` resolves, the
 * event is durable in Kafka.
 */
export class EventPublisher {
  private readonly producer: Producer;
  private connected = false;

  /** `onRefused` counts the broker's authorization refusals (a metric in the services). */
  constructor(
    kafka: Kafka,
    private readonly onRefused: (topic: string) => void = () => undefined,
  ) {
    this.producer = kafka.producer({
      idempotent: true,
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
    const sending = this.send(
      events.map((event) => ({
        topic: event.type,
        key: options.key ?? event.subject,
        value: JSON.stringify(event),
        headers: { 'content-type': 'application/cloudevents+json', 'ce-id': event.id },
      })),
      options.traceparent,
    );
    if (options.timeoutMs === undefined) return sending;
    const what = [...new Set(events.map((event) => event.type))].join(', ');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(
        () => reject(new PublishTimeoutError(`${what} not acknowledged within ${options.timeoutMs} ms`)),
        options.timeoutMs,
      );
    });
    sending.catch(() => undefined); // a late failure after the timeout is already answered
    try {
      await Promise.race([sending, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends raw messages (audit records, dead letters) with the same durability. */
  async send(messages: OutgoingMessage[], parentTraceparent?: string): Promise<void> {
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
        headers: { ...message.headers, traceparent: outgoingTraceparent(message.headers?.['traceparent'] ?? parentTraceparent) },
      })),
    }));
    try {
      await this.producer.sendBatch({ acks: -1, topicMessages });
    } catch (error) {
      if (!isKafkaAuthorizationFailure(error)) throw error;
      const topics = [...byTopic.keys()];
      for (const topic of topics) this.onRefused(topic);
      throw new KafkaAuthorizationError(topics, { cause: error });
    }
  }

  async disconnect(): Promise<void> {
    if (!this.connected) return;
    this.connected = false;
    await this.producer.disconnect();
  }
}
