import { ConfigResourceTypes, ConfigSource, type Admin } from 'kafkajs';

/**
 * How long rotor's topics keep their records, set explicitly on every topic rather than left
 * to the broker's default (24 h on the local broker, 7 days in Kafka's own default):
 * - the audit log (`rotor.audit.*`, the access policy's audit prefix) is never deleted and
 *   never compacted: it is the record operators replay and verify;
 * - every other topic keeps records at least as long as the longest lease can live, plus a
 *   margin, so a consumer that was down for a while still finds what it must act on.
 */
export const DAY_MS = 86_400_000;
/** Added to the longest maxTtl in the catalog. */
export const RETENTION_MARGIN_MS = DAY_MS;
/** For domain topics when nothing asks for longer. */
export const DEFAULT_RETENTION_MS = 7 * DAY_MS;

export const isAuditTopic = (topic: string): boolean => topic.startsWith('rotor.audit.');

export interface TopicRetention {
  /** Retention of every topic but the audit log, in ms. */
  retentionMs: number;
}

/** The retention domain topics need for a catalog whose longest lease lives `longestMaxTtlMs`. */
export const retentionFor = (longestMaxTtlMs: number, configuredMs = DEFAULT_RETENTION_MS): number =>
  Math.max(configuredMs, longestMaxTtlMs + RETENTION_MARGIN_MS);

/** The settings rotor creates a topic with. */
export function topicRetentionConfig(topic: string, { retentionMs }: TopicRetention): Record<string, string> {
  return {
    'cleanup.policy': 'delete',
    'retention.ms': isAuditTopic(topic) ? '-1' : String(retentionMs),
    'retention.bytes': '-1',
  };
}

/**
 * What is wrong with a topic's settings, one sentence per setting naming it; empty when the
 * topic keeps its records long enough. A longer retention than asked for is fine.
 */
export function retentionProblems(topic: string, actual: Record<string, string | undefined>, retention: TopicRetention): string[] {
  const problems: string[] = [];
  const cleanup = actual['cleanup.policy'] ?? 'delete';
  const ms = Number(actual['retention.ms'] ?? NaN);
  const bytes = Number(actual['retention.bytes'] ?? NaN);
  if (isAuditTopic(topic)) {
    if (ms !== -1) problems.push(`${topic}: retention.ms is ${actual['retention.ms']}, so audit records would be deleted; it must be -1`);
    if (bytes !== -1) problems.push(`${topic}: retention.bytes is ${actual['retention.bytes']}; it must be -1`);
    if (cleanup.includes('compact')) problems.push(`${topic}: cleanup.policy is ${cleanup}; the audit log must never be compacted`);
    return problems;
  }
  if (ms !== -1 && !(ms >= retention.retentionMs))
    problems.push(`${topic}: retention.ms is ${actual['retention.ms']}, shorter than the ${retention.retentionMs} ms rotor needs`);
  if (bytes !== -1) problems.push(`${topic}: retention.bytes is ${actual['retention.bytes']}; records must expire by time only`);
  return problems;
}

/** A topic that would delete records rotor still needs; the message names the topic and setting. */
export class TopicRetentionError extends Error {
  readonly code = 'topic-retention';
  constructor(readonly problems: string[]) {
    super(`topic settings would delete records rotor needs:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
  }
}

interface TopicConfigs {
  /** Settings the topic overrides (configSource TOPIC_CONFIG): kept when rotor alters it. */
  overrides: Record<string, string>;
  /** Effective values, overrides and broker defaults alike. */
  effective: Record<string, string>;
}

async function describeTopics(admin: Admin, topics: readonly string[]): Promise<Map<string, TopicConfigs>> {
  const described = await admin.describeConfigs({
    includeSynonyms: false,
    resources: topics.map((name) => ({ type: ConfigResourceTypes.TOPIC, name })),
  });
  const configs = new Map<string, TopicConfigs>();
  for (const resource of described.resources) {
    if (resource.errorCode !== 0) throw new Error(`${resource.resourceName}: cannot describe its settings (${resource.errorMessage})`);
    const entries = resource.configEntries;
    configs.set(resource.resourceName, {
      overrides: Object.fromEntries(
        entries.filter((e) => e.configSource === ConfigSource.TOPIC_CONFIG && !e.isSensitive).map((e) => [e.configName, e.configValue]),
      ),
      effective: Object.fromEntries(entries.map((e) => [e.configName, e.configValue])),
    });
  }
  return configs;
}

/** Every retention problem of `topics` (they must exist). */
export async function topicRetentionProblems(admin: Admin, topics: readonly string[], retention: TopicRetention): Promise<string[]> {
  const configs = await describeTopics(admin, topics);
  return topics.flatMap((topic) => retentionProblems(topic, configs.get(topic)?.effective ?? {}, retention));
}

/** Refuses (TopicRetentionError) when any of `topics` would delete records rotor needs. */
export async function assertTopicRetention(admin: Admin, topics: readonly string[], retention: TopicRetention): Promise<void> {
  const problems = await topicRetentionProblems(admin, topics, retention);
  if (problems.length > 0) throw new TopicRetentionError(problems);
}

/**
 * Brings existing topics up to rotor's retention (the migration from topics created with the
 * broker's defaults). AlterConfigs replaces a topic's whole override set, so the topic's other
 * overrides are sent along unchanged. Needs ALTER_CONFIGS: the admin principal's job
 * (tools/security/kafka-setup.ts), never a service's. Returns the topics it changed.
 */
export async function upgradeTopicRetention(admin: Admin, topics: readonly string[], retention: TopicRetention): Promise<string[]> {
  const configs = await describeTopics(admin, topics);
  const stale = topics.filter((topic) => retentionProblems(topic, configs.get(topic)?.effective ?? {}, retention).length > 0);
  if (stale.length === 0) return [];
  await admin.alterConfigs({
    validateOnly: false,
    resources: stale.map((topic) => ({
      type: ConfigResourceTypes.TOPIC,
      name: topic,
      configEntries: Object.entries({ ...configs.get(topic)?.overrides, ...topicRetentionConfig(topic, retention) }).map(
        ([name, value]) => ({ name, value }),
      ),
    })),
  });
  return stale;
}
