#!/usr/bin/env node
'use strict';
/*
 * Waits until a Kafka cluster answers an admin describeCluster call.
 *
 *   node scripts/wait-for-kafka.js [timeoutSeconds=60] [brokers]
 *
 * brokers: comma-separated host:port list; defaults to $KAFKA_BROKERS, then 127.0.0.1:9092.
 * With a fourth argument `--in-sync` it also waits until every broker listed has joined and
 * every partition's replicas are all in sync (a cluster restarted after a node was down): a
 * node killed before then could take the only up-to-date copy with it.
 * After describeCluster it also asks for the group coordinator (admin describeGroups), which
 * makes a fresh cluster create __consumer_offsets now rather than during the first test's
 * consumer join (kafkajs otherwise logs "The group coordinator is not available" once).
 * Exits 0 and prints the cluster id and broker list when the cluster answers;
 * exits 1 with the last error when the timeout runs out.
 */
// kafkajs 2.2.4 arms setTimeout with a negative delay when its request queue is idle
// (requestQueue scheduleCheckPendingRequests); Node >= 24 warns about it on every connection.
// Harmless: drop just that warning so the output stays readable.
const emitWarning = process.emitWarning;
process.emitWarning = function (warning, ...rest) {
  const type = typeof rest[0] === 'string' ? rest[0] : rest[0] && rest[0].type;
  if (type === 'TimeoutNegativeWarning' || (warning && warning.name === 'TimeoutNegativeWarning')) return;
  return emitWarning.call(process, warning, ...rest);
};

const { Kafka, logLevel } = require('kafkajs');

const timeoutSec = Number(process.argv[2] || 60);
const brokers = (process.argv[3] || process.env.KAFKA_BROKERS || '127.0.0.1:9092')
  .split(',')
  .map((b) => b.trim())
  .filter(Boolean);
const inSync = process.argv[4] === '--in-sync';

if (!Number.isFinite(timeoutSec) || timeoutSec <= 0) {
  console.error(`wait-for-kafka: invalid timeout "${process.argv[2]}" (seconds expected)`);
  process.exit(2);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The secured local stack: TLS against KAFKA_SSL_CA_FILE and SCRAM as KAFKA_SASL_USERNAME.
function security() {
  const env = process.env;
  if (!env.KAFKA_SASL_USERNAME) return {};
  const fs = require('fs');
  const password = env.KAFKA_SASL_PASSWORD_FILE ? fs.readFileSync(env.KAFKA_SASL_PASSWORD_FILE, 'utf8').trim() : env.KAFKA_SASL_PASSWORD;
  return {
    ssl: env.KAFKA_SSL_CA_FILE ? { ca: [fs.readFileSync(env.KAFKA_SSL_CA_FILE, 'utf8')] } : true,
    sasl: { mechanism: env.KAFKA_SASL_MECHANISM || 'scram-sha-512', username: env.KAFKA_SASL_USERNAME, password },
  };
}

async function attempt() {
  const kafka = new Kafka({
    clientId: 'rotor-wait-for-kafka',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1000,
    requestTimeout: 3000,
    retry: { retries: 0 },
    ...security(),
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const info = await admin.describeCluster();
    await admin.describeGroups(['rotor-wait-for-kafka']);
    if (inSync) {
      if (info.brokers.length < brokers.length) throw new Error(`${info.brokers.length} of ${brokers.length} brokers up`);
      const { topics } = await admin.fetchTopicMetadata({ topics: await admin.listTopics() });
      const lagging = topics.flatMap((t) =>
        t.partitions.filter((p) => p.isr.length < p.replicas.length).map((p) => `${t.name}:${p.partitionId}`),
      );
      if (lagging.length) throw new Error(`${lagging.length} partitions not fully in sync (${lagging.slice(0, 3).join(', ')}…)`);
    }
    return info;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

(async () => {
  const started = Date.now();
  const deadline = started + timeoutSec * 1000;
  let lastError;
  let tries = 0;
  while (Date.now() < deadline) {
    tries += 1;
    try {
      const info = await attempt();
      const list = info.brokers.map((b) => `${b.nodeId}@${b.host}:${b.port}`).join(',');
      console.log(
        `kafka ready: cluster ${info.clusterId}, controller ${info.controller}, brokers ${list} ` +
          `(${Date.now() - started} ms, ${tries} tries)`,
      );
      process.exit(0);
    } catch (err) {
      lastError = err;
      await sleep(300);
    }
  }
  console.error(
    `wait-for-kafka: no answer from ${brokers.join(',')} within ${timeoutSec}s after ${tries} tries; ` +
      `last error: ${lastError ? `${lastError.name}: ${lastError.message}` : 'none'}`,
  );
  process.exit(1);
})();
