/**
 * Capacity on the clustered stack (issue 15, item 5): issuance, revocation and audit
 * throughput with one and with two replicas of every service, on the chaos run's topology
 * (three Kafka brokers, replication 3, a Redis Cluster of 3 masters and 3 replicas).
 *
 *   npm run bench:capacity -- [--replicas 1,2] [--runs 3] [--leases 2000] [--concurrency 16] [--json]
 *
 * For each replica count, one fresh installation (tools/chaos/stack.ts), then `--runs` rounds of:
 *   1. issuance: the auditors are stopped (each stage is measured on its own), then a closed
 *      loop of opaque-token issuances spread over the issuers; every lease is asked to end at one
 *      instant a little after the loop;
 *   2. revocation: every lease expires at that instant; the revokers' rate is the leases over the
 *      time from the instant to the last `lease.revoked` event's broker timestamp;
 *   3. audit: the auditors start on the backlog of steps 1 and 2 (two events per lease); their
 *      rate is timed from a quarter of the backlog recorded to all of it (offsets are committed
 *      every 500 ms: use enough leases that this takes seconds).
 * Medians of the runs, with min–max. Progress on stderr; the table (or --json) on stdout.
 * Everything shares the machine's cores: a second replica can only help where one replica
 * waits on I/O rather than on the CPU (docs/capacity.md reads the figures).
 */
import { parseArgs } from 'node:util';

import type { Admin, Kafka } from 'kafkajs';

import { Topics } from '@rotor/contracts';
import { readTopicRange } from '@rotor/kafka';
import type { IssuedCredential } from '@rotor/rest-contract';

import { loadServicesEnv } from '../test/support/services-env';
import { auditorLag } from '../tools/chaos/evidence';
import { ChaosStack, KAFKA_BROKERS, replicasOfEach, stackScript } from '../tools/chaos/stack';
import { kafkaFromEnv } from '../tools/security/env-clients';

import { closedLoop } from './lib/closed-loop';
import { num, table, withSpread } from './lib/report';
import { spread, type Spread } from './lib/stats';

const { values: args } = parseArgs({
  options: {
    replicas: { type: 'string', default: '1,2' },
    runs: { type: 'string', default: '3' },
    leases: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '16' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean' },
  },
});
if (args.help) {
  process.stdout.write('Usage: npm run bench:capacity -- [--replicas 1,2] [--runs 3] [--leases 2000] [--concurrency 16] [--json]\n');
  process.exit(0);
}
const REPLICA_COUNTS = args.replicas.split(',').map(Number);
const RUNS = Number(args.runs);
const LEASES = Number(args.leases);
const CONCURRENCY = Number(args.concurrency);
if (REPLICA_COUNTS.some((count) => !(count >= 1 && count <= 2)) || !(RUNS >= 1) || !(LEASES >= 1) || !(CONCURRENCY >= 1)) {
  process.stderr.write('--replicas takes 1 and/or 2; --runs, --leases and --concurrency must be positive\n');
  process.exit(2);
}

const NAMESPACE = 'capacity';
const ROLE = 'capacity-token';
/** Time between the end of the issuance loop and the instant every lease expires at. */
const EXPIRY_MARGIN_MS = 8_000;
/** A pessimistic issuance rate, to set the expiry instant after the loop. */
const SLOWEST_ISSUANCE_PER_SECOND = 80;
const progress = (line: string) => process.stderr.write(`${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const catalog = () => `policy: { maxTtlCeiling: 1h }
roles:
  - name: ${ROLE}
    owner: team-capacity
    backend: { kind: opaque-token }
    bindings: [{ namespace: ${NAMESPACE}, serviceAccount: '*' }]
    ttl: 10m
    maxTtl: 1h
    quota: { perWorkload: 1000000, perRole: 10000000 }
`;

interface RoundResult {
  issuancesPerSecond: number;
  revocationsPerSecond: number;
  auditEventsPerSecond: number;
  issueFailures: number;
}

async function round(stack: ChaosStack, kafka: Kafka, admin: Admin, count: number, index: number): Promise<RoundResult> {
  const issuers = stack.replicaSpecs.filter(({ app }) => app === 'issuer').map(({ id }) => stack.url(id));
  const auditors = stack.replicaSpecs.filter(({ app }) => app === 'auditor').map(({ id }) => id);
  const tokens = await Promise.all(Array.from({ length: 8 }, (_, n) => stack.identity.serviceAccountToken(NAMESPACE, `app-${n}`)));
  await auditLag(admin, 0, 180_000); // the previous round's backlog is recorded
  await Promise.all(auditors.map((id) => stack.replica(id).stop()));
  // Every lease must still be live when the loop ends, at the slowest rate expected.
  const expireAt = Date.now() + (LEASES / SLOWEST_ISSUANCE_PER_SECOND) * 1000 + EXPIRY_MARGIN_MS;
  const leaseIds = new Set<string>();

  progress(`[${count}x] round ${index + 1}: issuing ${LEASES} leases at concurrency ${CONCURRENCY} over ${issuers.length} issuer(s)`);
  const issued = await closedLoop({
    total: LEASES,
    concurrency: CONCURRENCY,
    op: async (n) => {
      const response = await fetch(`${issuers[n % issuers.length]}/v1/credentials`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tokens[n % tokens.length]}`, 'content-type': 'application/json' },
        body: JSON.stringify({ role: ROLE, ttl: Math.max(1, Math.ceil((expireAt - Date.now()) / 1000)) }),
        signal: AbortSignal.timeout(10_000),
      });
      if (response.status !== 201) return { ok: false, error: `HTTP ${response.status}` };
      leaseIds.add(((await response.json()) as IssuedCredential).leaseId);
      return { ok: true };
    },
  });
  progress(`[${count}x]   ${num(issued.throughput)} issuances/s (${issued.failed} failed)`);
  if (Date.now() > expireAt) throw new Error('the issuance loop outlasted the expiry instant: lower --leases');

  progress(`[${count}x]   every lease expires at ${new Date(expireAt).toISOString().slice(11, 19)}`);
  const revocationStart = Math.ceil(expireAt / 1000) * 1000; // TTLs are whole seconds: the last lease ends at most here
  const lastRevoked = await lastRevocation(kafka, leaseIds, revocationStart - 60_000, 240_000);
  const revocationsPerSecond = leaseIds.size / Math.max(0.001, (lastRevoked - (revocationStart - 1000)) / 1000);
  progress(`[${count}x]   ${num(revocationsPerSecond)} revocations/s`);

  const backlog = await auditLag(admin);
  const restarting = Promise.all(auditors.map((id) => stack.restart(id)));
  // Timed from a quarter of the backlog done to all of it: the start-up and the first group joins
  // (several members per process join one after another) are not the auditors' rate.
  const from = Math.floor(backlog * 0.75);
  let timedFrom: number | undefined;
  const deadline = Date.now() + 240_000;
  for (let lag = backlog; lag > 0; lag = await auditLag(admin)) {
    if (timedFrom === undefined && lag <= from) timedFrom = Date.now();
    if (Date.now() > deadline) throw new Error(`the auditors still had ${lag} events to record after 240 s`);
    await sleep(100);
  }
  const auditEventsPerSecond = from / Math.max(0.001, (Date.now() - (timedFrom ?? Date.now() - 500)) / 1000);
  await restarting;
  progress(`[${count}x]   ${num(auditEventsPerSecond)} audit events/s (a backlog of ${backlog})`);
  return { issuancesPerSecond: issued.throughput, revocationsPerSecond, auditEventsPerSecond, issueFailures: issued.failed };
}

/** The auditors' lag over every domain topic; with `until`, polls until it is at most that. */
async function auditLag(admin: Admin, until?: number, timeoutMs = 0): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const lag = await auditorLag(admin);
    if (until === undefined || lag <= until) return lag;
    if (Date.now() > deadline) throw new Error(`the auditors still had ${lag} events to record after ${timeoutMs} ms`);
    await sleep(250);
  }
}

/** The broker timestamp of the last `lease.revoked` of `leaseIds`, once every one has one. */
async function lastRevocation(kafka: Kafka, leaseIds: Set<string>, since: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const revoked = new Map<string, number>();
    await readTopicRange(kafka, {
      topic: Topics.leaseRevoked,
      fromTime: new Date(since),
      onMessage: (message) => {
        const leaseId = (JSON.parse(message.value!.toString('utf8')) as { data?: { leaseId?: string } }).data?.leaseId;
        if (leaseId && leaseIds.has(leaseId) && !revoked.has(leaseId)) revoked.set(leaseId, Number(message.timestamp));
      },
    });
    if (revoked.size === leaseIds.size) return Math.max(...revoked.values());
    if (Date.now() > deadline) throw new Error(`${leaseIds.size - revoked.size} leases were not revoked after ${timeoutMs} ms`);
    await sleep(2_000);
  }
}

interface CapacityResult {
  replicas: number;
  runs: RoundResult[];
  issuancesPerSecond: Spread;
  revocationsPerSecond: Spread;
  auditEventsPerSecond: Spread;
}

async function measure(count: number): Promise<CapacityResult> {
  const stack = new ChaosStack(`cap${count}-${Date.now().toString(36)}`, progress, replicasOfEach(count));
  // Interrupted: no replica or emulator stays behind to answer on the next run's ports.
  const interrupted = () => void stack.stop().finally(() => process.exit(130));
  process.once('SIGINT', interrupted).once('SIGTERM', interrupted);
  try {
    await stack.start(catalog);
    const kafka = kafkaFromEnv('rotor-capacity', { ...process.env, KAFKA_BROKERS, ROTOR_KAFKA_NAMESPACE: stack.namespace });
    const admin = kafka.admin();
    await admin.connect();
    try {
      const runs: RoundResult[] = [];
      for (let index = 0; index < RUNS; index++) runs.push(await round(stack, kafka, admin, count, index));
      return {
        replicas: count,
        runs,
        issuancesPerSecond: spread(runs.map((run) => run.issuancesPerSecond)),
        revocationsPerSecond: spread(runs.map((run) => run.revocationsPerSecond)),
        auditEventsPerSecond: spread(runs.map((run) => run.auditEventsPerSecond)),
      };
    } finally {
      await admin.disconnect();
    }
  } finally {
    process.off('SIGINT', interrupted).off('SIGTERM', interrupted);
    await stack.stop();
  }
}

async function main(): Promise<void> {
  loadServicesEnv();
  progress('[capacity] the local stack (PostgreSQL, TLS, principals): scripts/services-up.sh');
  await stackScript('services-up.sh', []);
  const results: CapacityResult[] = [];
  for (const count of REPLICA_COUNTS) results.push(await measure(count));
  if (args.json) {
    process.stdout.write(`${JSON.stringify({ leases: LEASES, concurrency: CONCURRENCY, runs: RUNS, results }, null, 2)}\n`);
    return;
  }
  const base = results[0]!;
  const ratio = (value: Spread, of: Spread) => (results.length > 1 ? `${(value.median / of.median).toFixed(2)}×` : '-');
  process.stdout.write(
    `${table(
      [
        'replicas of each service',
        'issuances/s',
        'revocations/s',
        'audit events/s',
        'issuance vs 1st',
        'revocation vs 1st',
        'audit vs 1st',
      ],
      results.map((result) => [
        String(result.replicas),
        withSpread(result.issuancesPerSecond),
        withSpread(result.revocationsPerSecond),
        withSpread(result.auditEventsPerSecond),
        ratio(result.issuancesPerSecond, base.issuancesPerSecond),
        ratio(result.revocationsPerSecond, base.revocationsPerSecond),
        ratio(result.auditEventsPerSecond, base.auditEventsPerSecond),
      ]),
    )}\n` + `(medians of ${RUNS} runs, min–max in brackets; ${LEASES} opaque-token leases per run at concurrency ${CONCURRENCY})\n`,
  );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    progress(`[capacity] failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
