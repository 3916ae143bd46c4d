import { Kafka, logLevel, type Admin, type ITopicConfig, type KafkaConfig, type LogEntry, type SASLOptions } from 'kafkajs';

import type { Logger } from '@rotor/telemetry';

import { inNamespace, KafkaNamespace } from './kafka-namespace';
import { retryRetriable } from './retry-retriable';
import { DEFAULT_RETENTION_MS, topicRetentionConfig } from './topic-retention';

/** TLS and SASL for the broker link (rotor's services use SASL_SSL; see libs/config). */
export interface KafkaLinkSecurity {
  ssl: false | { ca?: string; cert?: string; key?: string };
  sasl?: { mechanism: 'scram-sha-512' | 'scram-sha-256' | 'plain'; username: string; password: string };
  insecure?: boolean;
}

export interface KafkaSettings {
  /** The service this client belongs to: its topics and ACLs come from libs/contracts' access policy. */
  service?: string;
  brokers: string[];
  security?: KafkaLinkSecurity;
  clientId: string;
  /** Partitions for topics rotor creates at start-up. */
  partitions: number;
  replicationFactor: number;
  /** Replicas that must hold a record before acks=all succeeds; by default 2 from a replication factor of 3 (minInsyncReplicasFor). */
  minInsyncReplicas?: number;
  /** Retention of the topics rotor creates, but the audit log (never deleted); DEFAULT_RETENTION_MS when unset. */
  retentionMs?: number;
  /** A prefix of every topic and group of this installation (see kafka-namespace.ts); none when unset. */
  namespace?: string;
  /** When set, every consumer group of the service uses it, over the group's own default (ConsumerRunnerOptions.sessionTimeoutMs). */
  sessionTimeoutMs?: number;
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

/** kafkajs' ssl/sasl options for a link's security (shared by services, the CLI, tests and benches). */
export function kafkaSecurityOptions(security: KafkaLinkSecurity | undefined): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  if (!security) return {};
  const ssl = security.ssl === false ? false : { ...security.ssl, rejectUnauthorized: true };
  // kafkajs types SASL as a union keyed by mechanism; ours is one of the three it supports.
  return { ssl, ...(security.sasl ? { sasl: security.sasl as SASLOptions } : {}) };
}

export function createKafka(settings: KafkaSettings, logger: Logger): Kafka {
  if (settings.security?.insecure) {
    logger.warn(
      { component: 'kafka', ssl: settings.security.ssl !== false, sasl: Boolean(settings.security.sasl) },
      'INSECURE: Kafka link without TLS or authentication (ROTOR_INSECURE_LOCAL=1); never run this way outside a laptop',
    );
  }
  const kafka = new Kafka({
    clientId: settings.clientId,
    brokers: settings.brokers,
    ...kafkaSecurityOptions(settings.security),
    logLevel: logLevel.WARN,
    logCreator: kafkajsLogCreator(logger.child({ component: 'kafkajs' })),
    retry: { initialRetryTime: 200, retries: 8 },
  });
  return inNamespace(kafka, new KafkaNamespace(settings.namespace ?? ''));
}

/**
 * With three replicas or more, two must acknowledge a write (acks=all): one broker can fail
 * without losing an acknowledged event or stopping producers. Fewer replicas cannot afford it.
 */
export const minInsyncReplicasFor = (replicationFactor: number): number => (replicationFactor >= 3 ? 2 : 1);

/**
 * Creates the topics a service uses if they do not exist yet. Idempotent, so every replica
 * may call it at start-up.
 */
export async function ensureTopics(
  admin: Admin,
  topics: readonly string[],
  settings: Pick<KafkaSettings, 'partitions' | 'replicationFactor' | 'retentionMs' | 'minInsyncReplicas'>,
): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const retention = { retentionMs: settings.retentionMs ?? DEFAULT_RETENTION_MS };
  // Retention is set explicitly, never left to the broker's default (24 h locally): see topic-retention.ts.
  const missing: ITopicConfig[] = topics
    .filter((topic) => !existing.has(topic))
    .map((topic) => ({
      topic,
      numPartitions: settings.partitions,
      replicationFactor: settings.replicationFactor,
      configEntries: Object.entries({
        ...topicRetentionConfig(topic, retention),
        'min.insync.replicas': String(settings.minInsyncReplicas ?? minInsyncReplicasFor(settings.replicationFactor)),
      }).map(([name, value]) => ({ name, value })),
    }));
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
  // Serving offsets for every partition is the sign the broker is ready for them. One topic at a
  // time: on a multi-broker cluster, kafkajs' concurrent metadata refreshes can leave a topic's
  // offsets unanswered and fetchTopicOffsets throw a TypeError (seen with three nodes).
  for (const topic of topics) await retryRetriable(() => admin.fetchTopicOffsets(topic));
  return missing.map((topic) => topic.topic);
}
