import type { Kafka } from 'kafkajs';

import { ensureTopics } from '@rotor/kafka';

/** Creates single-partition topics of a test's own (and any shared ones it names), ready to serve offsets. */
export async function createTestTopics(kafka: Kafka, topics: string[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await ensureTopics(admin, topics, { partitions: 1, replicationFactor: 1 });
  } finally {
    await admin.disconnect();
  }
}

/** Deletes a test's own topics; one already gone is fine. */
export async function deleteTestTopics(kafka: Kafka, topics: string[]): Promise<void> {
  if (topics.length === 0) return;
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.deleteTopics({ topics }).catch(() => undefined);
  } finally {
    await admin.disconnect();
  }
}
