import { context as otel, ROOT_CONTEXT, type Context, type Span } from '@opentelemetry/api';
import type { Consumer, EachBatchPayload, IHeaders, Kafka, KafkaMessage } from 'kafkajs';

import { backoffDelay, DEFAULT_BACKOFF, sleep, type BackoffPolicy } from '@rotor/backoff';
import { InvalidEventError, parseEvent, Topics, type DeadLetter, type DomainTopic, type Envelope } from '@rotor/contracts';
import { isDependencyOutage } from '@rotor/errors';
import type { Logger, Metrics } from '@rotor/telemetry';

import { ConsumerLag } from './consumer-lag';
import { MalformedMessageError, PermanentError, ReferenceRejectedError } from './errors';
import type { EventPublisher } from './event-publisher';
import { endSpan, startProcessSpan } from './message-tracing';

/** How long the broker may hold an idle fetch open (kafkajs' maxWaitTimeInMs). */
export const FETCH_MAX_WAIT_MS = 1_000;
export interface MessageContext {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  timestamp: string;
  /**
   * The trace context of this message's `process` span. Per-message handlers run inside it; a
   * batch handler passes it as `parent` when it publishes on the message's behalf.
   */
  traceContext: Context;
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

export interface BatchItem<T> {
  message: T;
  context: MessageContext;
}

/**
 * A subscription that takes consecutive messages of one partition at once, for consumers whose
 * cost is round trips per message (one Redis transaction and one produce for many messages).
 */
export interface BatchSubscription<T> {
  topics: readonly string[];
  /** As {@link Subscription.parse}: a message it refuses is dead-lettered and left out of the batch. */
  parse(json: unknown, topic: string): T;
  /**
   * Handles the items in offset order; resolves only once the effect of every one is durable.
   * Must be idempotent: after a crash it gets the same messages again, perhaps batched differently.
   */
  handleBatch(items: readonly BatchItem<T>[]): Promise<void>;
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
  /** Most messages handed to one {@link BatchSubscription.handleBatch} call (default 200). */
  maxBatchSize?: number;
  /**
   * Let the broker hold each fetch this long for more messages (up to 1 MiB) instead of answering
   * with the first: larger batches, so fewer round trips per message for a batch handler, at up
   * to this much added latency. Unset: a fetch is answered as soon as anything arrives.
   */
  fetchWaitMs?: number;
}

/** What a fetch that waits for more (ConsumerRunnerOptions.fetchWaitMs) asks for: far more than it gets in that time. */
const FETCH_WAIT_MIN_BYTES = 1024 * 1024;

type Registered = { kind: 'message'; subscription: Subscription<unknown> } | { kind: 'batch'; subscription: BatchSubscription<unknown> };

/** How a handler that kept failing ended: it gave up (dead-letter it) rather than retrying forever. */
interface GaveUp {
  error: unknown;
  attempts: number;
}

/**
 * Runs subscriptions in one consumer group: parse → validate → handle → commit. Offsets are
 * committed only for messages whose handler resolved or that were durably dead-lettered.
 * Its subscriptions are all per message or all in batches.
 */
export class ConsumerRunner {
  private readonly consumer: Consumer;
  private readonly subscriptions = new Map<string, Registered>();
  private readonly stopping = new AbortController();
  private readonly backoff: BackoffPolicy;
  private readonly maxBatchSize: number;
  private running = false;
  private readonly processed;
  private readonly deadLettered;
  private readonly referencesRejected;
  private readonly handleSeconds;
  private readonly batchSize;
  private readonly lag: ConsumerLag;

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
      // A graceful stop waits for the fetch in flight, which the broker holds open until data
      // comes or this long passes (kafkajs' default 5 s): 1 s bounds a SIGTERM or a rolling
      // update's wait, for one more idle fetch a second. Data is returned as soon as it arrives.
      maxWaitTimeInMs: options.fetchWaitMs ?? FETCH_MAX_WAIT_MS,
      ...(options.fetchWaitMs ? { minBytes: FETCH_WAIT_MIN_BYTES } : {}),
      ...(options.sessionTimeoutMs
        ? { sessionTimeout: options.sessionTimeoutMs, heartbeatInterval: Math.floor(options.sessionTimeoutMs / 3) }
        : {}),
    });
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.maxBatchSize = options.maxBatchSize ?? 200;
    this.processed = metrics.counter('rotor_kafka_messages_total', 'Messages consumed, by outcome', ['topic', 'outcome']);
    this.deadLettered = metrics.counter('rotor_kafka_dead_letters_total', 'Messages sent to rotor.dlq.v1', ['topic', 'reason']);
    this.referencesRejected = metrics.counter(
      'rotor_kafka_references_rejected_total',
      'Events dead-lettered because they name something outside this service (another GSM project, an unknown secret…), by reason',
      ['topic', 'reason'],
    );
    this.handleSeconds = metrics.histogram('rotor_kafka_handle_seconds', 'Handler time per call (one message, or one batch)', ['topic']);
    this.batchSize = metrics.histogram(
      'rotor_kafka_batch_messages',
      'Messages per handled batch',
      ['topic'],
      [1, 5, 20, 50, 100, 200, 500, 1000],
    );
    this.lag = new ConsumerLag(this.consumer, metrics, options.groupId);
  }

  subscribe<T>(subscription: Subscription<T> | BatchSubscription<T>): this {
    const registered = ('handleBatch' in subscription ? { kind: 'batch', subscription } : { kind: 'message', subscription }) as Registered;
    // kafkajs runs a consumer either per message or per batch: one runner, one kind.
    const other = this.subscriptions.values().next().value;
    if (other && other.kind !== registered.kind)
      throw new Error(`${this.options.groupId} mixes per-message and batch subscriptions: use two runners`);
    for (const topic of subscription.topics) {
      if (this.subscriptions.has(topic)) throw new Error(`${topic} already has a handler in ${this.options.groupId}`);
      this.subscriptions.set(topic, registered);
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
    const batched = this.subscriptions.values().next().value?.kind === 'batch';
    await this.consumer.run({
      autoCommit: true,
      autoCommitInterval: 500,
      partitionsConsumedConcurrently: 4,
      ...(batched
        ? { eachBatchAutoResolve: false, eachBatch: (payload: EachBatchPayload) => this.processBatch(payload) }
        : { eachMessage: (payload) => this.process(payload.topic, payload.partition, payload.message, () => payload.heartbeat()) }),
    });
    this.running = true;
  }

  /** Stops fetching, lets in-flight handlers finish, commits, and leaves the group. */
  async stop(): Promise<void> {
    this.stopping.abort();
    this.running = false;
    await this.consumer.disconnect();
    this.lag.clear();
  }

  private async process(topic: string, partition: number, message: KafkaMessage, heartbeat: () => Promise<void>): Promise<void> {
    const registered = this.registered(topic);
    if (registered.kind !== 'message') throw new Error(`${topic} has a batch handler: it is consumed in batches`);
    const { subscription } = registered;
    const { span, context } = this.contextOf(topic, partition, message);
    let failure: string | undefined;
    try {
      await otel.with(context.traceContext, async () => {
        let input: unknown;
        try {
          input = subscription.parse(decodeJson(message.value), topic);
        } catch (error) {
          failure = 'dead-lettered';
          return this.deadLetter(message, context, error, 0);
        }
        const gaveUp = await this.withRetries(topic, 1, context.logger, heartbeat, () => subscription.handle(input, context));
        if (!gaveUp) return;
        failure = 'dead-lettered';
        await this.deadLetter(message, context, gaveUp.error, gaveUp.attempts);
      });
    } catch (error) {
      failure = error instanceof Error ? error.name : 'error';
      throw error;
    } finally {
      endSpan(span, failure);
    }
  }

  /**
   * A fetched batch of one partition, in slices of at most maxBatchSize. Each slice's offsets
   * are resolved only after its handler resolved, so a crash redelivers from the first slice
   * that was not finished.
   */
  private async processBatch(payload: EachBatchPayload): Promise<void> {
    const { topic, partition, messages } = payload.batch;
    const registered = this.registered(topic);
    if (registered.kind !== 'batch') throw new Error(`${topic} has a per-message handler`);
    for (let start = 0; start < messages.length; start += this.maxBatchSize) {
      if (!payload.isRunning() || payload.isStale()) return;
      const slice = messages.slice(start, start + this.maxBatchSize);
      await this.processSlice(registered.subscription, topic, partition, slice, () => payload.heartbeat());
      payload.resolveOffset(slice[slice.length - 1]!.offset);
      await payload.commitOffsetsIfNecessary();
      await payload.heartbeat();
    }
  }

  private async processSlice(
    subscription: BatchSubscription<unknown>,
    topic: string,
    partition: number,
    messages: KafkaMessage[],
    heartbeat: () => Promise<void>,
  ): Promise<void> {
    const items: (BatchItem<unknown> & { raw: KafkaMessage; span: Span })[] = [];
    const failed = new Set<Span>();
    const spans: Span[] = [];
    try {
      for (const message of messages) {
        const { span, context } = this.contextOf(topic, partition, message);
        spans.push(span);
        try {
          items.push({ message: subscription.parse(decodeJson(message.value), topic), context, raw: message, span });
        } catch (error) {
          failed.add(span);
          await this.deadLetter(message, context, error, 0);
        }
      }
      if (items.length === 0) return;
      this.batchSize.observe({ topic }, items.length);
      const logger = this.logger.child({
        topic,
        partition,
        fromOffset: items[0]!.context.offset,
        toOffset: items[items.length - 1]!.context.offset,
      });
      // Each message has its own span; a batch of one runs inside it, a larger one in none: what
      // its handler sends joins the trace of the message it names, or of the first it sends.
      const batchContext = items.length === 1 ? items[0]!.context.traceContext : ROOT_CONTEXT;
      const gaveUp = await otel.with(batchContext, () =>
        this.withRetries(topic, items.length, logger, heartbeat, () => subscription.handleBatch(items)),
      );
      if (!gaveUp) return;
      // One message may be what fails the batch: handle them one by one, so only the failing ones are dead-lettered.
      logger.warn({ err: errorSummary(gaveUp.error) }, 'batch failed; handling its messages one at a time');
      for (const item of items) {
        const itemFailed = await otel.with(item.context.traceContext, () =>
          this.withRetries(topic, 1, item.context.logger, heartbeat, () => subscription.handleBatch([item])),
        );
        if (!itemFailed) continue;
        failed.add(item.span);
        await this.deadLetter(item.raw, item.context, itemFailed.error, itemFailed.attempts);
      }
    } finally {
      for (const span of spans) endSpan(span, failed.has(span) ? 'dead-lettered' : undefined);
    }
  }

  /**
   * Runs a handler until it resolves, with backoff between attempts. Returns how it gave up
   * (a PermanentError, or attempts exhausted unless retrying forever); throws when stopping,
   * so nothing is committed and the messages come back after a restart.
   */
  private async withRetries(
    topic: string,
    messages: number,
    logger: Logger,
    heartbeat: () => Promise<void>,
    handle: () => Promise<void>,
  ): Promise<GaveUp | undefined> {
    for (let attempt = 1; ; attempt++) {
      const timer = this.handleSeconds.startTimer({ topic });
      try {
        await handle();
        timer();
        this.processed.inc({ topic, outcome: 'handled' }, messages);
        return undefined;
      } catch (error) {
        timer();
        if (error instanceof PermanentError) return { error, attempts: attempt };
        const exhausted = attempt >= this.backoff.maxAttempts;
        if (this.stopping.signal.aborted) throw error; // not committed: redelivered after restart
        // A dependency that is down (a Redis failover, a broker election) is no fault of the
        // message: it waits for the dependency instead of going to the dead-letter topic.
        const outage = isDependencyOutage(error);
        if (exhausted && !outage && this.options.onExhausted !== 'retry-forever') return { error, attempts: attempt };
        this.processed.inc({ topic, outcome: 'retried' }, messages);
        const delay = backoffDelay(Math.min(attempt, this.backoff.maxAttempts), this.backoff);
        logger.warn(
          { attempt, delayMs: delay, err: errorSummary(error) },
          outage ? 'dependency unavailable; retrying until it is back' : 'handler failed; retrying',
        );
        await sleep(delay, this.stopping.signal);
        await heartbeat(); // long retries must not cost the group membership
      }
    }
  }

  private registered(topic: string): Registered {
    const registered = this.subscriptions.get(topic);
    if (!registered) throw new Error(`no handler for ${topic}`);
    return registered;
  }

  private contextOf(topic: string, partition: number, message: KafkaMessage): { span: Span; context: MessageContext } {
    const headers = decodeHeaders(message.headers);
    const key = message.key?.toString() ?? null;
    const { span, context: traceContext } = startProcessSpan({
      topic,
      partition,
      offset: message.offset,
      key,
      groupId: this.options.groupId,
      headers,
    });
    const parent = this.logger;
    let logger: Logger | undefined;
    return {
      span,
      context: {
        topic,
        partition,
        offset: message.offset,
        key,
        timestamp: message.timestamp,
        traceContext,
        headers,
        // Made when first used: most messages log nothing, and a child logger serializes its fields.
        get logger() {
          return (logger ??= parent.child({ topic, partition, offset: message.offset, eventId: headers['ce-id'] }));
        },
      },
    };
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
    await this.publisher.send([{ topic: Topics.deadLetter, key: context.key, value: JSON.stringify(record) }], context.traceContext);
    this.deadLettered.inc({ topic: context.topic, reason: reason.code });
    if (error instanceof ReferenceRejectedError) this.referencesRejected.inc({ topic: context.topic, reason: error.reason });
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
