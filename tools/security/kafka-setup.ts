/**
 * Prepares a secured broker for rotor, as its admin principal (KAFKA_* in the environment):
 * creates every rotor topic and makes the ACLs exactly docs/access-policy.md's table.
 * Idempotent; scripts/services-up.sh runs it on every start.
 */
import { ALL_TOPICS } from '@rotor/contracts';
import { ensureTopics } from '@rotor/kafka';

import { applyAcls } from './kafka-acls';
import { kafkaFromEnv } from './env-clients';

async function main(): Promise<void> {
  const admin = kafkaFromEnv('rotor-kafka-setup').admin();
  await admin.connect();
  try {
    const partitions = Number(process.env['KAFKA_TOPIC_PARTITIONS'] ?? 6);
    const created = await ensureTopics(admin, ALL_TOPICS, {
      partitions,
      replicationFactor: Number(process.env['KAFKA_REPLICATION_FACTOR'] ?? 1),
    });
    const acls = await applyAcls(admin);
    console.log(
      `topics: ${ALL_TOPICS.length} (${created.length} created); ACLs: ${acls.total} (${acls.created} added, ${acls.deleted} removed)`,
    );
  } finally {
    await admin.disconnect();
  }
}

main().catch((error: unknown) => {
  console.error(`kafka-setup failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
