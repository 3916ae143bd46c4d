/**
 * Prepares a secured broker for rotor, as its admin principal (KAFKA_* in the environment):
 * creates every rotor topic with its retention (the audit log never deletes; the others keep
 * records for the catalog's longest maxTtl plus a margin), raises the retention of topics created
 * with the broker's defaults, and makes the ACLs exactly docs/access-policy.md's table.
 * Idempotent; scripts/services-up.sh runs it on every start.
 */
import { ALL_TOPICS } from '@rotor/contracts';

import { kafkaFromEnv } from './env-clients';
import { applyAcls } from './kafka-acls';
import { retentionForCatalog, setupTopics } from './kafka-topics';

async function main(): Promise<void> {
  const admin = kafkaFromEnv('rotor-kafka-setup').admin();
  await admin.connect();
  try {
    const partitions = Number(process.env['KAFKA_TOPIC_PARTITIONS'] ?? 6);
    const { created, upgraded } = await setupTopics(admin, {
      topics: ALL_TOPICS,
      partitions,
      replicationFactor: Number(process.env['KAFKA_REPLICATION_FACTOR'] ?? 1),
      retentionMs: retentionForCatalog(process.env['ROTOR_CATALOG'] ?? 'config/catalog.yaml'),
    });
    const acls = await applyAcls(admin);
    console.log(
      `topics: ${ALL_TOPICS.length} (${created.length} created, ${upgraded.length} retention raised); ACLs: ${acls.total} (${acls.created} added, ${acls.deleted} removed)`,
    );
  } finally {
    await admin.disconnect();
  }
}

main().catch((error: unknown) => {
  console.error(`kafka-setup failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
