/**
 * Revoker start-up time against the number of leases in its clock: DESIGN §4 promises no
 * restore step, so start-to-ready should not grow with the leases stored.
 *
 *   npm run bench:startup -- [--sizes 1000,100000,1000000] [--runs 3] [--json]
 *
 * For each size, a private redis-server (removed afterwards; nothing is written to the
 * shared Redis) is filled with that many lease records, schedule entries and index entries,
 * in the revoker's own key layout, with pipelining; then a real revoker process is started
 * `--runs` times and timed from spawn to its first 200 on /readyz. Reports the median per
 * size and its ratio to the smallest size. Progress on stderr, results on stdout.
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
    json: { type: 'boolean', default: false },
    help: { type: 'boolean' },
  },
});
if (args.help) {
  process.stdout.write('Usage: npm run bench:startup -- [--sizes 1000,100000,1000000] [--runs 3] [--json]\n');
  process.exit(0);
}
const SIZES = args.sizes.split(',').map(Number);
const RUNS = Number(args.runs);
const REDIS_PORT = 19392;
const REVOKER_PORT = 19382;
const progress = (line: string) => process.stderr.write(`${line}\n`);

/**
 * Writes `count` active leases the way the revoker's LeaseClock stores them, expiring a day
 * from now, one millisecond apart from `expiresAt`; returns that first expiry.
 */
async function fill(redis: Redis, count: number): Promise<number> {
  const expiresAt = Date.now() + 86_400_000;
  const chunk = 5_000;
  for (let start = 0; start < count; start += chunk) {
    const pipeline = redis.pipeline();
    for (let i = start; i < Math.min(count, start + chunk); i++) {
      const id = randomUUID();
      const namespace = `bench-ns-${i % 100}`;
      const workload = { namespace, serviceAccount: 'app' };
      pipeline.hset(`revoker:lease:{${id}}`, {
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
      pipeline.zadd('{revoker:schedule:lease-expiry:s0}:due', expiresAt + i, id);
      for (const index of ['all', `ns:${namespace}`, `sa:${namespace}/app`, 'role:bench-token', 'backend:opaque-token'])
        pipeline.sadd(`revoker:index:{${index}}`, id);
    }
    await pipeline.exec();
    if ((start / chunk) % 40 === 0) progress(`  ${Math.min(count, start + chunk)}/${count} leases written`);
  }
  return expiresAt;
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
  const results: { leases: number; readyMs: number[]; medianMs: number; usedMemory: string }[] = [];
  try {
    for (const size of SIZES) {
      await redis.flushall(); // a private server: only this benchmark's keys live here
      progress(`filling the clock with ${size} leases`);
      const firstExpiry = await fill(redis, size);
      const usedMemory = /used_memory_human:(\S+)/.exec(await redis.info('memory'))?.[1] ?? '?';
      const readyMs: number[] = [];
      for (let run = 1; run <= RUNS; run++) {
        readyMs.push(await timeToReady({ ...identity.env, REDIS_URL: redisServer.url, LOG_LEVEL: 'warn' }));
        progress(`  ${size} leases, run ${run}: ready after ${readyMs.at(-1)!.toFixed(0)} ms`);
      }
      // The clock was left as it was: nothing restored, nothing revoked. (The revoker may also
      // have read lease events other runs left unread on the shared Kafka; those are not counted.)
      const scheduled = await redis.zcount('{revoker:schedule:lease-expiry:s0}:due', firstExpiry, firstExpiry + size - 1);
      if (scheduled !== size) throw new Error(`expected ${size} scheduled leases after the runs, found ${scheduled}`);
      results.push({ leases: size, readyMs, medianMs: median(readyMs), usedMemory });
    }
  } finally {
    redis.disconnect();
    await redisServer.kill();
  }
  const base = results[0]!.medianMs;
  const summary = results.map((result) => ({ ...result, ratioToSmallest: result.medianMs / base }));
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
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
