import {
  ConfigResourceTypes,
  type Admin,
  type AdminConfig,
  type Consumer,
  type ConsumerConfig,
  type ConsumerRunConfig,
  type ConsumerSubscribeTopics,
  type EachBatchPayload,
  type Kafka,
  type Producer,
  type ProducerConfig,
  type TopicMessages,
} from 'kafkajs';

import { KAFKA_NAMESPACE_PATTERN } from '@rotor/contracts';

/**
 * A namespace puts every topic and consumer group of one rotor installation under a prefix
 * (`staging.rotor.lease.issued.v1`, group `staging.rotor-revoker-clock`), so that several
 * installations, or the parallel workers of the test suite, share one Kafka cluster without
 * seeing each other's events. It is a property of the connection, like the broker list:
 * everything above this seam speaks the logical names of libs/contracts, and the broker's
 * ACLs are granted per namespace (tools/security/kafka-acls.ts).
 */
export class KafkaNamespace {
  constructor(readonly prefix: string) {
    if (!KAFKA_NAMESPACE_PATTERN.test(prefix)) {
      throw new Error(`Kafka namespace "${prefix}" must be empty or lower-case letters, digits and '-' ending in '.' (e.g. "staging.")`);
    }
  }

  get isRoot(): boolean {
    return this.prefix === '';
  }

  /** The broker's name for a topic or group. */
  physical(name: string): string {
    return this.prefix + name;
  }

  owns(physical: string): boolean {
    return physical.startsWith(this.prefix);
  }

  /** The logical name of one of this namespace's topics; a name outside it is a bug, not data. */
  logical(physical: string): string {
    if (!this.owns(physical)) throw new Error(`${physical} is outside Kafka namespace "${this.prefix}"`);
    return physical.slice(this.prefix.length);
  }
}

/** The client for a namespace: the same Kafka, with every topic and group id mapped at the boundary. */
export function inNamespace(kafka: Kafka, namespace: KafkaNamespace): Kafka {
  if (namespace.isRoot) return kafka;
  const scoped = Object.create(kafka) as Kafka;
  scoped.producer = (config?: ProducerConfig) => namespacedProducer(kafka.producer(config), namespace);
  scoped.consumer = (config: ConsumerConfig) =>
    namespacedConsumer(kafka.consumer({ ...config, groupId: namespace.physical(config.groupId) }), namespace);
  scoped.admin = (config?: AdminConfig) => namespacedAdmin(kafka.admin(config), namespace);
  return scoped;
}

type Named = { topic: string };
const mapTopic = <T extends Named>(item: T, map: (name: string) => string): T => ({ ...item, topic: map(item.topic) });

function namespacedProducer(producer: Producer, ns: KafkaNamespace): Producer {
  const out = (messages: TopicMessages) => mapTopic(messages, (name) => ns.physical(name));
  return {
    ...producer,
    send: (record) => producer.send(mapTopic(record, (name) => ns.physical(name))),
    sendBatch: (batch) => producer.sendBatch({ ...batch, ...(batch.topicMessages ? { topicMessages: batch.topicMessages.map(out) } : {}) }),
    transaction: () => {
      throw new Error('transactions are not supported in a Kafka namespace');
    },
  };
}

function namespacedConsumer(consumer: Consumer, ns: KafkaNamespace): Consumer {
  const out = (name: string) => ns.physical(name);
  const back = (name: string) => ns.logical(name);
  const subscribe = async (subscription: ConsumerSubscribeTopics | { topic: string | RegExp; fromBeginning?: boolean }) => {
    const topics = 'topics' in subscription ? subscription.topics : [subscription.topic];
    return consumer.subscribe({
      topics: topics.map((topic) => {
        if (typeof topic !== 'string') throw new Error('topic patterns are not supported in a Kafka namespace');
        return out(topic);
      }),
      ...(subscription.fromBeginning === undefined ? {} : { fromBeginning: subscription.fromBeginning }),
    });
  };
  const run = (config?: ConsumerRunConfig) => {
    const { eachMessage, eachBatch, ...rest } = config ?? {};
    return consumer.run({
      ...rest,
      ...(eachMessage ? { eachMessage: (payload) => eachMessage({ ...payload, topic: back(payload.topic) }) } : {}),
      ...(eachBatch ? { eachBatch: (payload) => eachBatch(batchInNamespace(payload, ns)) } : {}),
    });
  };
  // Instrumentation events name topics too: batch events by `topic`, a group join by its assignment.
  const on = ((event: string, listener: (event: { payload?: Record<string, unknown> }) => void) =>
    consumer.on(event as never, (instrumented: { payload?: Record<string, unknown> }) => {
      const payload = instrumented.payload;
      if (!payload) return listener(instrumented);
      const { topic, memberAssignment } = payload;
      listener({
        ...instrumented,
        payload: {
          ...payload,
          ...(typeof topic === 'string' ? { topic: back(topic) } : {}),
          ...(memberAssignment && typeof memberAssignment === 'object'
            ? { memberAssignment: Object.fromEntries(Object.entries(memberAssignment).map(([name, parts]) => [back(name), parts])) }
            : {}),
        },
      });
    })) as Consumer['on'];
  return {
    ...consumer,
    subscribe,
    run,
    on,
    commitOffsets: (offsets) => consumer.commitOffsets(offsets.map((offset) => mapTopic(offset, out))),
    seek: (target) => consumer.seek(mapTopic(target, out)),
    pause: (topics) => consumer.pause(topics.map((topic) => mapTopic(topic, out))),
    resume: (topics) => consumer.resume(topics.map((topic) => mapTopic(topic, out))),
    paused: () => consumer.paused().map((topic) => mapTopic(topic, back)),
  };
}

/** A batch whose topic reads as the logical name; everything else (offsets, heartbeats) is the original's. */
function batchInNamespace(payload: EachBatchPayload, ns: KafkaNamespace): EachBatchPayload {
  const batch = Object.create(payload.batch, {
    topic: { value: ns.logical(payload.batch.topic), enumerable: true },
  }) as EachBatchPayload['batch'];
  return {
    ...payload,
    batch,
    commitOffsetsIfNecessary: (offsets) =>
      payload.commitOffsetsIfNecessary(
        offsets ? { topics: offsets.topics.map((topic) => mapTopic(topic, (name) => ns.physical(name))) } : undefined,
      ),
    uncommittedOffsets: () => {
      const { topics } = payload.uncommittedOffsets();
      return { topics: topics.map((topic) => mapTopic(topic, (name) => ns.logical(name))) };
    },
  };
}

function namespacedAdmin(admin: Admin, ns: KafkaNamespace): Admin {
  const out = (name: string) => ns.physical(name);
  const back = (name: string) => ns.logical(name);
  const isTopic = (type: ConfigResourceTypes) => type === ConfigResourceTypes.TOPIC;
  return {
    ...admin,
    listTopics: async () => (await admin.listTopics()).filter((name) => ns.owns(name)).map(back),
    createTopics: (options) => admin.createTopics({ ...options, topics: options.topics.map((topic) => mapTopic(topic, out)) }),
    deleteTopics: (options) => admin.deleteTopics({ ...options, topics: options.topics.map(out) }),
    createPartitions: (options) =>
      admin.createPartitions({ ...options, topicPartitions: options.topicPartitions.map((topic) => mapTopic(topic, out)) }),
    fetchTopicMetadata: async (options) => {
      const metadata = await admin.fetchTopicMetadata(options?.topics ? { topics: options.topics.map(out) } : undefined);
      return { topics: metadata.topics.filter((topic) => ns.owns(topic.name)).map((topic) => ({ ...topic, name: back(topic.name) })) };
    },
    fetchTopicOffsets: (topic) => admin.fetchTopicOffsets(out(topic)),
    fetchTopicOffsetsByTimestamp: (topic, timestamp) => admin.fetchTopicOffsetsByTimestamp(out(topic), timestamp),
    fetchOffsets: async (options) => {
      const offsets = await admin.fetchOffsets({
        ...options,
        groupId: out(options.groupId),
        ...(options.topics ? { topics: options.topics.map(out) } : {}),
      });
      return offsets.map((offset) => mapTopic(offset, back));
    },
    setOffsets: (options) => admin.setOffsets({ ...options, groupId: out(options.groupId), topic: out(options.topic) }),
    resetOffsets: (options) => admin.resetOffsets({ ...options, groupId: out(options.groupId), topic: out(options.topic) }),
    deleteTopicRecords: (options) => admin.deleteTopicRecords({ ...options, topic: out(options.topic) }),
    listGroups: async () => {
      const { groups } = await admin.listGroups();
      return { groups: groups.filter((group) => ns.owns(group.groupId)).map((group) => ({ ...group, groupId: back(group.groupId) })) };
    },
    describeGroups: (groupIds) => admin.describeGroups(groupIds.map(out)),
    deleteGroups: (groupIds) => admin.deleteGroups(groupIds.map(out)),
    describeConfigs: async (options) => {
      const described = await admin.describeConfigs({
        ...options,
        resources: options.resources.map((resource) => (isTopic(resource.type) ? { ...resource, name: out(resource.name) } : resource)),
      });
      return {
        ...described,
        resources: described.resources.map((resource) =>
          isTopic(resource.resourceType) ? { ...resource, resourceName: back(resource.resourceName) } : resource,
        ),
      };
    },
    alterConfigs: (options) =>
      admin.alterConfigs({
        ...options,
        resources: options.resources.map((resource) => (isTopic(resource.type) ? { ...resource, name: out(resource.name) } : resource)),
      }),
  };
}
