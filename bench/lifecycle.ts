/**
 * CPU per lease over its whole life (issue 20, goal 1): opaque-token leases issued at
 * concurrency 16 with a short TTL and left to expire; the run ends when the auditor has
 * appended every lease's `lease.issued` and `lease.revoked`. CPU is read from /proc for every
 * process on the lease's path: the four services (started here, as `npm start` runs them), Kafka,
 * Redis, PostgreSQL (the auditor's views) and Jaeger (the spans), minus what the same processes
 * spend over an idle window of the same length before the run. Tracing is as the stack sets it
 * (OTEL_* in .rotor/env; OTEL_SDK_DISABLED=true to measure without).
 *
 *   npm run bench:lifecycle -- [--leases 3000] [--concurrency 16] [--ttl 5] [--runs 3] [--json] [--cpu-prof <dir>]
 *
 * `--cpu-prof <dir>`: every service writes a V8 CPU profile there when it stops (read them with
 * `npm run bench:profile -- <dir>/*.cpuprofile`); profiling costs CPU, so its figures are not the bench's.
 *
 * Figures are medians over runs; each process's share of the total. Progress on stderr.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { sampleValue } from '@rotor/telemetry';

import type { ServiceProcess } from '../test/support/service-process';
import { loadServicesEnv } from '../test/support/services-env';
import { TestIdentity } from '../test/support/test-identity';

import { closedLoop } from './lib/closed-loop';
import { sampleProcess, USER_HZ } from './lib/process-sample';
import { startQuietServices } from './lib/quiet-services';
import { num, table } from './lib/report';
import { median } from './lib/stats';

const ROOT = join(__dirname, '..');
const RUN_DIR = join(ROOT, '.rotor', 'run');
const FIRST_PORT = 19960;

const { values } = parseArgs({
  options: {
    leases: { type: 'string', default: '3000' },
    concurrency: { type: 'string', default: '16' },
    ttl: { type: 'string', default: '5' },
    runs: { type: 'string', default: '3' },
    json: { type: 'boolean', default: false },
    'cpu-prof': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  process.stdout.write(
    'Usage: npm run bench:lifecycle -- [--leases 3000] [--concurrency 16] [--ttl 5] [--runs 3] [--json] [--cpu-prof <dir>]\n',
  );
  process.exit(0);
}
const leases = Number(values.leases);
const concurrency = Number(values.concurrency);
const runs = Number(values.runs);
const log = (message: string) => process.stderr.write(`[lifecycle] ${message}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The backing processes by name: pid files of scripts/services-up.sh, and every PostgreSQL process. */
function backingProcesses(): Record<string, number[]> {
  const pidOf = (name: string) => {
    try {
      return [Number(readFileSync(join(RUN_DIR, `${name}.pid`), 'utf8').trim())];
    } catch {
      return [];
    }
  };
  const postgres = readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres';
      } catch {
        return false;
      }
    })
    .map(Number);
  return { kafka: pidOf('kafka'), redis: pidOf('redis'), postgres, jaeger: pidOf('jaeger') };
}

/** CPU ticks of each named group of processes (a process gone since is left out). */
function cpuTicks(groups: Record<string, number[]>): Record<string, number> {
  const ticks: Record<string, number> = {};
  for (const [name, pids] of Object.entries(groups)) {
    ticks[name] = pids.reduce((sum, pid) => {
      try {
        return sum + sampleProcess(pid).cpuTicks;
      } catch {
        return sum;
      }
    }, 0);
  }
  return ticks;
}

const minus = (after: Record<string, number>, before: Record<string, number>) =>
  Object.fromEntries(Object.keys(after).map((name) => [name, (after[name] ?? 0) - (before[name] ?? 0)]));

async function main(): Promise<void> {
  loadServicesEnv();
  const identity = await TestIdentity.create();
  const { services, stop } = await startQuietServices({
    identity,
    firstPort: FIRST_PORT,
    name: 'bench-lifecycle',
    ...(values['cpu-prof'] ? { env: { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${resolve(values['cpu-prof'])}` } } : {}),
    catalog: `
roles:
  - name: bench-lifecycle
    owner: team-bench
    backend: { kind: opaque-token }
    bindings: [{ namespace: bench, serviceAccount: lifecycle }]
    ttl: ${values.ttl}s
    maxTtl: 1h
    quota: { perWorkload: 1000000, perRole: 1000000 }
`,
  });
  const perRun: Record<string, number>[] = [];
  const memory: Record<string, { idleMiB: number; peakMiB: number }> = {};
  try {
    const [issuer, , , auditor] = services as [ServiceProcess, ServiceProcess, ServiceProcess, ServiceProcess];
    const token = await identity.serviceAccountToken('bench', 'lifecycle');
    const appended = async () =>
      sampleValue(await (await fetch(`${auditor.url}/metrics`)).text(), 'rotor_audit_records_total', { outcome: 'appended' }) ?? 0;
    const issue = async () => {
      const response = await fetch(`${issuer.url}/v1/credentials`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ role: 'bench-lifecycle' }),
      });
      await response.text();
      return response.status === 201 ? { ok: true as const } : { ok: false as const, error: `HTTP ${response.status}` };
    };
    // Resident memory at rest (after start-up settled), before any work; the peak is read after the runs.
    await sleep(10_000);
    const mib = (kib: number) => kib / 1024;
    for (const service of services) memory[service.name] = { idleMiB: mib(sampleProcess(service.pid!).rssKiB), peakMiB: 0 };
    log(`warm-up: 200 leases`);
    await closedLoop({ total: 200, concurrency, op: issue });
    for (let run = 1; run <= runs; run++) {
      // Wait until the previous leases are revoked and audited, so the run starts from quiet.
      let settled = await appended();
      for (let previous = -1; previous !== settled;) {
        previous = settled;
        await sleep(Number(values.ttl) * 1000 + 3000);
        settled = await appended();
      }
      const processes = { ...Object.fromEntries(services.map((service) => [service.name, [service.pid!]])), ...backingProcesses() };
      log(`run ${run}/${runs}: issuing ${leases} leases at concurrency ${concurrency} (TTL ${values.ttl} s)`);
      const start = cpuTicks(processes);
      const started = Date.now();
      const result = await closedLoop({ total: leases, concurrency, op: issue });
      if (result.failed > 0) throw new Error(`${result.failed} issuances failed: ${JSON.stringify(result.errors)}`);
      const target = settled + 2 * leases;
      while ((await appended()) < target) await sleep(500);
      const end = cpuTicks(processes);
      const busyMs = Date.now() - started;
      // The same processes idle for as long, to take out what they spend doing nothing.
      log(`run ${run}/${runs}: every lease issued, revoked and audited in ${(busyMs / 1000).toFixed(1)} s; measuring idle as long`);
      const idleFrom = cpuTicks(processes);
      await sleep(busyMs);
      const idle = minus(cpuTicks(processes), idleFrom);
      const busy = minus(end, start);
      perRun.push(Object.fromEntries(Object.keys(busy).map((name) => [name, ((busy[name]! - idle[name]!) * 1000) / USER_HZ / leases])));
    }
    for (const service of services) memory[service.name]!.peakMiB = mib(sampleProcess(service.pid!).hwmKiB);
  } finally {
    await stop();
  }
  const names = Object.keys(perRun[0] ?? {});
  const perLease = Object.fromEntries(names.map((name) => [name, median(perRun.map((run) => run[name]!))]));
  const total = median(perRun.map((run) => Object.values(run).reduce((sum, value) => sum + value, 0)));
  if (values.json) {
    process.stdout.write(
      `${JSON.stringify({ leases, concurrency, ttlSeconds: Number(values.ttl), runs, perLease, total, perRun, memory }, null, 2)}\n`,
    );
    return;
  }
  process.stdout.write(
    `CPU per lease (issue → expire → revoke → audit), ${leases} opaque-token leases at concurrency ${concurrency}, ` +
      `median of ${runs} run(s), idle subtracted\n\n` +
      table(
        ['process', 'CPU ms per lease', 'share'],
        [...names.map((name) => [name, num(perLease[name]!), `${num((100 * perLease[name]!) / total)} %`]), ['total', num(total), '']],
      ) +
      '\n\nResident memory of the services (MiB): at rest 10 s after start, and the peak (VmHWM) over the runs\n\n' +
      table(
        ['service', 'at rest', 'peak'],
        Object.entries(memory).map(([name, { idleMiB, peakMiB }]) => [name, num(idleMiB), num(peakMiB)]),
      ) +
      '\n',
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
