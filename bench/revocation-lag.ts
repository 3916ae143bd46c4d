/**
 * Revocation lag: how late the revoker ends leases relative to their expiry, at scale.
 *
 *   npm run bench:revocation-lag -- [--leases 10000] [--replicas 1|2] [--spread 60] [--runs 3] [--json]
 *
 * Per run: a private redis-server (the revoker's clock only; removed afterwards), 1 or 2
 * revoker replicas as real processes on the shared Kafka, then N opaque-token leases
 * published as lease.issued events (as the issuer would) with expiries spread evenly over
 * `--spread` seconds, starting once they can all have been read. Lag of a lease =
 * lease.revoked's revokedAt − its expiresAt. Reports p50/p99/max per run and their medians
 * across runs. Progress on stderr, results on stdout. Needs the local services
 * (scripts/services-up.sh); run it under the integration flock (shared consumer groups).
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';

import { type Kafka, type Admin } from 'kafkajs';

import { Topics } from '@rotor/contracts';
import { EventPublisher, readTopicRange } from '@rotor/kafka';

import { PrivateRedis } from '../test/support/private-redis';
import { ServiceProcess } from '../test/support/service-process';
import { loadServicesEnv } from '../test/support/services-env';
import { TestIdentity } from '../test/support/test-identity';

import { publishOpaqueLeases } from './lib/lease-events';
import { median, percentile } from './lib/stats';
import { kafkaFromEnv, redisFromEnv } from '../tools/security/env-clients';

const { values: args } = parseArgs({
  options: {
    leases: { type: 'string', default: '10000' },
    replicas: { type: 'string', default: '1' },
    spread: { type: 'string', default: '60' },
    runs: { type: 'string', default: '3' },
    lead: { type: 'string' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean' },
  },
});
if (args.help) {
  process.stdout.write(
    'Usage: npm run bench:revocation-lag -- [--leases 10000] [--replicas 1|2] [--spread 60] [--runs 3] [--lead SECONDS] [--json]\n',
  );
  process.exit(0);
}
const LEASES = Number(args.leases);
const REPLICAS = Number(args.replicas);
const SPREAD_MS = Number(args.spread) * 1000;
const RUNS = Number(args.runs);
/** Time before the first expiry: long enough to publish and read every lease.issued. */
const LEAD_MS = args.lead ? Number(args.lead) * 1000 : Math.max(10_000, Math.ceil(LEASES / 2_500) * 1000);
const REDIS_PORT = 19390;
const REVOKER_PORTS = [19380, 19381];
const CLOCK_TOPICS = [Topics.leaseIssued, Topics.leaseRenewed, Topics.revocationRequested];
const progress = (line: string) => process.stderr.write(`${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface RunResult {
  leases: number;
  revoked: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  lastRevokedAfterLastExpiryMs: number;
}

/** Waits until the revokers' consumer group has committed everything on the clock's topics (old backlog included). */
async function waitCaughtUp(admin: Admin, what: string): Promise<void> {
  for (let round = 0; ; round++) {
    let lag = 0;
    for (const { topic, partitions } of await admin.fetchOffsets({ groupId: 'rotor-revoker-clock', topics: [...CLOCK_TOPICS] })) {
      const ends = await admin.fetchTopicOffsets(topic);
      for (const end of ends) {
        const committed = partitions.find((partition) => partition.partition === end.partition)?.offset ?? '-1';
        lag += Number(end.high) - (committed === '-1' ? Number(end.low) : Number(committed));
      }
    }
    if (lag <= 0) return;
    if (round % 5 === 0) progress(`  ${what}: consumer group behind by ${lag} messages`);
    await sleep(1_000);
  }
}

function publishLeases(publisher: EventPublisher, namespace: string, firstExpiry: number): Promise<Map<string, number>> {
  return publishOpaqueLeases(publisher, {
    count: LEASES,
    namespace,
    serviceAccount: 'bench',
    expiryOf: (index) => firstExpiry + Math.floor((index * SPREAD_MS) / LEASES),
  });
}

async function run(index: number, kafka: Kafka, admin: Admin, identity: TestIdentity): Promise<RunResult> {
  const namespace = `bench-lag-${randomUUID().slice(0, 8)}`;
  const redis = new PrivateRedis(REDIS_PORT);
  await redis.start();
  const probe = redisFromEnv(redis.url);
  const replicas = REVOKER_PORTS.slice(0, REPLICAS).map(
    (port) => new ServiceProcess('revoker', port, { ...identity.env, REDIS_URL: redis.url, LOG_LEVEL: 'warn' }),
  );
  const publisher = new EventPublisher(kafka);
  try {
    await Promise.all(replicas.map((replica) => replica.start().ready()));
    await publisher.connect();
    // Whatever lease events other runs left unread are read (and their expired leases revoked) first.
    await waitCaughtUp(admin, `run ${index}: backlog`);
    for (;;) {
      const pending =
        (await probe.zcount('{revoker:schedule:lease-expiry:s0}:due', '-inf', Date.now())) +
        (await probe.zcard('{revoker:schedule:lease-expiry:s0}:inflight'));
      if (pending === 0) break;
      progress(`  run ${index}: ${pending} backlog leases still to revoke`);
      await sleep(1_000);
    }
    await probe.flushall(); // a private server: only this run's clock lives here

    const runStarted = new Date();
    const firstExpiry = Date.now() + LEAD_MS;
    progress(
      `run ${index}: publishing ${LEASES} leases of ${namespace}, expiring over ${SPREAD_MS / 1000}s from +${LEAD_MS / 1000}s, ${REPLICAS} replica(s)`,
    );
    const expiries = await publishLeases(publisher, namespace, firstExpiry);
    progress(`  published in ${((Date.now() - runStarted.getTime()) / 1000).toFixed(1)}s`);
    await waitCaughtUp(admin, `run ${index}: reading`);
    const lastExpiry = firstExpiry + SPREAD_MS;
    for (;;) {
      const [active, due, inflight] = await Promise.all([
        probe.scard(`revoker:index:{ns:${namespace}}`),
        probe.zcard('{revoker:schedule:lease-expiry:s0}:due'),
        probe.zcard('{revoker:schedule:lease-expiry:s0}:inflight'),
      ]);
      if (active === 0 && due + inflight === 0) break;
      progress(
        `  run ${index}: ${active} leases active, ${due + inflight} scheduled, last expiry in ${Math.max(0, Math.round((lastExpiry - Date.now()) / 1000))}s`,
      );
      await sleep(2_000);
    }

    const revokedAt = new Map<string, number>();
    await readTopicRange(kafka, {
      topic: Topics.leaseRevoked,
      fromTime: runStarted,
      onMessage: (message) => {
        const event = JSON.parse(message.value?.toString() ?? '{}') as { data?: { leaseId: string; revokedAt: string } };
        const id = event.data?.leaseId;
        if (id && expiries.has(id) && !revokedAt.has(id)) revokedAt.set(id, Date.parse(event.data!.revokedAt));
      },
    });
    const lags = [...revokedAt].map(([id, at]) => at - expiries.get(id)!).sort((a, b) => a - b);
    const result: RunResult = {
      leases: LEASES,
      revoked: revokedAt.size,
      p50Ms: percentile(lags, 50),
      p99Ms: percentile(lags, 99),
      maxMs: lags.at(-1) ?? Number.NaN,
      lastRevokedAfterLastExpiryMs: Math.max(...revokedAt.values()) - lastExpiry,
    };
    progress(
      `  run ${index}: ${result.revoked}/${LEASES} revoked, lag p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, max ${result.maxMs} ms`,
    );
    return result;
  } finally {
    await publisher.disconnect();
    await Promise.all(replicas.map((replica) => replica.stop()));
    probe.disconnect();
    await redis.kill();
  }
}

async function main(): Promise<void> {
  if (![1, 2].includes(REPLICAS)) throw new Error('--replicas must be 1 or 2');
  loadServicesEnv();
  const kafka = kafkaFromEnv('rotor-bench-lag');
  const admin = kafka.admin();
  await admin.connect();
  const identity = await TestIdentity.create();
  const runs: RunResult[] = [];
  try {
    for (let index = 1; index <= RUNS; index++) runs.push(await run(index, kafka, admin, identity));
  } finally {
    await admin.disconnect();
  }
  const summary = {
    leases: LEASES,
    replicas: REPLICAS,
    spreadSeconds: SPREAD_MS / 1000,
    runs,
    median: {
      p50Ms: median(runs.map((r) => r.p50Ms)),
      p99Ms: median(runs.map((r) => r.p99Ms)),
      maxMs: median(runs.map((r) => r.maxMs)),
    },
    allRevoked: runs.every((r) => r.revoked === r.leases),
  };
  if (args.json) {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    return;
  }
  process.stdout.write(
    `revocation lag, ${LEASES} opaque-token leases expiring over ${SPREAD_MS / 1000}s, ${REPLICAS} revoker replica(s), ${RUNS} run(s)\n` +
      runs
        .map((r, i) => `  run ${i + 1}: revoked ${r.revoked}/${r.leases}  p50 ${r.p50Ms} ms  p99 ${r.p99Ms} ms  max ${r.maxMs} ms\n`)
        .join('') +
      `  median: p50 ${summary.median.p50Ms} ms  p99 ${summary.median.p99Ms} ms  max ${summary.median.maxMs} ms\n`,
  );
  if (!summary.allRevoked) process.exitCode = 1;
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
