/**
 * Emergency rotation at scale: one request covering N opaque-token leases and M managed
 * secrets with T file targets each, from POST to the end state the revoker reports (GET
 * /v1/emergency-rotations/{id}): `completed` when every lease was revoked, every secret rotated,
 * delivered to its targets by the real distributor and its previous version retired; `failed`
 * when some lease ended irrevocable. With the revoker's GSM pacing off and on.
 *
 *   npm run bench:emergency -- [--leases 10000] [--secrets 100] [--targets 3] [--runs 3] [--modes off,on] [--fake-delivery] [--json]
 *
 * "off" lifts the GSM write quota the services pace to (ROTOR_GSM_WRITES_PER_MINUTE=1000000);
 * "on" uses GSM's default 600 writes/min, so the revoker requests at most 120 rotations per
 * minute (5 GSM writes each) and reports quotaLimited while it waits. The issuer, revoker and
 * distributor run as real processes on the shared Kafka and GSM emulator with a private
 * redis-server (removed afterwards); the file targets live in a temporary directory (removed).
 * --fake-delivery publishes the delivery confirmations from the benchmark instead of running
 * the distributor (for when the distributor is not available); the output says so.
 * A run succeeds when it ends `completed` with every matched lease revoked; leases are counted
 * by the view's own outcome (revoked, failed = irrevocable, or neither). Medians are over the
 * successful runs only; the bench exits 1 after printing when any run did not succeed.
 * Progress on stderr, results on stdout. Run it under the integration flock.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { type Kafka } from 'kafkajs';

import { createEvent, Topics } from '@rotor/contracts';
import { EventPublisher } from '@rotor/kafka';
import { EmergencyRotationViewSchema, type EmergencyRotationView } from '@rotor/rest-contract';

import { startGroupAtEnd } from '../test/support/kafka-groups';
import { PrivateRedis } from '../test/support/private-redis';
import { ServiceProcess } from '../test/support/service-process';
import { loadServicesEnv } from '../test/support/services-env';
import { writeTempCatalog } from '../test/support/temp-files';
import { TestIdentity } from '../test/support/test-identity';

import { publishOpaqueLeases } from './lib/lease-events';
import { SERVICE_GROUPS } from './lib/quiet-services';
import { median } from './lib/stats';
import { kafkaFromEnv, redisFromEnv } from '../tools/security/env-clients';

const { values: args } = parseArgs({
  options: {
    leases: { type: 'string', default: '10000' },
    secrets: { type: 'string', default: '100' },
    targets: { type: 'string', default: '3' },
    runs: { type: 'string', default: '3' },
    modes: { type: 'string', default: 'off,on' },
    'fake-delivery': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean' },
  },
});
if (args.help) {
  process.stdout.write(
    'Usage: npm run bench:emergency -- [--leases 10000] [--secrets 100] [--targets 3] [--runs 3] [--modes off,on] [--fake-delivery] [--json]\n',
  );
  process.exit(0);
}
const LEASES = Number(args.leases);
const SECRETS = Number(args.secrets);
const TARGETS = Number(args.targets);
const RUNS = Number(args.runs);
const MODES = args.modes.split(',') as ('off' | 'on')[];
const FAKE_DELIVERY = args['fake-delivery'];
const WRITES_PER_MINUTE = { off: '1000000', on: '600' } as const;
const PORTS = { redis: 19393, issuer: 19383, revoker: 19384, distributor: 19385 };
const progress = (line: string) => process.stderr.write(`${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface RunResult {
  /** Ended `completed` with every one of the LEASES leases matched and revoked. */
  succeeded: boolean;
  /** From the POST to the end state (completed or failed). */
  completedMs: number;
  leasesRevokedMs: number;
  secretsRotatedMs: number;
  quotaLimitedSeen: boolean;
  final: EmergencyRotationView;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 600_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = 0;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    if (Date.now() - last > 5_000) {
      last = Date.now();
      progress(`  … ${what}`);
    }
    await sleep(200);
  }
}

async function publishLeases(publisher: EventPublisher, namespace: string): Promise<void> {
  const expiresAt = Date.now() + 3_600_000;
  await publishOpaqueLeases(publisher, { count: LEASES, namespace, serviceAccount: 'app', expiryOf: () => expiresAt });
}

/** Stands in for the distributor: confirms every target of each new version as soon as it is created. */
async function fakeDeliveries(kafka: Kafka, publisher: EventPublisher, secrets: Set<string>): Promise<() => Promise<void>> {
  const consumer = kafka.consumer({ groupId: `rotor-bench-emergency-${randomUUID()}` });
  await consumer.connect();
  await consumer.subscribe({ topics: [Topics.secretVersionCreated], fromBeginning: false });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const event = JSON.parse(message.value?.toString() ?? '{}') as { data?: { secret: string; version: number } };
      if (!event.data || !secrets.has(event.data.secret)) return;
      const { secret, version } = event.data;
      for (let t = 0; t < TARGETS; t++) {
        await publisher.publish(
          createEvent({
            topic: Topics.deliveryCompleted,
            source: '/rotor/bench',
            subject: secret,
            data: {
              secret,
              version,
              target: { kind: 'file', name: `t${t}` },
              locator: `bench:${secret}:t${t}`,
              contentHash: 'c'.repeat(64),
              deliveredAt: new Date().toISOString(),
            },
          }),
          { key: secret },
        );
      }
    },
  });
  await sleep(3_000); // let the group join before anything is created
  return () => consumer.disconnect();
}

async function runMode(mode: 'off' | 'on', kafka: Kafka, identity: TestIdentity): Promise<RunResult[]> {
  const tag = randomUUID().slice(0, 6);
  const namespace = `bench-em-${tag}`;
  const root = mkdtempSync(join(tmpdir(), 'rotor-bench-emergency-'));
  const names = Array.from({ length: SECRETS }, (_, i) => `bench-em-${tag}-${i}`);
  const catalog = writeTempCatalog(`
managedSecrets:
${names
  .map(
    (name) => `  - name: ${name}
    owner: team-bench
    generator: { kind: random-bytes, bytes: 32 }
    rotationPeriod: 30d
    gracePeriod: 1h
    bindings: [{ namespace: ${namespace}, serviceAccount: '*' }]
    targets:
${Array.from({ length: TARGETS }, (_, t) => `      - { kind: file, name: t${t}, path: ${join(root, name, `t${t}`)} }`).join('\n')}`,
  )
  .join('\n')}
`);
  // The services' groups from the end of the shared topics: not the backlog earlier runs left there.
  for (const group of Object.values(SERVICE_GROUPS).flat()) await startGroupAtEnd(kafka, group);
  const redisServer = new PrivateRedis(PORTS.redis);
  await redisServer.start();
  const redis = redisFromEnv(redisServer.url);
  const env = {
    ...identity.env,
    REDIS_URL: redisServer.url,
    ROTOR_CATALOG: catalog,
    ROTOR_GSM_WRITES_PER_MINUTE: WRITES_PER_MINUTE[mode],
    ROTOR_TOKEN_HASH_KEY: randomBytes(32).toString('hex'),
    ROTOR_FILE_TARGET_ROOTS: root,
    ROTOR_DRIFT_SCAN_MS: '0',
    LOG_LEVEL: 'warn',
  };
  const revoker = new ServiceProcess('revoker', PORTS.revoker, env);
  const issuer = new ServiceProcess('issuer', PORTS.issuer, env);
  const distributor = FAKE_DELIVERY ? undefined : new ServiceProcess('distributor', PORTS.distributor, env);
  const publisher = new EventPublisher(kafka);
  let stopFake: (() => Promise<void>) | undefined;
  const sre = await identity.operatorToken('bench@example.com', ['rotor:sre']);
  const results: RunResult[] = [];
  try {
    await publisher.connect();
    if (FAKE_DELIVERY) stopFake = await fakeDeliveries(kafka, publisher, new Set(names));
    await Promise.all([revoker.start().ready(), distributor?.start().ready()]);
    await issuer.start().ready(); // mints version 1 of every secret
    progress(`GSM pacing ${mode}: waiting for the first version of ${SECRETS} secrets and its ${SECRETS * TARGETS} confirmations`);
    const confirmedAll = async (version: number) => {
      let confirmed = 0;
      for (const name of names) {
        const fields = await redis.hgetall(`revoker:retirement:{${name}}:confirmed`);
        confirmed += Object.values(fields).filter((v) => Number(v) >= version).length;
      }
      return confirmed;
    };
    await waitFor('initial versions delivered', async () => ((await confirmedAll(1)) >= SECRETS * TARGETS ? true : undefined));

    for (let run = 1; run <= RUNS; run++) {
      const runNamespace = `${namespace}`;
      await publishLeases(publisher, runNamespace);
      await waitFor(`run ${run}: ${LEASES} leases tracked`, async () =>
        (await redis.scard(`revoker:index:{ns:${runNamespace}}`)) >= LEASES ? true : undefined,
      );
      const started = Date.now();
      const response = await fetch(`https://127.0.0.1:${PORTS.revoker}/v1/emergency-rotations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${sre}`, 'content-type': 'application/json' },
        body: JSON.stringify({ selector: { namespace: runNamespace }, mode: 'graceful', reason: `benchmark run ${run}` }),
      });
      const { id } = EmergencyRotationViewSchema.parse(await response.json());
      let leasesRevokedMs = Number.NaN;
      let secretsRotatedMs = Number.NaN;
      let quotaLimitedSeen = false;
      let lastLine = 0;
      const final = await waitFor(`run ${run}: completion`, async () => {
        const answer = EmergencyRotationViewSchema.safeParse(
          await (
            await fetch(`https://127.0.0.1:${PORTS.revoker}/v1/emergency-rotations/${id}`, { headers: { authorization: `Bearer ${sre}` } })
          ).json(),
        );
        if (!answer.success) return undefined; // not a view (a transient problem answer): ask again
        const view = answer.data;
        const elapsed = Date.now() - started;
        quotaLimitedSeen ||= view.quotaLimited;
        if (Number.isNaN(leasesRevokedMs) && view.matched.leases === LEASES && view.revoked >= LEASES) leasesRevokedMs = elapsed;
        if (Number.isNaN(secretsRotatedMs) && view.matched.secrets === SECRETS && view.rotated >= SECRETS) secretsRotatedMs = elapsed;
        if (Date.now() - lastLine > 2_000) {
          lastLine = Date.now();
          progress(
            `  run ${run} +${(elapsed / 1000).toFixed(1)}s: revoked ${view.revoked}/${view.matched.leases}, failed ${view.failed}, rotated ${view.rotated}, delivered ${view.delivered}, retired ${view.retired}/${view.matched.secrets}${view.quotaLimited ? ' (quota-limited)' : ''}`,
          );
        }
        return view.state === 'running' ? undefined : view;
      });
      const succeeded = final.state === 'completed' && final.matched.leases === LEASES && final.revoked === LEASES;
      const result = { succeeded, completedMs: Date.now() - started, leasesRevokedMs, secretsRotatedMs, quotaLimitedSeen, final };
      progress(
        `run ${run} (pacing ${mode}): ${final.state} in ${(result.completedMs / 1000).toFixed(1)}s; ${leaseOutcomes({ ...final, matchedLeases: final.matched.leases })}; leases revoked at ${(leasesRevokedMs / 1000).toFixed(1)}s, secrets rotated at ${(secretsRotatedMs / 1000).toFixed(1)}s`,
      );
      results.push(result);
    }
  } finally {
    await Promise.all([issuer.stop(), revoker.stop(), distributor?.stop()]);
    await stopFake?.();
    await publisher.disconnect();
    redis.disconnect();
    await redisServer.kill();
    rmSync(root, { recursive: true, force: true });
  }
  return results;
}

/** The leases by their outcome in the revoker's view: revoked, failed (irrevocable), neither (still pending). */
const leaseOutcomes = ({ revoked, failed, matchedLeases }: { revoked: number; failed: number; matchedLeases: number }) =>
  `leases ${revoked} revoked, ${failed} failed (irrevocable), ${matchedLeases - revoked - failed} neither, of ${matchedLeases} matched (${LEASES} published)`;

async function main(): Promise<void> {
  loadServicesEnv();
  const kafka = kafkaFromEnv('rotor-bench-emergency');
  const identity = await TestIdentity.create();
  const byMode: Record<string, RunResult[]> = {};
  for (const mode of MODES) byMode[mode] = await runMode(mode, kafka, identity);
  const summary = {
    leases: LEASES,
    secrets: SECRETS,
    targetsPerSecret: TARGETS,
    delivery: FAKE_DELIVERY ? 'confirmations published by the benchmark (no distributor)' : 'real distributor, file targets',
    modes: Object.fromEntries(
      Object.entries(byMode).map(([mode, runs]) => {
        const succeeded = runs.filter((r) => r.succeeded);
        return [
          mode,
          {
            runs: runs.map(({ final, ...rest }) => ({
              ...rest,
              state: final.state,
              matchedLeases: final.matched.leases,
              revoked: final.revoked,
              rotated: final.rotated,
              delivered: final.delivered,
              retired: final.retired,
              failed: final.failed,
            })),
            failedRuns: runs.length - succeeded.length,
            // Over the successful runs only: a failed run's timings measure something else.
            medianCompletedMs: median(succeeded.map((r) => r.completedMs)),
            medianLeasesRevokedMs: median(succeeded.map((r) => r.leasesRevokedMs)),
            medianSecretsRotatedMs: median(succeeded.map((r) => r.secretsRotatedMs)),
          },
        ];
      }),
    ),
  };
  const failedRuns = Object.values(summary.modes).reduce((sum, figures) => sum + figures.failedRuns, 0);
  if (failedRuns > 0) process.exitCode = 1;
  if (args.json) {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    return;
  }
  process.stdout.write(
    `emergency rotation: ${LEASES} leases + ${SECRETS} secrets × ${TARGETS} targets, graceful; delivery: ${summary.delivery}\n`,
  );
  for (const [mode, figures] of Object.entries(summary.modes)) {
    const succeeded = figures.runs.length - figures.failedRuns;
    process.stdout.write(
      `  GSM pacing ${mode}: ${succeeded} of ${figures.runs.length} runs completed with every lease revoked, ${figures.failedRuns} did not; ` +
        `over the successful runs (median): completed in ${(figures.medianCompletedMs / 1000).toFixed(1)} s, leases revoked by ${(figures.medianLeasesRevokedMs / 1000).toFixed(1)} s, secrets rotated by ${(figures.medianSecretsRotatedMs / 1000).toFixed(1)} s; quota-limited reported: ${figures.runs.some((r) => r.quotaLimitedSeen)}\n`,
    );
    for (const [index, run] of figures.runs.entries()) {
      if (run.succeeded) continue;
      process.stdout.write(`    run ${index + 1} did not succeed: state ${run.state}; ${leaseOutcomes(run)}\n`);
    }
  }
  if (failedRuns > 0) process.stderr.write(`bench:emergency: ${failedRuns} run(s) did not complete with every lease revoked\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
