import { DOMAIN_TOPICS, Topics } from '@rotor/contracts';
import { ensureTopics, retryRetriable } from '@rotor/kafka';
import type { Kafka } from 'kafkajs';

/**
 * Commits the end of every rotor topic for a fresh consumer group in one go (admin.setOffsets
 * costs a group join per topic), so a service started on that group handles only what comes
 * next, not the shared backlog of earlier suites and benchmarks.
 */
export async function startGroupAtEnd(kafka: Kafka, groupId: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  let ends;
  try {
    await ensureTopics(admin, [...DOMAIN_TOPICS, Topics.deadLetter], { partitions: 6, replicationFactor: 1 });
    ends = await Promise.all(
      DOMAIN_TOPICS.map(async (topic) =>
        (await retryRetriable(() => admin.fetchTopicOffsets(topic))).map(({ partition, high }) => ({ topic, partition, offset: high })),
      ),
    );
  } finally {
    await admin.disconnect();
  }
  const consumer = kafka.consumer({ groupId });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [...DOMAIN_TOPICS], fromBeginning: false });
    const joined = new Promise((resolve) => consumer.on(consumer.events.GROUP_JOIN, resolve));
    await consumer.run({ autoCommit: false, eachMessage: () => Promise.resolve() });
    await joined;
    await consumer.commitOffsets(ends.flat());
  } finally {
    await consumer.disconnect();
  }
}
