import { Kafka, logLevel, type Admin, type ITopicConfig, type LogEntry } from 'kafkajs';

import type { Logger } from '@rotor/telemetry';

import { retryRetriable } from './backoff';

export interface KafkaSettings {
  brokers: string[];
  clientId: string;
  /** Partitions for topics rotor creates at start-up. */
  partitions: number;
  replicationFactor: number;
}

const levelName: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** Routes kafkajs' own logs into the service logger (kafkajs logs metadata, never message values). */
const kafkajsLogCreator = (logger: Logger) => () => (entry: LogEntry) => {
  const { message, ...extra } = entry.log;
  logger[levelName[entry.level] ?? 'info']({ kafkajs: entry.namespace, ...extra }, message);
};

export function createKafka(settings: KafkaSettings, logger: Logger): Kafka {
  return new Kafka({
    clientId: settings.clientId,
    brokers: settings.brokers,
    logLevel: logLevel.WARN,
    logCreator: kafkajsLogCreator(logger.child({ component: 'kafkajs' })),
    retry: { initialRetryTime: 200, retries: 8 },
  });
}

/**
 * Creates the topics a service uses if they do not exist yet. Idempotent, so every replica
 * may call it at start-up.
 */
export async function ensureTopics(
  admin: Admin,
  topics: readonly string[],
  settings: Pick<KafkaSettings, 'partitions' | 'replicationFactor'>,
): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const missing: ITopicConfig[] = topics
    .filter((topic) => !existing.has(topic))
    .map((topic) => ({ topic, numPartitions: settings.partitions, replicationFactor: settings.replicationFactor }));
  if (missing.length > 0) {
    try {
      await admin.createTopics({ topics: missing, waitForLeaders: true });
    } catch (error) {
      // Another replica may have created them between our list and create.
      if (!(error instanceof Error && /already exists/i.test(error.message))) throw error;
    }
  }
  // A topic created a moment ago (by us or by another service starting alongside) can still
  // answer "not the leader"; kafkajs consumers that start then stall for tens of seconds.
  // Serving offsets for every partition is the sign the broker is ready for them.
  await Promise.all(topics.map((topic) => retryRetriable(() => admin.fetchTopicOffsets(topic), 120, 250)));
  return missing.map((topic) => topic.topic);
}
