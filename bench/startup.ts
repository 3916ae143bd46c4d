/**
 * Revoker start-up time against the number of leases in its clock: DESIGN §4 promises no
 * restore step, so start-to-ready should not grow with the leases stored.
 *
 *   npm run bench:startup -- [--sizes 1000,100000,1000000] [--runs 3] [--revoke-timeout <s>] [--json]
 *
 * For each size, a private redis-server (removed afterwards; nothing is written to the
 * shared Redis) is filled with that many lease records, schedule entries and index entries,
 * in the revoker's own key layout, with pipelining; then a real revoker process is started
 * `--runs` times and timed from spawn to its first 200 on /readyz. Reports the median per
 * size and its ratio to the smallest size. Then, to show the clock it started on is live, every
 * seeded lease is made due (its expiry moved to now, as if the day had passed) and one more
 * revoker is started: the bench waits until every seeded lease's record says `revoked` and
 * reports how many were and how long it took from spawn. It exits 1 when some are not revoked
 * within --revoke-timeout seconds (default 120 + 1 per 500 leases). Revoking publishes a
 * lease.revoked per lease on the shared Kafka. Progress on stderr, results on stdout.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

import type Redis from 'ioredis';

import { PrivateRedis } from '../test/support/private-redis';
import { ServiceProcess } from '../test/support/service-process';
import { loadServicesEnv } from '../test/support/services-env';
import { TestIdentity } from '../test/support/test-identity';

import { median } from './lib/stats';
import { redisFromEnv } from '../tools/security/env-clients';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000,100000,1000000' },
    runs: { type: 'string', default: '3' },
    'revoke-timeout': { type: 'string' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean' },
  },
});
if (args.help) {
  process.stdout.write('Usage: npm run bench:startup -- [--sizes 1000,100000,1000000] [--runs 3] [--revoke-timeout <s>] [--json]\n');
  process.exit(0);
}
const SIZES = args.sizes.split(',').map(Number);
const RUNS = Number(args.runs);
const REDIS_PORT = 19392;
const REVOKER_PORT = 19382;
const progress = (line: string) => process.stderr.write(`${line}\n`);
const revokeTimeoutMs = (size: number) => (args['revoke-timeout'] ? Number(args['revoke-timeout']) : 120 + size / 500) * 1000;
const scheduleKey = '{revoker:schedule:lease-expiry:s0}:due';
const leaseKey = (id: string) => `revoker:lease:{${id}}`;

/**
 * Writes `count` active leases the way the revoker's LeaseClock stores them, expiring a day
 * from now, one millisecond apart from `expiresAt`; returns that first expiry and their ids.
 */
async function fill(redis: Redis, count: number): Promise<{ firstExpiry: number; ids: string[] }> {
  const ids: string[] = [];
  const expiresAt = Date.now() + 86_400_000;
  const chunk = 5_000;
  for (let start = 0; start < count; start += chunk) {
    const pipeline = redis.pipeline();
    for (let i = start; i < Math.min(count, start + chunk); i++) {
      const id = randomUUID();
      ids.push(id);
      const namespace = `bench-ns-${i % 100}`;
      const workload = { namespace, serviceAccount: 'app' };
      pipeline.hset(leaseKey(id), {
        id,
        role: 'bench-token',
        owner: 'team-bench',
        backend: 'opaque-token',
        workload: JSON.stringify(workload),
        handle: JSON.stringify({ backend: 'opaque-token' }),
        expiresAt: new Date(expiresAt + i).toISOString(),
        state: 'active',
        attempts: '0',
      });
      pipeline.zadd(scheduleKey, expiresAt + i, id);
      for (const index of ['all', `ns:${namespace}`, `sa:${namespace}/app`, 'role:bench-token', 'backend:opaque-token'])
        pipeline.sadd(`revoker:index:{${index}}`, id);
    }
    await pipeline.exec();
    if ((start / chunk) % 40 === 0) progress(`  ${Math.min(count, start + chunk)}/${count} leases written`);
  }
  return { firstExpiry: expiresAt, ids };
}

/** Moves every lease's expiry (record and schedule) to now, as if the day had passed. */
async function makeDue(redis: Redis, ids: readonly string[]): Promise<void> {
  const now = Date.now();
  for (let start = 0; start < ids.length; start += 5_000) {
    const pipeline = redis.pipeline();
    for (const id of ids.slice(start, start + 5_000)) {
      pipeline.hset(leaseKey(id), 'expiresAt', new Date(now).toISOString());
      pipeline.zadd(scheduleKey, now, id);
    }
    await pipeline.exec();
  }
}

/** Of these leases, those whose record does not say `revoked` yet. */
async function notYetRevoked(redis: Redis, ids: readonly string[]): Promise<string[]> {
  const pending: string[] = [];
  for (let start = 0; start < ids.length; start += 5_000) {
    const chunk = ids.slice(start, start + 5_000);
    const pipeline = redis.pipeline();
    for (const id of chunk) pipeline.hget(leaseKey(id), 'state');
    const states = (await pipeline.exec()) ?? [];
    chunk.forEach((id, index) => {
      if (states[index]?.[1] !== 'revoked') pending.push(id);
    });
  }
  return pending;
}

/**
 * Starts a revoker on the due leases and waits until every one is revoked or the time is up:
 * how many were, and the time from spawn to the last.
 */
async function timeToRevokeAll(env: Record<string, string>, redis: Redis, ids: readonly string[]) {
  const revoker = new ServiceProcess('revoker', REVOKER_PORT, env);
  const started = performance.now();
  const deadline = started + revokeTimeoutMs(ids.length);
  revoker.start();
  let pending = [...ids];
  let last = 0;
  try {
    while (pending.length > 0 && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      pending = await notYetRevoked(redis, pending);
      if (performance.now() - last > 5_000) {
        last = performance.now();
        progress(`  … ${ids.length - pending.length}/${ids.length} seeded leases revoked`);
      }
    }
    return { revoked: ids.length - pending.length, ms: performance.now() - started };
  } finally {
    await revoker.stop();
  }
}

async function timeToReady(env: Record<string, string>): Promise<number> {
  const revoker = new ServiceProcess('revoker', REVOKER_PORT, env);
  const started = performance.now();
  revoker.start();
  try {
    for (;;) {
      const ok = await fetch(`${revoker.url}/readyz`).then(
        (response) => response.ok,
        () => false,
      );
      if (ok) return performance.now() - started;
      if (performance.now() - started > 120_000) throw new Error(`revoker not ready after 120 s:\n${revoker.logs.slice(-2000)}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } finally {
    await revoker.stop();
  }
}

async function main(): Promise<void> {
  loadServicesEnv();
  const identity = await TestIdentity.create();
  const redisServer = new PrivateRedis(REDIS_PORT);
  await redisServer.start();
  const redis = redisFromEnv(redisServer.url);
  const results: {
    leases: number;
    readyMs: number[];
    medianMs: number;
    usedMemory: string;
    /** Seeded leases revoked after they were made due, and the time from spawn to the last (or to the timeout). */
    revoked: number;
    revokeMs: number;
  }[] = [];
  try {
    for (const size of SIZES) {
      await redis.flushall(); // a private server: only this benchmark's keys live here
      progress(`filling the clock with ${size} leases`);
      const { firstExpiry, ids } = await fill(redis, size);
      const usedMemory = /used_memory_human:(\S+)/.exec(await redis.info('memory'))?.[1] ?? '?';
      const readyMs: number[] = [];
      for (let run = 1; run <= RUNS; run++) {
        readyMs.push(await timeToReady({ ...identity.env, REDIS_URL: redisServer.url, LOG_LEVEL: 'warn' }));
        progress(`  ${size} leases, run ${run}: ready after ${readyMs.at(-1)!.toFixed(0)} ms`);
      }
      // The clock was left as it was: nothing restored, nothing revoked. (The revoker may also
      // have read lease events other runs left unread on the shared Kafka; those are not counted.)
      const scheduled = await redis.zcount(scheduleKey, firstExpiry, firstExpiry + size - 1);
      if (scheduled !== size) throw new Error(`expected ${size} scheduled leases after the runs, found ${scheduled}`);
      await makeDue(redis, ids);
      const revocation = await timeToRevokeAll({ ...identity.env, REDIS_URL: redisServer.url, LOG_LEVEL: 'warn' }, redis, ids);
      progress(`  ${size} leases made due: ${revocation.revoked} revoked ${(revocation.ms / 1000).toFixed(1)} s after spawn`);
      results.push({ leases: size, readyMs, medianMs: median(readyMs), usedMemory, revoked: revocation.revoked, revokeMs: revocation.ms });
    }
  } finally {
    redis.disconnect();
    await redisServer.kill();
  }
  const base = results[0]!.medianMs;
  const summary = results.map((result) => ({ ...result, ratioToSmallest: result.medianMs / base }));
  const unrevoked = results.filter((result) => result.revoked < result.leases);
  if (unrevoked.length > 0) process.exitCode = 1;
  if (args.json) {
    process.stdout.write(`${JSON.stringify({ runs: RUNS, sizes: summary })}\n`);
    return;
  }
  process.stdout.write(`revoker start-to-ready (spawn → /readyz 200), median of ${RUNS} runs\n`);
  for (const row of summary) {
    process.stdout.write(
      `  ${String(row.leases).padStart(9)} leases (redis ${row.usedMemory.padStart(7)}): ${row.medianMs.toFixed(0).padStart(5)} ms  ×${row.ratioToSmallest.toFixed(2)}  [${row.readyMs.map((ms) => ms.toFixed(0)).join(', ')}]\n`,
    );
  }
  process.stdout.write('then every seeded lease made due, one more revoker started (spawn → every lease revoked)\n');
  for (const row of summary) {
    process.stdout.write(
      `  ${String(row.leases).padStart(9)} leases: ${row.revoked} revoked in ${(row.revokeMs / 1000).toFixed(1)} s${row.revoked < row.leases ? `: ${row.leases - row.revoked} NOT revoked within ${revokeTimeoutMs(row.leases) / 1000} s` : ''}\n`,
    );
  }
  if (unrevoked.length > 0) process.stderr.write('bench failed: some seeded leases were never revoked (see above)\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
