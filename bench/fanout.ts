/**
 * Fan-out benchmark: one new version of a managed secret delivered to N targets (a mix of
 * Kubernetes Secrets on the fake API server, atomic file directories and signed webhooks)
 * by a real distributor process, then removed everywhere when that version is retired.
 *
 *   npm run bench:fanout -- [--targets 500] [--runs 3] [--json]
 *
 * Per run it reports, from the events themselves: per-copy latency (delivery.completed's
 * deliveredAt − version-created's createdAt) p50/p99, time to the last confirmation, and
 * time from the retirement event to the last delivery.removed. Figures are medians of runs.
 * The webhook receiver checks every delivery as a real one must (@rotor/webhook-signature's
 * createWebhookReceiver: HMAC signature over the raw body with its own keyring, timestamp,
 * delivery id, replay) and counts the notices it accepted and the deliveries it refused, by
 * reason; a refused delivery (a bad or missing signature among them) fails the bench (exit 1).
 * Needs the local services (scripts/services-up.sh). Progress on stderr, results on stdout.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { createEvent, Topics } from '@rotor/contracts';
import { EventPublisher } from '@rotor/kafka';
import { createWebhookReceiver, type WebhookNotice } from '@rotor/webhook-signature';

import { FakeKubeApi } from '../test/support/fake-kube-api';
import { ServiceProcess } from '../test/support/service-process';
import { loadServicesEnv } from '../test/support/services-env';
import { writeTempCatalog } from '../test/support/temp-files';
import { TestIdentity } from '../test/support/test-identity';

import { num, table, withSpread } from './lib/report';
import { percentile, spread } from './lib/stats';
import { kafkaFromEnv } from '../tools/security/env-clients';

const { values: args } = parseArgs({
  options: {
    targets: { type: 'string', default: '500' },
    runs: { type: 'string', default: '3' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean' },
  },
});
if (args.help) {
  process.stdout.write('Usage: npm run bench:fanout -- [--targets 500] [--runs 3] [--json]\n');
  process.exit(0);
}
const TARGETS = Number(args.targets);
const RUNS = Number(args.runs);
const progress = (line: string) => process.stderr.write(`${line}\n`);

/**
 * What the webhook receiver saw: notices it verified and accepted (by type and version of the
 * bench's secret), and deliveries it refused, by reason (bad-signature, missing-signature, …).
 */
function webhookTally() {
  const accepted = new Map<string, number>();
  const refused = new Map<string, number>();
  const bump = (counts: Map<string, number>, key: string) => counts.set(key, (counts.get(key) ?? 0) + 1);
  return {
    accepted: (notice: WebhookNotice) => void bump(accepted, `${notice.type}:${notice.version}`),
    refused: ({ code }: { code: string }) => void bump(refused, code),
    acceptedOf: (type: WebhookNotice['type'], version: number) => accepted.get(`${type}:${version}`) ?? 0,
    refusals: () => Object.fromEntries(refused),
  };
}

interface Run {
  copies: number;
  /** Version-ready notices the receiver verified and accepted for this run's version. */
  webhookNoticesAccepted: number;
  p50Ms: number;
  p99Ms: number;
  lastConfirmationMs: number;
  removalMs: number;
}

async function main(): Promise<void> {
  loadServicesEnv();
  const secret = `bench-fanout-${randomUUID().slice(0, 8)}`;
  const namespace = `bench-${randomUUID().slice(0, 6)}`;
  const root = mkdtempSync(join(tmpdir(), 'rotor-bench-fanout-'));
  const key = { id: 'bench', key: randomBytes(32).toString('hex') };
  const kube = await new FakeKubeApi().start();
  const hooks = webhookTally();
  const receive = createWebhookReceiver({ keyring: [key], onNotice: hooks.accepted, onRejected: hooks.refused });
  const receiver = createServer((request, response) => receive(request, response));
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const hookPort = (receiver.address() as AddressInfo).port;

  // 40% Secrets, 40% directories, 20% webhooks.
  const kinds = Array.from({ length: TARGETS }, (_, i) => (i % 5 < 2 ? 'k8s' : i % 5 < 4 ? 'file' : 'hook'));
  const targets = kinds.map((kind, i) =>
    kind === 'k8s'
      ? `      - { kind: kubernetes-secret, name: t${i}, namespace: ${namespace}, secretName: s${i} }`
      : kind === 'file'
        ? `      - { kind: file, name: t${i}, path: ${join(root, `t${i}`)} }`
        : `      - { kind: webhook, name: t${i}, url: "http://127.0.0.1:${hookPort}/hooks?t=${i}", signingKeyEnv: ROTOR_WEBHOOK_KEY_BENCH }`,
  );
  const catalogFile = writeTempCatalog(`
managedSecrets:
  - name: ${secret}
    owner: bench
    generator: { kind: random-bytes, bytes: 32 }
    rotationPeriod: 30d
    gracePeriod: 1h
    targets:
${targets.join('\n')}
`);
  const identity = await TestIdentity.create();
  const distributor = new ServiceProcess('distributor', 18591, {
    ...identity.env,
    ROTOR_CATALOG: catalogFile,
    KUBECONFIG: kube.writeKubeconfig(),
    ROTOR_WEBHOOK_KEY_BENCH: `${key.id}:${key.key}`,
    ROTOR_FILE_TARGET_ROOTS: root,
    ROTOR_DRIFT_SCAN_MS: '0',
    LOG_LEVEL: 'warn',
  });
  const issuer = new ServiceProcess('issuer', 18590, { ...identity.env, ROTOR_CATALOG: catalogFile, LOG_LEVEL: 'warn' });

  const kafka = kafkaFromEnv('rotor-bench-fanout');
  const created = new Map<number, number>();
  const delivered = new Map<number, number[]>();
  const removed = new Map<number, number[]>();
  const consumer = kafka.consumer({ groupId: `rotor-bench-fanout-${randomUUID()}` });
  await consumer.connect();
  await consumer.subscribe({
    topics: [Topics.secretVersionCreated, Topics.deliveryCompleted, Topics.deliveryRemoved],
    fromBeginning: false,
  });
  const seen = new Set<string>();
  await consumer.run({
    eachMessage: async ({ topic, message }) => {
      const event = JSON.parse(message.value?.toString() ?? '{}') as {
        id: string;
        data: { secret: string; version: number; createdAt?: string; deliveredAt?: string; removedAt?: string; reason?: string };
      };
      if (event.data?.secret !== secret || seen.has(event.id)) return;
      seen.add(event.id);
      if (topic === Topics.secretVersionCreated) created.set(event.data.version, Date.parse(event.data.createdAt!));
      if (topic === Topics.deliveryCompleted)
        delivered.set(event.data.version, [...(delivered.get(event.data.version) ?? []), Date.parse(event.data.deliveredAt!)]);
      if (topic === Topics.deliveryRemoved && event.data.reason === 'retired')
        removed.set(event.data.version, [...(removed.get(event.data.version) ?? []), Date.parse(event.data.removedAt!)]);
    },
  });
  // Let the group join before anything is published.
  await new Promise((resolve) => setTimeout(resolve, 3000));

  const publisher = new EventPublisher(kafka);
  await publisher.connect();
  const waitFor = async (what: string, done: () => boolean, timeoutMs = 300_000) => {
    const deadline = Date.now() + timeoutMs;
    let last = 0;
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      // The distributor would retry a refused delivery until the deadline: stop at the first.
      const refused = Object.entries(hooks.refusals());
      if (refused.length > 0)
        throw new Error(`the webhook receiver refused deliveries (${refused.map(([code, count]) => `${count} ${code}`).join(', ')})`);
      if (Date.now() - last > 2000) {
        last = Date.now();
        progress(`  … ${what}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  const runs: Run[] = [];
  try {
    await distributor.start().ready();
    await issuer.start().ready(); // mints version 1 at start-up: the warm-up fan-out
    progress(`warm-up: version 1 to ${TARGETS} targets`);
    await waitFor('warm-up deliveries', () => (delivered.get(1)?.length ?? 0) >= TARGETS);
    let held = 1;
    for (let run = 1; run <= RUNS; run++) {
      await publisher.publish(
        createEvent({
          topic: Topics.rotationRequested,
          source: '/rotor/bench',
          subject: secret,
          data: { secret, reason: 'requested', requestedBy: { kind: 'service', service: 'bench' } },
        }),
      );
      const version = held + 1;
      await waitFor(`run ${run}: version ${version} created`, () => created.has(version));
      await waitFor(
        `run ${run}: deliveries of version ${version} (${delivered.get(version)?.length ?? 0}/${TARGETS})`,
        () => (delivered.get(version)?.length ?? 0) >= TARGETS,
      );
      const t0 = created.get(version)!;
      const latencies = delivered
        .get(version)!
        .map((at) => at - t0)
        .sort((a, b) => a - b);
      // Retire the version every target holds: every copy must be deleted or withdrawn.
      const retiredAt = Date.now();
      await publisher.publish(
        createEvent({
          topic: Topics.secretVersionRetired,
          source: '/rotor/bench',
          subject: secret,
          data: {
            secret,
            version,
            gsmVersion: `projects/${process.env['GSM_PROJECT'] ?? 'rotor-local'}/secrets/${secret}/versions/${version}`,
            reason: 'superseded',
            retiredAt: new Date(retiredAt).toISOString(),
          },
        }),
      );
      await waitFor(
        `run ${run}: removals of version ${version} (${removed.get(version)?.length ?? 0}/${TARGETS})`,
        () => (removed.get(version)?.length ?? 0) >= TARGETS,
      );
      const result: Run = {
        copies: latencies.length,
        webhookNoticesAccepted: hooks.acceptedOf('rotor.secret.version-ready', version),
        p50Ms: percentile(latencies, 50),
        p99Ms: percentile(latencies, 99),
        lastConfirmationMs: latencies[latencies.length - 1]!,
        removalMs: Math.max(...removed.get(version)!) - retiredAt,
      };
      runs.push(result);
      progress(
        `run ${run}: last confirmation ${num(result.lastConfirmationMs)} ms, p50 ${num(result.p50Ms)} ms, p99 ${num(result.p99Ms)} ms, removal ${num(result.removalMs)} ms; webhook notices verified and accepted ${result.webhookNoticesAccepted}`,
      );
      held = version;
    }
  } finally {
    await Promise.all([issuer.stop(), distributor.stop()]);
    await publisher.disconnect();
    await consumer.disconnect();
    await kube.stop();
    receiver.close();
    rmSync(root, { recursive: true, force: true });
  }

  const summary = {
    targets: TARGETS,
    mix: {
      kubernetesSecret: kinds.filter((k) => k === 'k8s').length,
      file: kinds.filter((k) => k === 'file').length,
      webhook: kinds.filter((k) => k === 'hook').length,
    },
    runs,
    /** Deliveries the receiver refused, by reason: any is a failure. */
    webhookRefusals: hooks.refusals(),
    median: {
      p50Ms: spread(runs.map((r) => r.p50Ms)),
      p99Ms: spread(runs.map((r) => r.p99Ms)),
      lastConfirmationMs: spread(runs.map((r) => r.lastConfirmationMs)),
      removalMs: spread(runs.map((r) => r.removalMs)),
    },
  };
  const refusals = Object.entries(summary.webhookRefusals);
  const unconfirmed = runs.filter((r) => r.webhookNoticesAccepted < summary.mix.webhook).length;
  if (refusals.length > 0 || unconfirmed > 0) process.exitCode = 1;
  if (args.json) {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    return;
  }
  process.stdout.write(
    `\nfan-out of one version to ${TARGETS} targets (${summary.mix.kubernetesSecret} Secrets, ${summary.mix.file} directories, ${summary.mix.webhook} webhooks), median (min–max) of ${RUNS} runs\n\n` +
      table(
        ['figure', 'ms'],
        [
          ['per-copy latency p50', withSpread(summary.median.p50Ms)],
          ['per-copy latency p99', withSpread(summary.median.p99Ms)],
          ['last confirmation', withSpread(summary.median.lastConfirmationMs)],
          ['removal after retirement (last copy)', withSpread(summary.median.removalMs)],
        ],
      ) +
      '\n',
  );
  process.stdout.write(
    `\nwebhook receiver (signatures verified): version-ready notices accepted per run ${runs.map((r) => r.webhookNoticesAccepted).join(', ')} of ${summary.mix.webhook}; ` +
      `deliveries refused: ${refusals.length === 0 ? 'none' : refusals.map(([code, count]) => `${count} ${code}`).join(', ')}\n`,
  );
  if (refusals.length > 0) process.stderr.write('bench/fanout: the webhook receiver refused deliveries (see above)\n');
  if (unconfirmed > 0) process.stderr.write(`bench/fanout: ${unconfirmed} run(s) with fewer accepted notices than webhook targets\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench/fanout: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
