/**
 * Prepares a secured broker for rotor, as its admin principal (KAFKA_* in the environment):
 * creates every rotor topic with its retention (the audit log never deletes; the others keep
 * records for the catalog's longest maxTtl plus a margin), raises the retention of topics created
 * with the broker's defaults, and makes the ACLs exactly docs/access-policy.md's table.
 * Idempotent; scripts/services-up.sh runs it on every start.
 *
 * ROTOR_KAFKA_SETUP_NAMESPACES (comma-separated, e.g. `test1.,test2.`) prepares the same
 * topics and ACLs in further namespaces besides the root (the local stack's test workers).
 */
import { ALL_TOPICS } from '@rotor/contracts';

import { inNamespace, KafkaNamespace } from '@rotor/kafka';

import { kafkaFromEnv } from './env-clients';
import { applyAcls } from './kafka-acls';
import { retentionForCatalog, setupTopics } from './kafka-topics';

async function main(): Promise<void> {
  const namespaces = [
    new KafkaNamespace(''),
    ...(process.env['ROTOR_KAFKA_SETUP_NAMESPACES'] ?? '')
      .split(',')
      .map((name) => name.trim())
      .filter(Boolean)
      .map((name) => new KafkaNamespace(name)),
  ];
  const kafka = kafkaFromEnv('rotor-kafka-setup', { ...process.env, ROTOR_KAFKA_NAMESPACE: '' });
  const setup = {
    topics: ALL_TOPICS,
    partitions: Number(process.env['KAFKA_TOPIC_PARTITIONS'] ?? 6),
    replicationFactor: Number(process.env['KAFKA_REPLICATION_FACTOR'] ?? 1),
    ...(process.env['KAFKA_MIN_INSYNC_REPLICAS'] ? { minInsyncReplicas: Number(process.env['KAFKA_MIN_INSYNC_REPLICAS']) } : {}),
    retentionMs: retentionForCatalog(process.env['ROTOR_CATALOG'] ?? 'config/catalog.yaml'),
  };
  let created = 0;
  let upgraded = 0;
  for (const namespace of namespaces) {
    const admin = inNamespace(kafka, namespace).admin();
    await admin.connect();
    try {
      const result = await setupTopics(admin, setup);
      created += result.created.length;
      upgraded += result.upgraded.length;
    } finally {
      await admin.disconnect();
    }
  }
  const admin = kafka.admin();
  await admin.connect();
  try {
    const acls = await applyAcls(admin, namespaces);
    const where = namespaces.length > 1 ? ` in ${namespaces.length} namespaces` : '';
    console.log(
      `topics: ${ALL_TOPICS.length}${where} (${created} created, ${upgraded} retention raised); ACLs: ${acls.total} (${acls.created} added, ${acls.deleted} removed)`,
    );
  } finally {
    await admin.disconnect();
  }
}

main().catch((error: unknown) => {
  console.error(`kafka-setup failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
