import { ConfigResourceTypes, type Admin, type Consumer, type EachBatchPayload, type Kafka, type Producer } from 'kafkajs';

import { inNamespace, KafkaNamespace } from './kafka-namespace';

/** A kafkajs client that records what reaches the broker, in the broker's names. */
function recordingKafka() {
  const calls: Array<[string, unknown]> = [];
  const record =
    (name: string, result: unknown = undefined) =>
    (arg?: unknown) => {
      calls.push([name, arg]);
      return Promise.resolve(result);
    };
  let runConfig: Parameters<Consumer['run']>[0];
  let consumerGroup = '';
  const producer = { send: record('send'), sendBatch: record('sendBatch'), connect: record('connect') } as unknown as Producer;
  const consumer = {
    subscribe: record('subscribe'),
    run: (config: Parameters<Consumer['run']>[0]) => {
      runConfig = config;
      return Promise.resolve();
    },
    commitOffsets: record('commitOffsets'),
    seek: (target: unknown) => calls.push(['seek', target]),
    pause: (topics: unknown) => calls.push(['pause', topics]),
    resume: (topics: unknown) => calls.push(['resume', topics]),
    paused: () => [{ topic: 'staging.rotor.a.v1', partitions: [0] }],
  } as unknown as Consumer;
  const admin = {
    listTopics: () => Promise.resolve(['rotor.a.v1', 'staging.rotor.a.v1', 'other.rotor.a.v1']),
    createTopics: record('createTopics', true),
    fetchTopicOffsets: record('fetchTopicOffsets', []),
    fetchOffsets: (options: unknown) => {
      calls.push(['fetchOffsets', options]);
      return Promise.resolve([{ topic: 'staging.rotor.a.v1', partitions: [] }]);
    },
    fetchTopicMetadata: (options: unknown) => {
      calls.push(['fetchTopicMetadata', options]);
      return Promise.resolve({ topics: [{ name: 'staging.rotor.a.v1', partitions: [] }] });
    },
    describeConfigs: (options: unknown) => {
      calls.push(['describeConfigs', options]);
      return Promise.resolve({
        throttleTime: 0,
        resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: 'staging.rotor.a.v1', configEntries: [], errorCode: 0 }],
      });
    },
    deleteGroups: record('deleteGroups', []),
  } as unknown as Admin;
  const kafka = {
    producer: () => producer,
    consumer: (config: { groupId: string }) => {
      consumerGroup = config.groupId;
      return consumer;
    },
    admin: () => admin,
  } as unknown as Kafka;
  return { kafka, calls, runConfig: () => runConfig!, consumerGroup: () => consumerGroup };
}

describe('KafkaNamespace', () => {
  it('accepts an empty namespace or a dotted prefix, and refuses anything else', () => {
    expect(new KafkaNamespace('').isRoot).toBe(true);
    expect(new KafkaNamespace('staging.').physical('rotor.a.v1')).toBe('staging.rotor.a.v1');
    for (const bad of ['staging', 'Staging.', '.', 'a b.', 'test.1.', '-x.']) expect(() => new KafkaNamespace(bad)).toThrow(/namespace/);
  });

  it('maps a name outside the namespace to an error, never to a shortened name', () => {
    expect(() => new KafkaNamespace('staging.').logical('rotor.a.v1')).toThrow(/outside/);
  });

  it('leaves the root namespace client as it is', () => {
    const { kafka } = recordingKafka();
    expect(inNamespace(kafka, new KafkaNamespace(''))).toBe(kafka);
  });

  const scoped = () => {
    const recording = recordingKafka();
    return { ...recording, client: inNamespace(recording.kafka, new KafkaNamespace('staging.')) };
  };

  it('publishes to the namespaced topics', async () => {
    const { client, calls } = scoped();
    const producer = client.producer();
    await producer.send({ topic: 'rotor.a.v1', messages: [{ value: 'x' }] });
    await producer.sendBatch({ topicMessages: [{ topic: 'rotor.b.v1', messages: [] }] });
    expect(calls).toEqual([
      ['send', { topic: 'staging.rotor.a.v1', messages: [{ value: 'x' }] }],
      ['sendBatch', { topicMessages: [{ topic: 'staging.rotor.b.v1', messages: [] }] }],
    ]);
  });

  it('consumes in a namespaced group and hands handlers the logical topic', async () => {
    const { client, calls, runConfig, consumerGroup } = scoped();
    const consumer = client.consumer({ groupId: 'rotor-revoker-clock' });
    expect(consumerGroup()).toBe('staging.rotor-revoker-clock');
    await consumer.subscribe({ topics: ['rotor.a.v1'], fromBeginning: true });
    expect(calls).toContainEqual(['subscribe', { topics: ['staging.rotor.a.v1'], fromBeginning: true }]);
    await expect(consumer.subscribe({ topics: [/rotor\..*/] })).rejects.toThrow(/patterns/);

    const seen: string[] = [];
    await consumer.run({ eachMessage: ({ topic }) => Promise.resolve(void seen.push(topic)) });
    await runConfig().eachMessage!({ topic: 'staging.rotor.a.v1', partition: 0 } as never);
    await consumer.run({ eachBatch: ({ batch }) => Promise.resolve(void seen.push(`${batch.topic}:${batch.firstOffset()}`)) });
    const batch = { topic: 'staging.rotor.a.v1', partition: 0, messages: [{ offset: '7' }], firstOffset: () => '7' };
    await runConfig().eachBatch!({ batch, uncommittedOffsets: () => ({ topics: [] }) } as unknown as EachBatchPayload);
    expect(seen).toEqual(['rotor.a.v1', 'rotor.a.v1:7']);

    await consumer.commitOffsets([{ topic: 'rotor.a.v1', partition: 0, offset: '1' }]);
    consumer.seek({ topic: 'rotor.a.v1', partition: 0, offset: '1' });
    expect(calls).toContainEqual(['commitOffsets', [{ topic: 'staging.rotor.a.v1', partition: 0, offset: '1' }]]);
    expect(calls).toContainEqual(['seek', { topic: 'staging.rotor.a.v1', partition: 0, offset: '1' }]);
    expect(consumer.paused()).toEqual([{ topic: 'rotor.a.v1', partitions: [0] }]);
  });

  it('administers only its own topics and groups, under their logical names', async () => {
    const { client, calls } = scoped();
    const admin = client.admin();
    expect(await admin.listTopics()).toEqual(['rotor.a.v1']);
    await admin.createTopics({ topics: [{ topic: 'rotor.a.v1' }] });
    await admin.fetchTopicOffsets('rotor.a.v1');
    expect(await admin.fetchOffsets({ groupId: 'rotor-auditor', topics: ['rotor.a.v1'] })).toEqual([
      { topic: 'rotor.a.v1', partitions: [] },
    ]);
    expect(await admin.fetchTopicMetadata({ topics: ['rotor.a.v1'] })).toEqual({ topics: [{ name: 'rotor.a.v1', partitions: [] }] });
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: 'rotor.a.v1' }],
    });
    expect(described.resources[0]!.resourceName).toBe('rotor.a.v1');
    await admin.deleteGroups(['rotor-cli-tail-1']);
    expect(calls).toEqual([
      ['createTopics', { topics: [{ topic: 'staging.rotor.a.v1' }] }],
      ['fetchTopicOffsets', 'staging.rotor.a.v1'],
      ['fetchOffsets', { groupId: 'staging.rotor-auditor', topics: ['staging.rotor.a.v1'] }],
      ['fetchTopicMetadata', { topics: ['staging.rotor.a.v1'] }],
      ['describeConfigs', { includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: 'staging.rotor.a.v1' }] }],
      ['deleteGroups', ['staging.rotor-cli-tail-1']],
    ]);
  });
});
