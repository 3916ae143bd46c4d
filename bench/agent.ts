/**
 * The rotor agent's footprint and its cost to the issuer.
 *
 *   npm run bench:agent -- [--starts 10] [--idle 60] [--scale 60] [--cycles 3] [--entry source|built|bundle] [--json]
 *
 * Against a real issuer process (port 19120, the local services of .rotor/env; set
 * ROTOR_TEST_WORKER_OFFSET to run in a test worker's Kafka namespace and Redis database rather
 * than the stack's own). Three figures, each from real agent processes:
 *
 *   1. start to first file: `init` with one opaque-token credential, timed from spawn to the
 *      file's appearance (a directory watcher), `--starts` runs after one untimed warm-up;
 *      median and p90. Each lease is revoked after its run.
 *   2. idle footprint: a sidecar holding one credential of a 15-minute TTL, from its first file
 *      on for `--idle` seconds: VmRSS of /proc/<pid>/status every second (median, max), and the
 *      CPU time of /proc/<pid>/stat (utime + stime) over the window.
 *   3. issuer calls per hour per credential at a 15-minute TTL and 1-hour maximum: a sidecar with
 *      both divided by `--scale` runs `--cycles` lease lifetimes after its first replacement;
 *      rotor_agent_issuer_calls_total is read from its /metrics every 250 ms. The window runs
 *      from the first replacement to the last (whole cycles: issue, renewals, the old lease's
 *      revocation); calls per hour = calls × 3600 / (window seconds × scale).
 *
 * `--entry source` runs apps/agent/src/main.ts through @swc-node/register (what the tests run);
 * `built` runs dist/apps/agent/main.js (`npm run build`; what the services' image runs with
 * SERVICE=agent); `bundle` runs dist/agent/rotor-agent.js (`npm run build:agent`; what the
 * `agent` image runs). Progress on stderr, results on stdout.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, watch, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

import { IssuerClient } from '@rotor/client';

import { serviceScheme } from '../test/support/principals';
import { ServiceProcess } from '../test/support/service-process';
import { loadServicesEnv } from '../test/support/services-env';
import { ensurePortFree, writeTempCatalog } from '../test/support/temp-files';
import { TestIdentity } from '../test/support/test-identity';

import { sampleProcess, USER_HZ } from './lib/process-sample';
import { table } from './lib/report';
import { median, percentile } from './lib/stats';

const ROOT = join(__dirname, '..');
const ISSUER_PORT = 19120;
const AGENT_HEALTH_PORT = 19121;
const TTL_S = 15 * 60;
const MAX_TTL_S = 60 * 60;

const { values: args } = parseArgs({
  options: {
    starts: { type: 'string', default: '10' },
    idle: { type: 'string', default: '60' },
    scale: { type: 'string', default: '60' },
    cycles: { type: 'string', default: '3' },
    entry: { type: 'string', default: 'source' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean' },
  },
});
if (args.help) {
  process.stdout.write(
    'Usage: npm run bench:agent -- [--starts 10] [--idle 60] [--scale 60] [--cycles 3] [--entry source|built|bundle] [--json]\n',
  );
  process.exit(0);
}
const STARTS = Number(args.starts);
const IDLE_S = Number(args.idle);
const SCALE = Number(args.scale);
const CYCLES = Number(args.cycles);
for (const [name, value] of Object.entries({ starts: STARTS, idle: IDLE_S, scale: SCALE, cycles: CYCLES }))
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name}: expected a positive integer`);
// The catalog takes whole seconds.
if (TTL_S % SCALE !== 0 || MAX_TTL_S % SCALE !== 0) throw new Error(`--scale: must divide ${TTL_S} and ${MAX_TTL_S}`);
const ENTRIES: Record<string, { argv: string[]; build?: string }> = {
  source: { argv: ['-r', '@swc-node/register', join(ROOT, 'apps', 'agent', 'src', 'main.ts')] },
  built: { argv: [join(ROOT, 'dist', 'apps', 'agent', 'main.js')], build: 'npm run build' },
  bundle: { argv: [join(ROOT, 'dist', 'agent', 'rotor-agent.js')], build: 'npm run build:agent' },
};
const entry = ENTRIES[args.entry];
if (!entry) throw new Error('--entry: source, built or bundle');
const ENTRY = entry.argv;
if (entry.build && !existsSync(ENTRY[0]!)) throw new Error(`--entry ${args.entry}: ${ENTRY[0]} is missing (${entry.build})`);

const progress = (line: string) => process.stderr.write(`${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One agent process; its JSON log lines kept, for lease ids and times. */
class Agent {
  readonly child: ChildProcess;
  readonly started = performance.now();
  private output = '';
  readonly closed: Promise<number | null>;

  constructor(mode: 'init' | 'sidecar', config: string) {
    this.child = spawn(process.execPath, [...ENTRY, mode, '--config', config], {
      cwd: ROOT,
      env: { ...process.env, LOG_LEVEL: 'info', POD_NAMESPACE: 'bench', POD_NAME: 'agent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => (this.output += chunk.toString());
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.closed = new Promise((resolve) => this.child.on('close', resolve));
  }

  records(msg: string): Record<string, unknown>[] {
    return this.output.split('\n').flatMap((line) => {
      try {
        const record = line.startsWith('{') ? (JSON.parse(line) as Record<string, unknown>) : undefined;
        return record?.['msg'] === msg ? [record] : [];
      } catch {
        return [];
      }
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    await this.closed;
  }

  tail(): string {
    return this.output.slice(-2000);
  }
}

/** performance.now() when `file` appears (watching its directory), or a rejection when the process ends without it. */
function appearance(agent: Agent, file: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (!existsSync(file)) return false;
      done();
      resolve(performance.now());
      return true;
    };
    const watcher = watch(join(file, '..'), check);
    const poll = setInterval(check, 50);
    const timer = setTimeout(() => (done(), reject(new Error(`no file after ${timeoutMs} ms:\n${agent.tail()}`))), timeoutMs);
    void agent.closed.then(() =>
      setTimeout(() => check() || (done(), reject(new Error(`the agent exited without the file:\n${agent.tail()}`))), 100),
    );
    function done() {
      watcher.close();
      clearInterval(poll);
      clearTimeout(timer);
    }
    check();
  });
}

/** rotor_agent_issuer_calls_total by `call outcome`, from the agent's /metrics. */
async function issuerCalls(): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${AGENT_HEALTH_PORT}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const match of text.matchAll(/^rotor_agent_issuer_calls_total\{([^}]*)\} (\S+)$/gm)) {
    const labels = Object.fromEntries([...match[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((label) => [label[1], label[2]]));
    counts[`${labels['call']} ${labels['outcome']}`] = Number(match[2]);
  }
  return counts;
}
const total = (counts: Record<string, number>) => Object.values(counts).reduce((sum, count) => sum + count, 0);

async function main(): Promise<void> {
  loadServicesEnv();
  if (process.env['ROTOR_TEST_WORKER_OFFSET']) {
    // The integration workers' own isolation (a CommonJS file of the Jest setup, without types).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { isolateWorker } = require('../tools/jest/worker-environment') as { isolateWorker: (env: NodeJS.ProcessEnv) => void };
    process.env['JEST_WORKER_ID'] ??= '1';
    isolateWorker(process.env);
  }
  await Promise.all([ISSUER_PORT, AGENT_HEALTH_PORT].map(ensurePortFree));
  const caFile = process.env['ROTOR_CA_FILE'];
  const work = mkdtempSync(join(tmpdir(), 'rotor-bench-agent-'));
  const identity = await TestIdentity.create();
  const tokenFile = join(work, 'token');
  writeFileSync(tokenFile, await identity.serviceAccountToken('bench', 'agent'));
  const role = (name: string, ttlS: number, maxTtlS: number) => `
  - name: ${name}
    owner: team-bench
    backend: { kind: opaque-token }
    bindings: [{ namespace: bench, serviceAccount: agent }]
    ttl: ${ttlS}s
    maxTtl: ${maxTtlS}s`;
  const issuer = new ServiceProcess('issuer', ISSUER_PORT, {
    ...identity.env,
    ROTOR_CATALOG: writeTempCatalog(
      `roles:${role('bench-agent', TTL_S, MAX_TTL_S)}${role('bench-agent-scaled', TTL_S / SCALE, MAX_TTL_S / SCALE)}\n`,
    ),
    ROTOR_TOKEN_HASH_KEY: randomBytes(32).toString('hex'),
    LOG_LEVEL: 'warn',
  });
  const workload = new IssuerClient({ url: issuer.url, caFile, token: () => readFileSync(tokenFile, 'utf8') });
  const config = (name: string, roleName: string) => {
    const dir = mkdtempSync(join(work, `${name}-`));
    const file = join(dir, 'token');
    const path = join(dir, 'agent.json');
    writeFileSync(
      path,
      JSON.stringify({
        issuer: { url: `${serviceScheme()}://127.0.0.1:${ISSUER_PORT}`, ...(caFile ? { caFile } : {}) },
        tokenFile,
        credentials: [{ name: 'api', role: roleName, file, template: 'raw' }],
        sidecar: { listen: { port: AGENT_HEALTH_PORT } },
      }),
    );
    return { file, path };
  };
  const running: Agent[] = [];
  const load = loadavg()[0]!;
  try {
    progress('starting the issuer…');
    await issuer.start().ready();

    // 1. Spawn to the first file, init mode.
    progress(`start to first file: one warm-up, then ${STARTS} init runs…`);
    const firstFileMs: number[] = [];
    const exitMs: number[] = [];
    for (let run = 0; run <= STARTS; run++) {
      const { file, path } = config(`init-${run}`, 'bench-agent');
      const agent = new Agent('init', path);
      const seenAt = await appearance(agent, file, 60_000);
      const code = await agent.closed;
      if (code !== 0) throw new Error(`init exited ${code}:\n${agent.tail()}`);
      await workload.revoke(agent.records('credential file written')[0]!['leaseId'] as string);
      if (run === 0) continue;
      firstFileMs.push(seenAt - agent.started);
      exitMs.push(performance.now() - agent.started);
      progress(`  run ${run}: file after ${firstFileMs.at(-1)!.toFixed(0)} ms`);
    }

    // 2. Idle footprint of a sidecar holding one 15-minute lease.
    progress(`idle: a sidecar with one ${TTL_S / 60}-minute lease, sampled for ${IDLE_S} s after its first file…`);
    const idle = config('idle', 'bench-agent');
    const sidecar = new Agent('sidecar', idle.path);
    running.push(sidecar);
    await appearance(sidecar, idle.file, 60_000);
    const pid = sidecar.child.pid!;
    const first = sampleProcess(pid);
    const began = performance.now();
    const rssKiB: number[] = [first.rssKiB];
    for (let second = 1; second <= IDLE_S; second++) {
      await sleep(Math.max(0, began + second * 1000 - performance.now()));
      rssKiB.push(sampleProcess(pid).rssKiB);
    }
    const last = sampleProcess(pid);
    const windowS = (performance.now() - began) / 1000;
    const cpuS = (last.cpuTicks - first.cpuTicks) / USER_HZ;
    const idleCalls = await issuerCalls();
    await sidecar.stop();
    const sortedRss = [...rssKiB].sort((a, b) => a - b);
    const idleResult = {
      windowS,
      rssMedianMiB: median(sortedRss) / 1024,
      rssMaxMiB: sortedRss.at(-1)! / 1024,
      peakRssMiB: last.hwmKiB / 1024,
      cpuSeconds: cpuS,
      cpuPercent: (cpuS / windowS) * 100,
      issuerCallsDuringWindow: total(idleCalls) - 1, // the initial issuance came before the window
    };
    progress(`  RSS median ${idleResult.rssMedianMiB.toFixed(1)} MiB, CPU ${cpuS.toFixed(2)} s over ${windowS.toFixed(0)} s`);

    // 3. Issuer calls per hour, with the lease's clock divided by SCALE.
    // A lease's expected time in the file (replaced when the maximum leaves less than a TTL): for progress and the timeout only.
    const cycleS = (MAX_TTL_S - TTL_S / 3) / SCALE;
    progress(
      `calls: TTL ${TTL_S / SCALE} s, maximum ${MAX_TTL_S / SCALE} s (÷${SCALE}); until the first replacement and ${CYCLES} more (about ${(cycleS * (CYCLES + 1)).toFixed(0)} s)…`,
    );
    const scaled = config('scaled', 'bench-agent-scaled');
    const renewing = new Agent('sidecar', scaled.path);
    running.push(renewing);
    await appearance(renewing, scaled.file, 60_000);
    const samples: { counts: Record<string, number> }[] = [];
    const deadline = performance.now() + cycleS * (CYCLES + 2) * 1500;
    const issues = () => samples.at(-1)?.counts['issue ok'] ?? 0;
    while (issues() < CYCLES + 2) {
      if (performance.now() > deadline) throw new Error(`no ${CYCLES + 1} replacements in time:\n${renewing.tail()}`);
      samples.push({ counts: await issuerCalls() });
      await sleep(250);
    }
    // Each replacement's count, read before the next call (the old lease's revocation, seconds later).
    const at = (issued: number) => samples.find((s) => (s.counts['issue ok'] ?? 0) >= issued)!.counts;
    const from = at(2);
    const to = at(CYCLES + 2);
    const written = () => renewing.records('credential file written').map((record) => Date.parse(record['time'] as string));
    while (written().length < CYCLES + 2) await sleep(50); // the log line follows the counted call
    const writes = written();
    const windowSeconds = (writes[CYCLES + 1]! - writes[1]!) / 1000;
    await renewing.stop();
    const byCall = Object.fromEntries(Object.keys(to).map((key) => [key, (to[key] ?? 0) - (from[key] ?? 0)]));
    const calls = total(to) - total(from);
    const perHour = (calls * 3600) / (windowSeconds * SCALE);
    const callsResult = {
      scale: SCALE,
      cycles: CYCLES,
      windowSeconds,
      scaledWindowMinutes: (windowSeconds * SCALE) / 60,
      calls,
      byCall,
      perHour,
    };
    progress(`  ${calls} calls in ${windowSeconds.toFixed(1)} s`);

    const sortedStarts = [...firstFileMs].sort((a, b) => a - b);
    const startResult = {
      runs: STARTS,
      medianMs: median(sortedStarts),
      p90Ms: percentile(sortedStarts, 90),
      minMs: sortedStarts[0]!,
      maxMs: sortedStarts.at(-1)!,
      exitMedianMs: median(exitMs),
    };
    const machine = { node: process.versions.node, entry: args.entry, loadAverage1m: load };
    if (args.json) {
      process.stdout.write(`${JSON.stringify({ machine, start: startResult, idle: idleResult, calls: callsResult }, null, 2)}\n`);
      return;
    }
    const ms = (value: number) => value.toFixed(0);
    process.stdout.write(`rotor agent (${args.entry}), Node ${machine.node}, load average ${load.toFixed(1)} at start\n\n`);
    process.stdout.write(
      `${table(
        ['init: spawn → first file', 'median ms', 'p90 ms', 'min ms', 'max ms', 'exit median ms'],
        [
          [
            `${STARTS} runs`,
            ms(startResult.medianMs),
            ms(startResult.p90Ms),
            ms(startResult.minMs),
            ms(startResult.maxMs),
            ms(startResult.exitMedianMs),
          ],
        ],
      )}\n\n`,
    );
    process.stdout.write(
      `${table(
        ['idle sidecar, 1 lease', 'RSS median MiB', 'RSS max MiB', 'peak RSS MiB', 'CPU s', 'CPU %', 'issuer calls'],
        [
          [
            `${idleResult.windowS.toFixed(0)} s after the first file`,
            idleResult.rssMedianMiB.toFixed(1),
            idleResult.rssMaxMiB.toFixed(1),
            idleResult.peakRssMiB.toFixed(1),
            idleResult.cpuSeconds.toFixed(2),
            idleResult.cpuPercent.toFixed(2),
            String(idleResult.issuerCallsDuringWindow),
          ],
        ],
      )}\n\n`,
    );
    process.stdout.write(
      `issuer calls per credential, TTL ${TTL_S / 60} min and maximum ${MAX_TTL_S / 60} min run ÷${SCALE}: ${calls} calls (${Object.entries(
        byCall,
      )
        .filter(([, count]) => count > 0)
        .map(([key, count]) => `${key} ${count}`)
        .join(
          ', ',
        )}) in ${windowSeconds.toFixed(1)} s = ${callsResult.scaledWindowMinutes.toFixed(1)} min at full scale → ${perHour.toFixed(2)} calls per hour\n`,
    );
  } finally {
    await Promise.all(running.map((agent) => agent.stop()));
    await issuer.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:agent: ${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
