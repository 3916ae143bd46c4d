import type { Consumer, IHeaders, Kafka, KafkaMessage } from 'kafkajs';

import { InvalidEventError, parseEvent, Topics, type DeadLetter, type DomainTopic, type Envelope } from '@rotor/contracts';
import type { Logger, Metrics } from '@rotor/telemetry';

import { backoffDelay, DEFAULT_BACKOFF, sleep, type BackoffPolicy } from './backoff';
import { MalformedMessageError, PermanentError } from './errors';
import type { EventPublisher } from './event-publisher';

export interface MessageContext {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  timestamp: string;
  traceparent?: string;
  headers: Record<string, string>;
  logger: Logger;
}

export interface Subscription<T> {
  topics: readonly string[];
  /** Turns the decoded JSON into the handler's input; throw MalformedMessageError to dead-letter it. */
  parse(json: unknown, topic: string): T;
  /** Resolves only once its effect is durable: the offset is committed after that. Must be idempotent. */
  handle(message: T, context: MessageContext): Promise<void>;
}

/** A subscription to one domain topic, validated against its contract. */
export const onEvent = <T extends DomainTopic>(
  topic: T,
  handle: (event: Envelope<T>, context: MessageContext) => Promise<void>,
): Subscription<Envelope<T>> => ({
  topics: [topic],
  parse: (json) => {
    try {
      return parseEvent(topic, json);
    } catch (error) {
      if (error instanceof InvalidEventError) throw new MalformedMessageError(error.message);
      throw error;
    }
  },
  handle,
});

export interface ConsumerRunnerOptions {
  groupId: string;
  backoff?: BackoffPolicy;
  /**
   * What to do when a handler keeps failing: `dead-letter` (default) parks the message on
   * rotor.dlq.v1 and moves on; `retry-forever` holds the partition until the handler succeeds
   * (for consumers that must fail closed, like the auditor).
   */
  onExhausted?: 'dead-letter' | 'retry-forever';
  fromBeginning?: boolean;
  /** How long the group waits before handing a silent member's partitions to another (kafkajs default 30 s). */
  sessionTimeoutMs?: number;
}

/**
 * Runs subscriptions in one consumer group: parse → validate → handle → commit. Offsets are
 * committed only for messages whose handler resolved or that were durably dead-lettered.
 */
export class ConsumerRunner {
  private readonly consumer: Consumer;
  private readonly subscriptions = new Map<string, Subscription<unknown>>();
  private readonly stopping = new AbortController();
  private readonly backoff: BackoffPolicy;
  private running = false;
  private readonly processed;
  private readonly deadLettered;
  private readonly handleSeconds;

  constructor(
    kafka: Kafka,
    private readonly publisher: EventPublisher,
    private readonly logger: Logger,
    metrics: Metrics,
    private readonly options: ConsumerRunnerOptions,
  ) {
    this.consumer = kafka.consumer({
      groupId: options.groupId,
      allowAutoTopicCreation: false,
      ...(options.sessionTimeoutMs ? { sessionTimeout: options.sessionTimeoutMs, heartbeatInterval: Math.floor(options.sessionTimeoutMs / 3) } : {}),
    });
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.processed = metrics.counter('rotor_kafka_messages_total', 'Messages consumed, by outcome', ['topic', 'outcome']);
    this.deadLettered = metrics.counter('rotor_kafka_dead_letters_total', 'Messages sent to rotor.dlq.v1', ['topic', 'reason']);
    this.handleSeconds = metrics.histogram('rotor_kafka_handle_seconds', 'Handler time per message', ['topic']);
  }

  subscribe<T>(subscription: Subscription<T>): this {
    for (const topic of subscription.topics) {
      if (this.subscriptions.has(topic)) throw new Error(`${topic} already has a handler in ${this.options.groupId}`);
      this.subscriptions.set(topic, subscription);
    }
    return this;
  }

  get topics(): string[] {
    return [...this.subscriptions.keys()];
  }

  get isRunning(): boolean {
    return this.running;
  }

  async start(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: this.topics, fromBeginning: this.options.fromBeginning ?? true });
    await this.consumer.run({
      autoCommit: true,
      autoCommitInterval: 500,
      partitionsConsumedConcurrently: 4,
      eachMessage: (payload) => this.process(payload.topic, payload.partition, payload.message, () => payload.heartbeat()),
    });
    this.running = true;
  }

  /** Stops fetching, lets in-flight handlers finish, commits, and leaves the group. */
  async stop(): Promise<void> {
    this.stopping.abort();
    this.running = false;
    await this.consumer.disconnect();
  }

  private async process(
    topic: string,
    partition: number,
    message: KafkaMessage,
    heartbeat: () => Promise<void>,
  ): Promise<void> {
    const subscription = this.subscriptions.get(topic);
    const headers = decodeHeaders(message.headers);
    const context: MessageContext = {
      topic,
      partition,
      offset: message.offset,
      key: message.key?.toString() ?? null,
      timestamp: message.timestamp,
      traceparent: headers['traceparent'],
      headers,
      logger: this.logger.child({ topic, partition, offset: message.offset, eventId: headers['ce-id'] }),
    };
    if (!subscription) throw new Error(`no handler for ${topic}`);

    let input: unknown;
    try {
      input = subscription.parse(decodeJson(message.value), topic);
    } catch (error) {
      return this.deadLetter(message, context, error, 0);
    }

    for (let attempt = 1; ; attempt++) {
      const timer = this.handleSeconds.startTimer({ topic });
      try {
        await subscription.handle(input, context);
        timer();
        this.processed.inc({ topic, outcome: 'handled' });
        return;
      } catch (error) {
        timer();
        if (error instanceof PermanentError) return this.deadLetter(message, context, error, attempt);
        const exhausted = attempt >= this.backoff.maxAttempts;
        if (this.stopping.signal.aborted) throw error; // not committed: redelivered after restart
        if (exhausted && this.options.onExhausted !== 'retry-forever') {
          return this.deadLetter(message, context, error, attempt);
        }
        this.processed.inc({ topic, outcome: 'retried' });
        const delay = backoffDelay(Math.min(attempt, this.backoff.maxAttempts), this.backoff);
        context.logger.warn({ attempt, delayMs: delay, err: errorSummary(error) }, 'handler failed; retrying');
        await sleep(delay, this.stopping.signal);
        await heartbeat(); // long retries must not cost the group membership
      }
    }
  }

  private async deadLetter(message: KafkaMessage, context: MessageContext, error: unknown, attempts: number): Promise<void> {
    const reason = errorSummary(error);
    const record: DeadLetter = {
      sourceTopic: context.topic,
      partition: context.partition,
      offset: context.offset,
      consumerGroup: this.options.groupId,
      reason: reason.message,
      attempts,
      key: message.key?.toString('base64') ?? null,
      value: message.value?.toString('base64') ?? null,
      headers: context.headers,
      failedAt: new Date().toISOString(),
    };
    // If this send fails the handler throws, the offset is not committed, and the message comes back.
    await this.publisher.send([{ topic: Topics.deadLetter, key: context.key, value: JSON.stringify(record), headers: { traceparent: context.traceparent ?? '' } }]);
    this.deadLettered.inc({ topic: context.topic, reason: reason.code });
    this.processed.inc({ topic: context.topic, outcome: 'dead-lettered' });
    context.logger.error({ attempts, reason: reason.message }, 'message dead-lettered');
  }
}

const decodeHeaders = (headers: IHeaders | undefined): Record<string, string> => {
  const decoded: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) decoded[name] = first.toString();
  }
  return decoded;
};

const decodeJson = (value: Buffer | null): unknown => {
  if (!value) throw new MalformedMessageError('empty message value');
  try {
    return JSON.parse(value.toString('utf8'));
  } catch {
    throw new MalformedMessageError('message value is not valid JSON');
  }
};

/** A reason safe to log and publish: error class and message, never the payload. */
const errorSummary = (error: unknown): { code: string; message: string } => {
  if (error instanceof PermanentError) return { code: error.code, message: error.message };
  if (error instanceof Error) return { code: 'handler-failed', message: `${error.name}: ${error.message}` };
  return { code: 'handler-failed', message: 'unknown error' };
};
