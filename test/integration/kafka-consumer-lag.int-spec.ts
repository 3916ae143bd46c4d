import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';

import { ConsumerRunner, ensureTopics, EventPublisher, PermanentError, type BatchItem } from '@rotor/kafka';
import { createLogger, Metrics } from '@rotor/telemetry';

import { eventually } from '../support/eventually';
import { deleteTestTopics } from '../support/test-topics';
import { kafkaFromEnv } from '../../tools/security/env-clients';

const kafka = kafkaFromEnv('rotor-test-consumer-lag');
const logger = createLogger({ service: 'test', destination: new Writable({ write: (_chunk, _encoding, done) => done() }) });
const N = 20;

interface Probe {
  n: number;
}

const parseProbe = (json: unknown): Probe => {
  if (typeof json !== 'object' || json === null || typeof (json as Probe).n !== 'number') throw new PermanentError('n must be a number');
  return json as Probe;
};

/** The exported lag of one partition; undefined when there is no series. */
function lagOf(metrics: Metrics, labels: { group: string; topic: string; partition: string }): Promise<number | undefined> {
  return metrics.valueOf('rotor_kafka_consumer_lag_messages', labels);
}

/** A gate a handler waits at until the test opens it. */
const gate = () => {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
};

describe('rotor_kafka_consumer_lag_messages', () => {
  const publisher = new EventPublisher(kafka);
  const runners: ConsumerRunner[] = [];
  const topics: string[] = [];

  const newTopic = async (partitions: number) => {
    const topic = `rotor-test.lag.${randomUUID()}`;
    const admin = kafka.admin();
    await admin.connect();
    try {
      await ensureTopics(admin, [topic], { partitions, replicationFactor: 1 });
    } finally {
      await admin.disconnect();
    }
    topics.push(topic);
    return topic;
  };

  const produce = (topic: string, count: number, partition = 0) =>
    publisher.send(Array.from({ length: count }, (_, n) => ({ topic, partition, key: null, value: JSON.stringify({ n }) })));

  beforeAll(() => publisher.connect());

  afterEach(async () => {
    await Promise.all(runners.splice(0).map((runner) => runner.stop().catch(() => undefined)));
  });

  afterAll(async () => {
    await publisher.disconnect();
    await deleteTestTopics(kafka, topics);
  });

  it('shows the backlog of a slow per-message group, drains it to 0, and stays 0 while idle', async () => {
    const topic = await newTopic(1);
    const group = `g-${randomUUID()}`;
    const labels = { group, topic, partition: '0' };
    const metrics = new Metrics('test');
    const held = gate();
    const handled: number[] = [];
    await produce(topic, N);
    const runner = new ConsumerRunner(kafka, publisher, logger, metrics, { groupId: group, sessionTimeoutMs: 6_000 }).subscribe({
      topics: [topic],
      parse: parseProbe,
      handle: async ({ n }) => {
        await held.opened;
        handled.push(n);
      },
    });
    runners.push(runner);
    expect(await lagOf(metrics, labels)).toBeUndefined();
    await runner.start();

    await eventually(async () => ((await lagOf(metrics, labels)) === N ? true : undefined), { what: `a lag of ${N}` });
    held.open();
    await eventually(async () => ((await lagOf(metrics, labels)) === 0 ? true : undefined), { what: 'the lag to drain to 0' });
    expect(handled).toHaveLength(N);

    // Idle: empty fetches change nothing.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(await lagOf(metrics, labels)).toBe(0);
    await produce(topic, 3);
    await eventually(async () => (handled.length === N + 3 ? true : undefined), { what: 'three more handled' });
    await eventually(async () => ((await lagOf(metrics, labels)) === 0 ? true : undefined), { what: 'the lag back at 0' });
  });

  it('shows the backlog of a slow batch group and drains it to 0; a stopped member exports nothing', async () => {
    const topic = await newTopic(1);
    const group = `g-${randomUUID()}`;
    const labels = { group, topic, partition: '0' };
    const metrics = new Metrics('test');
    const held = gate();
    let handled = 0;
    await produce(topic, N);
    const runner = new ConsumerRunner(kafka, publisher, logger, metrics, {
      groupId: group,
      sessionTimeoutMs: 6_000,
      maxBatchSize: 5,
    }).subscribe({
      topics: [topic],
      parse: parseProbe,
      handleBatch: async (items: readonly BatchItem<Probe>[]) => {
        await held.opened;
        handled += items.length;
      },
    });
    runners.push(runner);
    await runner.start();

    await eventually(async () => ((await lagOf(metrics, labels)) === N ? true : undefined), { what: `a lag of ${N}` });
    held.open();
    await eventually(async () => ((await lagOf(metrics, labels)) === 0 ? true : undefined), { what: 'the lag to drain to 0' });
    expect(handled).toBe(N);

    await runner.stop();
    expect(await lagOf(metrics, labels)).toBeUndefined();
  });

  it('drops the series of partitions a rebalance handed to another member', async () => {
    const topic = await newTopic(2);
    const group = `g-${randomUUID()}`;
    const first = new Metrics('test');
    const second = new Metrics('test');
    const member = (metrics: Metrics) => {
      const runner = new ConsumerRunner(kafka, publisher, logger, metrics, { groupId: group, sessionTimeoutMs: 6_000 }).subscribe({
        topics: [topic],
        parse: parseProbe,
        handle: async () => undefined,
      });
      runners.push(runner);
      return runner;
    };
    const partitions = async (metrics: Metrics) => {
      const metric = (await metrics.json()).find((entry) => entry.name === 'rotor_kafka_consumer_lag_messages');
      return (metric?.values ?? []).filter((value) => value.labels['group'] === group).map((value) => String(value.labels['partition']));
    };

    await member(first).start();
    await produce(topic, 2, 0);
    await produce(topic, 2, 1);
    await eventually(async () => ((await partitions(first)).length === 2 ? true : undefined), {
      what: 'both partitions on the first member',
    });

    await member(second).start();
    await produce(topic, 2, 0);
    await produce(topic, 2, 1);
    // Each member ends with the one partition it owns (sticky or not, they get one each).
    await eventually(
      async () => {
        const [mine, theirs] = [await partitions(first), await partitions(second)];
        return mine.length === 1 && theirs.length === 1 && mine[0] !== theirs[0] ? true : undefined;
      },
      { what: 'one partition each after the rebalance', timeoutMs: 30_000 },
    );
    for (const metrics of [first, second])
      expect(await lagOf(metrics, { group, topic, partition: (await partitions(metrics))[0]! })).toBe(0);
  });
});
