import type { Admin } from 'kafkajs';

import type { Catalog } from '@rotor/catalog';
import { loadCatalog } from '@rotor/config';
import { assertTopicRetention, ensureTopics, retentionFor, upgradeTopicRetention } from '@rotor/kafka';

/** The longest a lease in this catalog can live: role maxTtls and the policy's ceilings. */
export function longestMaxTtlMs(catalog: Catalog): number {
  return Math.max(0, ...catalog.roles.map((role) => role.maxTtl), catalog.policy.maxTtlCeiling ?? 0, catalog.policy.breakGlassMaxTtl ?? 0);
}

/** Domain-topic retention for the catalog at `file`: its longest maxTtl plus a margin, and never under the default. */
export const retentionForCatalog = (file: string): number => retentionFor(longestMaxTtlMs(loadCatalog(file)));

export interface TopicSetup {
  topics: readonly string[];
  partitions: number;
  replicationFactor: number;
  minInsyncReplicas?: number;
  retentionMs: number;
}

/**
 * Creates missing topics with rotor's retention, upgrades existing ones created with the
 * broker's defaults (the migration), then checks the result. Idempotent.
 */
export async function setupTopics(admin: Admin, setup: TopicSetup): Promise<{ created: string[]; upgraded: string[] }> {
  const created = await ensureTopics(admin, setup.topics, setup);
  const upgraded = await upgradeTopicRetention(admin, setup.topics, setup);
  await assertTopicRetention(admin, setup.topics, setup);
  return { created, upgraded };
}
