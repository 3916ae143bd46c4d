import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';

import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';

import { DeadLetterSchema, Topics, type DeadLetter } from '@rotor/contracts';
import {
  ConsumerRunner,
  EventPublisher,
  PermanentError,
  readTopicRange,
  type BatchItem,
  type ConsumerRunnerOptions,
  type MessageContext,
} from '@rotor/kafka';
import { createLogger, Metrics } from '@rotor/telemetry';

import { eventually } from '../support/eventually';
import { createTestTopics, deleteTestTopics } from '../support/test-topics';
import { kafkaFromEnv } from '../../tools/security/env-clients';

const kafka = kafkaFromEnv('rotor-test-runner');
const logger = createLogger({ service: 'test', destination: new Writable({ write: (_chunk, _encoding, done) => done() }) });
const FAST_BACKOFF = { initialMs: 10, maxMs: 50, maxAttempts: 3 };

interface Probe {
  n: number;
}

const parseProbe = (json: unknown): Probe => {
  if (typeof json !== 'object' || json === null || typeof (json as Probe).n !== 'number') throw new PermanentError('n must be a number');
  return json as Probe;
};

/** The group's committed offset in a one-partition topic ('-1' before any commit). */
const committedOffset = async (groupId: string, topic: string): Promise<string | undefined> => {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return committed?.partitions[0]?.offset;
  } finally {
    await admin.disconnect();
  }
};

/** Dead letters of one source topic published since `since`. */
const deadLettersFor = async (topic: string, since: Date): Promise<DeadLetter[]> => {
  const letters: DeadLetter[] = [];
  await readTopicRange(kafka, {
    topic: Topics.deadLetter,
    fromTime: since,
    onMessage: (message) => {
      const letter = DeadLetterSchema.parse(JSON.parse(message.value!.toString()));
      if (letter.sourceTopic === topic) letters.push(letter);
    },
  });
  return letters;
};

describe('ConsumerRunner against a real broker', () => {
  const publisher = new EventPublisher(kafka);
  const runners: ConsumerRunner[] = [];
  let topic: string;

  const runner = (groupId: string, handle: (message: Probe, context: MessageContext) => Promise<void>) => {
    const created = new ConsumerRunner(kafka, publisher, logger, new Metrics('test'), {
      groupId,
      backoff: FAST_BACKOFF,
      sessionTimeoutMs: 6_000,
    }).subscribe({
      topics: [topic],
      parse: parseProbe,
      handle,
    });
    runners.push(created);
    return created;
  };

  const send = (value: string, headers: Record<string, string> = {}) => publisher.send([{ topic, key: 'k', value, headers }]);

  beforeAll(async () => {
    topic = `rotor-test.runner.${randomUUID()}`;
    await createTestTopics(kafka, [topic, Topics.deadLetter]);
    await publisher.connect();
  });

  afterEach(async () => {
    await Promise.all(runners.splice(0).map((r) => r.stop().catch(() => undefined)));
  });

  afterAll(async () => {
    await publisher.disconnect();
    await deleteTestTopics(kafka, [topic]);
  });

  it('sends a malformed message to rotor.dlq.v1 with the reason and the original bytes, and goes on', async () => {
    const since = new Date();
    const handled: number[] = [];
    const groupId = `g-${randomUUID()}`;
    await runner(groupId, async (message) => void handled.push(message.n)).start();
    await send('{not json');
    await send(JSON.stringify({ n: 'one' }));
    await send(JSON.stringify({ n: 2 }));
    await eventually(async () => (handled.includes(2) ? true : undefined), { what: 'the good message to be handled' });
    const letters = await eventually(
      async () => {
        const found = await deadLettersFor(topic, since);
        return found.length >= 2 ? found : undefined;
      },
      { what: 'two dead letters' },
    );
    expect(letters.map((letter) => letter.reason)).toEqual(['message value is not valid JSON', 'n must be a number']);
    expect(Buffer.from(letters[0]!.value!, 'base64').toString()).toBe('{not json');
    expect(letters[0]).toMatchObject({ consumerGroup: groupId, attempts: 0, offset: '0' });
  });

  it('retries a failing handler with backoff, then dead-letters it with the attempt count', async () => {
    const since = new Date();
    let attempts = 0;
    await runner(`g-${randomUUID()}`, async (message) => {
      if (message.n === 13) {
        attempts++;
        throw new Error('downstream unavailable');
      }
    }).start();
    await send(JSON.stringify({ n: 13 }));
    const letters = await eventually(
      async () => {
        const found = (await deadLettersFor(topic, since)).filter((letter) => letter.reason.includes('downstream'));
        return found.length ? found : undefined;
      },
      { what: 'the dead letter of the failing message' },
    );
    expect(attempts).toBe(3);
    expect(letters[0]).toMatchObject({ attempts: 3, reason: 'Error: downstream unavailable' });
  });

  it('waits out a dependency outage past the retry budget instead of dead-lettering the message', async () => {
    // A Redis Cluster failover as ioredis reports it: the message is fine, Redis is not (issue 15's chaos run).
    const since = new Date();
    const marker = randomUUID();
    let attempts = 0;
    let handled = false;
    await runner(`g-${randomUUID()}`, async (message) => {
      if ((message as Probe & { marker?: string }).marker !== marker) return;
      attempts++;
      if (attempts <= 6) throw new Error('Too many Cluster redirections. Last error: Error: Connection is closed.');
      handled = true;
    }).start();
    await send(JSON.stringify({ n: 21, marker }));
    await eventually(async () => (handled ? true : undefined), { what: 'the message to be handled once Redis is back', timeoutMs: 30_000 });
    expect(attempts).toBe(7); // twice the budget of 3 attempts a failing handler gets
    expect(
      (await deadLettersFor(topic, since)).filter((letter) =>
        Buffer.from(letter.value ?? '', 'base64')
          .toString()
          .includes(marker),
      ),
    ).toEqual([]);
  });

  it('commits only handled messages: a crash mid-handler means redelivery, not loss', async () => {
    const groupId = `g-${randomUUID()}`;
    const marker = randomUUID();
    const firstRun: number[] = [];
    let release = () => {};
    const stuck = new Promise<void>((resolve) => (release = resolve));
    let stuckOffset: string | undefined;
    const first = runner(groupId, async (message, context) => {
      if (message.n !== 101 || (message as Probe & { marker?: string }).marker !== marker) return;
      stuckOffset = context.offset;
      firstRun.push(101);
      await stuck; // does not finish while the group moves on: as if the process had died here
    });
    const firstStopped = (async () => {
      await first.start();
      await send(JSON.stringify({ n: 101, marker }));
      await eventually(async () => (stuckOffset ? true : undefined), { what: 'the stuck handler to start' });
      // Well past the auto-commit interval: nothing at or after the stuck message may be committed.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(BigInt((await committedOffset(groupId, topic))!)).toBeLessThanOrEqual(BigInt(stuckOffset!));
      // Leave the group without finishing the handler, as a killed process would.
      const stopping = first.stop();
      runners.splice(runners.indexOf(first), 1);
      return stopping;
    })();

    try {
      await eventually(async () => (firstRun.length ? true : undefined), {
        what: 'the first consumer to take the message',
        timeoutMs: 30_000,
      });
      const secondRun: number[] = [];
      await runner(groupId, async (message) => {
        if ((message as Probe & { marker?: string }).marker === marker) secondRun.push(message.n);
      }).start();
      await eventually(async () => (secondRun.includes(101) ? true : undefined), {
        what: 'redelivery of the unfinished message',
        timeoutMs: 45_000,
      });
    } finally {
      release();
      await firstStopped;
    }
  }, 90_000);

  it('traces a message: the send span is a child of the active span, the process span a child of the send span', async () => {
    const spans = new InMemorySpanExporter();
    const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter: spans })] });
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    trace.setGlobalTracerProvider(provider);
    try {
      const handledIn: (string | undefined)[] = [];
      await runner(`g-${randomUUID()}`, async (message) => {
        if (message.n === 7) handledIn.push(trace.getActiveSpan()?.spanContext().spanId);
      }).start();
      const request = trace.getTracer('test').startSpan('POST /v1/credentials');
      await context.with(trace.setSpan(context.active(), request), () =>
        publisher.send([{ topic, key: 'lease-7', value: JSON.stringify({ n: 7 }), headers: { 'ce-id': 'event-7' } }]),
      );
      request.end();
      await eventually(async () => (handledIn.length ? true : undefined), { what: 'the traced message' });
      await eventually(
        async () => {
          await provider.forceFlush();
          return spans
            .getFinishedSpans()
            .some((span) => span.attributes['messaging.message.id'] === 'event-7' && span.name === `process ${topic}`)
            ? true
            : undefined;
        },
        { what: 'the process span to end' },
      );
      const finished = spans.getFinishedSpans();
      const send = finished.find((span) => span.name === `send ${topic}`)!;
      // The group reads the topic from its start: other tests' messages have process spans too.
      const processed = finished.find((span) => span.name === `process ${topic}` && span.attributes['messaging.message.id'] === 'event-7')!;
      expect(send.kind).toBe(SpanKind.PRODUCER);
      expect(send.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
      expect(send.attributes).toMatchObject({
        'messaging.system': 'kafka',
        'messaging.destination.name': topic,
        'messaging.message.id': 'event-7',
      });
      expect(processed.kind).toBe(SpanKind.CONSUMER);
      expect(processed.spanContext().traceId).toBe(request.spanContext().traceId);
      expect(processed.parentSpanContext?.spanId).toBe(send.spanContext().spanId);
      expect(processed.attributes).toMatchObject({ 'messaging.kafka.message.key': 'lease-7', 'messaging.destination.partition.id': '0' });
      // The handler ran inside its message's process span.
      expect(handledIn[0]).toBe(processed.spanContext().spanId);
      // Values never become attributes.
      expect(JSON.stringify(finished.map((span) => span.attributes))).not.toContain('"n":7');
    } finally {
      trace.disable();
      propagation.disable();
      context.disable();
      await provider.shutdown();
    }
  });

  it('finishes the in-flight message before a graceful stop returns', async () => {
    let finished = false;
    let started = false;
    const slow = runner(`g-${randomUUID()}`, async (message) => {
      if (message.n !== 55) return;
      started = true;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      finished = true;
    });
    await slow.start();
    await send(JSON.stringify({ n: 55 }));
    await eventually(async () => (started ? true : undefined), { what: 'the slow handler to start' });
    await slow.stop();
    expect(finished).toBe(true);
  });
});

describe('ConsumerRunner with a batch subscription, against a real broker', () => {
  const publisher = new EventPublisher(kafka);
  const runners: ConsumerRunner[] = [];
  const topics: string[] = [];

  /** A topic of its own per test, filled before the runner starts, so the first fetch holds a real batch. */
  const filledTopic = async (values: string[]): Promise<string> => {
    const topic = `rotor-test.batch.${randomUUID()}`;
    topics.push(topic);
    await createTestTopics(kafka, [topic, Topics.deadLetter]);
    await publisher.send(values.map((value) => ({ topic, key: 'k', value })));
    return topic;
  };

  const batchRunner = (
    groupId: string,
    topic: string,
    handleBatch: (items: readonly BatchItem<Probe>[]) => Promise<void>,
    options: Partial<ConsumerRunnerOptions> = {},
  ) => {
    const created = new ConsumerRunner(kafka, publisher, logger, new Metrics('test'), {
      groupId,
      backoff: FAST_BACKOFF,
      sessionTimeoutMs: 6_000,
      maxBatchSize: 10,
      ...options,
    }).subscribe({
      topics: [topic],
      parse: parseProbe,
      handleBatch,
    });
    runners.push(created);
    return created;
  };

  beforeAll(() => publisher.connect());

  afterEach(async () => {
    await Promise.all(runners.splice(0).map((r) => r.stop().catch(() => undefined)));
  });

  afterAll(async () => {
    await publisher.disconnect();
    await deleteTestTopics(kafka, topics);
  });

  it('hands over consecutive messages in offset order, at most maxBatchSize at a time, leaves malformed ones out (dead-lettered), and commits after', async () => {
    const since = new Date();
    const values = Array.from({ length: 25 }, (_, n) =>
      n === 4 ? '{not json' : n === 17 ? JSON.stringify({ n: 'seventeen' }) : JSON.stringify({ n }),
    );
    const topic = await filledTopic(values);
    const groupId = `g-${randomUUID()}`;
    const batches: { ns: number[]; offsets: string[] }[] = [];
    await batchRunner(
      groupId,
      topic,
      async (items) => void batches.push({ ns: items.map((item) => item.message.n), offsets: items.map((item) => item.context.offset) }),
    ).start();

    await eventually(async () => ((await committedOffset(groupId, topic)) === '25' ? true : undefined), { what: 'every offset committed' });
    const expected = Array.from({ length: 25 }, (_, n) => n).filter((n) => n !== 4 && n !== 17);
    expect(batches.flatMap((batch) => batch.ns)).toEqual(expected);
    expect(batches.flatMap((batch) => batch.offsets)).toEqual(expected.map(String));
    expect(Math.max(...batches.map((batch) => batch.ns.length))).toBeGreaterThan(1); // batched, not one by one
    expect(batches.every((batch) => batch.ns.length <= 10)).toBe(true);
    const letters = await eventually(
      async () => {
        const found = await deadLettersFor(topic, since);
        return found.length >= 2 ? found : undefined;
      },
      { what: 'two dead letters' },
    );
    expect(letters.map((letter) => [letter.offset, letter.attempts, letter.reason])).toEqual([
      ['4', 0, 'message value is not valid JSON'],
      ['17', 0, 'n must be a number'],
    ]);
  });

  it('refuses per-message and batch subscriptions in one runner (kafkajs runs one kind per consumer)', () => {
    const mixed = new ConsumerRunner(kafka, publisher, logger, new Metrics('test'), { groupId: `g-${randomUUID()}` }).subscribe({
      topics: ['rotor-test.a'],
      parse: (json) => json,
      handleBatch: async () => undefined,
    });
    expect(() => mixed.subscribe({ topics: ['rotor-test.b'], parse: (json) => json, handle: async () => undefined })).toThrow(
      'mixes per-message and batch subscriptions',
    );
  });

  it('when a batch keeps failing, handles its messages one by one and dead-letters only the one that fails', async () => {
    const since = new Date();
    const topic = await filledTopic([1, 2, 3, 4, 5].map((n) => JSON.stringify({ n })));
    const groupId = `g-${randomUUID()}`;
    const handled: number[] = [];
    let poisonAttempts = 0;
    await batchRunner(groupId, topic, async (items) => {
      if (items.some((item) => item.message.n === 3)) {
        poisonAttempts++;
        throw new Error('cannot store 3');
      }
      handled.push(...items.map((item) => item.message.n));
    }).start();

    await eventually(async () => ((await committedOffset(groupId, topic)) === '5' ? true : undefined), { what: 'every offset committed' });
    expect(handled).toEqual([1, 2, 4, 5]);
    const letters = await eventually(
      async () => {
        const found = await deadLettersFor(topic, since);
        return found.length ? found : undefined;
      },
      { what: 'the dead letter of 3' },
    );
    expect(letters).toEqual([expect.objectContaining({ offset: '2', attempts: 3, reason: 'Error: cannot store 3' })]);
    expect(poisonAttempts).toBeGreaterThanOrEqual(4); // retried as a batch, then alone
  });

  it('retrying forever, commits nothing of a batch whose handler has not resolved: a stopped runner leaves it to the next', async () => {
    const topic = await filledTopic([1, 2, 3].map((n) => JSON.stringify({ n })));
    const groupId = `g-${randomUUID()}`;
    let calls = 0;
    const first = batchRunner(
      groupId,
      topic,
      async () => {
        calls++;
        throw new Error('store unavailable');
      },
      { onExhausted: 'retry-forever' },
    );
    await first.start();
    await eventually(async () => (calls > FAST_BACKOFF.maxAttempts ? true : undefined), {
      what: 'the handler to be retried past its attempts',
    });
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // past the auto-commit interval
    expect(await committedOffset(groupId, topic)).toBe('-1');
    await first.stop();
    runners.splice(runners.indexOf(first), 1);

    const handled: number[] = [];
    await batchRunner(groupId, topic, async (items) => void handled.push(...items.map((item) => item.message.n))).start();
    await eventually(async () => ((await committedOffset(groupId, topic)) === '3' ? true : undefined), {
      what: 'the batch handled by the next runner',
    });
    expect(handled).toEqual([1, 2, 3]);
  });
});
