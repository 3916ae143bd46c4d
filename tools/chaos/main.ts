/**
 * `npm run chaos -- [--minutes 5] [--seed S] [--rate 12] [--json]`: issue 15's chaos run.
 *
 * Starts a fresh rotor installation on the clustered topology (tools/chaos/stack.ts), runs a
 * steady mixed load (tools/chaos/load.ts) with a no-fault baseline first, then a seeded fault
 * schedule (tools/chaos/faults.ts) with an emergency rotation in the middle; stops the load,
 * heals everything, waits for every lease's end and checks the invariants
 * (tools/chaos/invariants.ts), printed as a table. Exit code 1 on any violation, 2 when the run
 * itself could not be carried out. Progress on stderr; the table (or --json) on stdout.
 */
import { randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import type { Kafka } from 'kafkajs';
import { Client } from 'pg';

import { summarizeLatencies } from '../../bench/lib/stats';
import { loadServicesEnv } from '../../test/support/services-env';
import { kafkaFromEnv } from '../security/env-clients';

import { auditorLag, leaseFacts, readRun } from './evidence';
import { FaultSchedule } from './faults';
import { checkInvariants, expiryLags, type InvariantResult, type Outage, type RunEvidence } from './invariants';
import { MixedLoad } from './load';
import { Random } from './random';
import { ChaosStack, KAFKA_BROKERS, MANAGED_SECRETS, NAMESPACES, REDIS_CLUSTER_ENV, ROOT, stackScript } from './stack';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '5' },
    seed: { type: 'string' },
    rate: { type: 'string', default: '12' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean' },
  },
});
if (args.help) {
  process.stdout.write('Usage: npm run chaos -- [--minutes 5] [--seed S] [--rate 12 requests/s] [--json]\n');
  process.exit(0);
}
const MINUTES = Number(args.minutes);
const SEED = args.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(args.seed);
const RATE = Number(args.rate);
if (!(MINUTES > 0) || !Number.isInteger(SEED) || !(RATE > 0)) {
  process.stderr.write('--minutes and --rate must be positive numbers, --seed an integer\n');
  process.exit(2);
}
const TTL_MS = 15_000;
const progress = (line: string) => process.stderr.write(`${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const fmt = (ms: number) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : 'n/a');

const catalogFor = (stack: ChaosStack) => {
  const bindings = `[{ namespace: ${NAMESPACES.steady}, serviceAccount: '*' }, { namespace: ${NAMESPACES.emergency}, serviceAccount: '*' }]`;
  const role = (name: string, backend: string) => `
  - name: ${name}
    owner: team-chaos
    backend: ${backend}
    bindings: ${bindings}
    ttl: ${TTL_MS / 1000}s
    maxTtl: 1m
    quota: { perWorkload: 100000, perRole: 1000000 }`;
  const secret = (name: string, namespace: string) => `
  - name: ${name}
    owner: team-chaos
    generator: { kind: random-bytes, bytes: 32 }
    rotationPeriod: 50s
    gracePeriod: 10s
    bindings: [{ namespace: ${namespace}, serviceAccount: '*' }]
    targets:
      - { kind: kubernetes-secret, name: cluster, namespace: chaos-apps, secretName: ${name}, key: value }
      - { kind: file, name: node-agent, path: ${join(stack.fileRoot, name)} }
      - { kind: webhook, name: hook, url: "${stack.webhook.url}?secret=${name}", signingKeyEnv: ROTOR_WEBHOOK_KEY_CHAOS }`;
  return `policy: { maxTtlCeiling: 1h }
roles:${role('chaos-token', '{ kind: opaque-token }')}${role('chaos-db', '{ kind: postgres, grants: ["GRANT SELECT ON rotor_chaos TO {{role}}"] }')}${role('chaos-cache', '{ kind: redis-acl, rules: ["+get", "~chaos:*"] }')}
managedSecrets:${secret(MANAGED_SECRETS[0], NAMESPACES.steady)}${secret(MANAGED_SECRETS[1], NAMESPACES.emergency)}
`;
};

/** Polls the issuer's /readyz and records when each dependency was reported down. */
class ReadinessWatch {
  readonly outages: Outage[] = [];
  private readonly open = new Map<string, Outage>();
  private timer?: NodeJS.Timeout;

  constructor(private readonly url: string) {}

  start(): void {
    const poll = async () => {
      // An outage is kept to what the issuer surely knew: from the answer that reported it down
      // to the request that found it up again (a check itself takes up to the dependency bound).
      const asked = Date.now();
      try {
        const response = await fetch(`${this.url}/readyz`, { signal: AbortSignal.timeout(5_000) });
        const body = (await response.json()) as { checks?: Record<string, { ok: boolean }> };
        const answered = Date.now();
        for (const [dependency, check] of Object.entries(body.checks ?? {})) {
          const outage = this.open.get(dependency);
          if (!check.ok && !outage) {
            const started = { dependency, start: answered, end: Number.POSITIVE_INFINITY };
            this.open.set(dependency, started);
            this.outages.push(started);
          } else if (check.ok && outage) {
            outage.end = asked;
            this.open.delete(dependency);
          }
        }
      } catch {
        // the issuer itself is down: the kill-replica window covers it
      }
      this.timer = setTimeout(() => void poll(), 500);
    };
    void poll();
  }

  stop(): void {
    clearTimeout(this.timer);
    for (const outage of this.open.values()) outage.end = Date.now();
  }
}

async function startEmergencyRotation(stack: ChaosStack, random: Random): Promise<string> {
  const sre = await stack.identity.operatorToken('sre@example.com', ['rotor:sre']);
  const requestId = randomUUID();
  for (let attempt = 1; attempt <= 30; attempt++) {
    const replica = random.pick(['revoker-1', 'revoker-2']);
    try {
      const response = await fetch(`${stack.url(replica)}/v1/emergency-rotations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${sre}`, 'content-type': 'application/json', 'idempotency-key': requestId },
        body: JSON.stringify({ selector: { namespace: NAMESPACES.emergency }, mode: 'immediate', reason: 'chaos drill' }),
        signal: AbortSignal.timeout(5_000),
      });
      const body = (await response.json()) as { id?: string; detail?: string };
      if ((response.status === 202 || response.status === 200) && body.id) return body.id;
      progress(`[emerg] ${replica} answered ${response.status} (${body.detail ?? ''}); retrying with the same Idempotency-Key`);
    } catch (error) {
      progress(`[emerg] ${replica}: ${(error as Error).message}; retrying`);
    }
    await sleep(2_000);
  }
  throw new Error('the emergency rotation could not be started in 30 attempts');
}

/** The rotation's view from whichever revoker answers (behind a load balancer, any replica would). */
async function emergencyView(stack: ChaosStack, id: string): Promise<{ state: string; detail: string }> {
  const sre = await stack.identity.operatorToken('sre@example.com', ['rotor:sre']);
  let failure = 'no revoker answered';
  for (const replica of ['revoker-1', 'revoker-2']) {
    try {
      const response = await fetch(`${stack.url(replica)}/v1/emergency-rotations/${id}`, {
        headers: { authorization: `Bearer ${sre}` },
        signal: AbortSignal.timeout(5_000),
      });
      const body = (await response.json()) as Record<string, unknown>;
      const { state, id: _id, ...rest } = body;
      if (typeof state === 'string') return { state, detail: JSON.stringify(rest).slice(0, 300) };
      failure = `${replica}: HTTP ${response.status}`;
    } catch (error) {
      failure = `${replica}: ${(error as Error).message}`;
    }
  }
  return { state: 'unknown', detail: failure };
}

const emergencyState = async (stack: ChaosStack, id: string): Promise<string> => (await emergencyView(stack, id)).state;

/** Until the auditors' group has committed every domain event (lag 0) twice in a row. */
async function waitForAuditors(kafka: Kafka, timeoutMs = 120_000): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    let quiet = 0;
    for (;;) {
      const lag = await auditorLag(admin);
      quiet = lag === 0 ? quiet + 1 : 0;
      if (quiet >= 2) return;
      if (Date.now() > deadline) throw new Error(`the auditors still had ${lag} events to record after ${timeoutMs} ms`);
      await sleep(1_000);
    }
  } finally {
    await admin.disconnect();
  }
}

async function main(): Promise<number> {
  loadServicesEnv();
  progress(`[chaos] seed ${SEED}, ${MINUTES} min of load at ${RATE} requests/s`);
  progress('[chaos] the local stack (PostgreSQL, redis-acl backend, TLS, principals): scripts/services-up.sh');
  await stackScript('services-up.sh', []);
  const clusterWasUp = /running/.test(await stackScript('kafka-cluster.sh', ['status']).catch(() => ''));
  const random = new Random(SEED);
  const runId = Date.now().toString(36);
  const stack = new ChaosStack(runId, progress);
  const admin = new Client({ connectionString: process.env['DATABASE_URL'] });
  await admin.connect();
  await admin.query('CREATE TABLE IF NOT EXISTS rotor_chaos (id int primary key)');
  await admin.end();

  const coldStart = Date.now();
  let schedule: FaultSchedule | undefined;
  // Interrupted (Ctrl-C, CI's timeout): nothing stays stopped or running behind the run.
  for (const name of ['SIGINT', 'SIGTERM'] as const) {
    process.once(name, () => {
      progress(`[chaos] ${name}: healing every fault and stopping the run's processes`);
      schedule?.heal();
      void stack.stop().finally(() => process.exit(130));
    });
  }
  try {
    await stack.start(catalogFor);
    const coldStartMs = Date.now() - coldStart;
    const kafka = kafkaFromEnv(
      'rotor-chaos',
      { ...process.env, KAFKA_BROKERS, ROTOR_KAFKA_NAMESPACE: stack.namespace },
      { retry: { retries: 8 } },
    );
    schedule = new FaultSchedule(stack, kafka, SEED, progress);
    const readiness = new ReadinessWatch(stack.url('issuer-1'));
    const load = new MixedLoad({
      issuerUrl: () => stack.url('issuer-1'),
      identity: stack.identity,
      random,
      rate: RATE,
      concurrency: 6,
      progress,
    });

    const since = new Date(Date.now() - 5_000);
    const totalMs = MINUTES * 60_000;
    const baselineMs = Math.max(45_000, totalMs * 0.2);
    const start = Date.now();
    readiness.start();
    load.start();
    const ticker = setInterval(() => {
      const served = load.requests.filter((request) => request.status === 201).length;
      progress(
        `[load ] ${Math.round((Date.now() - start) / 1000)} s: ${load.requests.length} requests, ${served} credentials, ${load.leases.size} leases`,
      );
    }, 15_000);
    progress(`[chaos] baseline: ${Math.round(baselineMs / 1000)} s of load without faults`);
    await sleep(baselineMs);
    const baseline = { start, end: Date.now() };
    progress('[chaos] fault phase: the schedule runs until the load stops; an emergency rotation starts half-way');
    const faultStart = Date.now();
    const emergency = sleep((totalMs - baselineMs) / 2).then(async () => {
      const id = await startEmergencyRotation(stack, random);
      progress(`[emerg] emergency rotation ${id} started (namespace ${NAMESPACES.emergency}, immediate)`);
      return id;
    });
    await Promise.all([schedule.run(start + totalMs), sleep(start + totalMs - Date.now())]);
    const emergencyId = await emergency;
    await load.stop();
    clearInterval(ticker);
    const loadEnd = Date.now();
    schedule.heal();
    readiness.stop();

    // Every lease must end: wait for its TTL, then for the revokers to catch up.
    const lastExpiry = Math.max(loadEnd, ...[...load.leases.values()].map((lease) => lease.expiresAt));
    progress(
      `[chaos] load stopped; waiting for the last lease's expiry (${Math.round((lastExpiry - Date.now()) / 1000)} s) and every revocation`,
    );
    await sleep(Math.max(0, lastExpiry - Date.now()));
    const settleUntil = Date.now() + 120_000;
    let messages = await readRun(kafka, since);
    for (;;) {
      const facts = [...leaseFacts(messages).values()];
      const open = facts.filter((lease) => lease.revoked.length === 0).length;
      const state = await emergencyState(stack, emergencyId).catch(() => 'unknown');
      progress(`[chaos] ${facts.length - open}/${facts.length} leases revoked; emergency rotation ${state}`);
      if ((open === 0 && state === 'completed') || Date.now() > settleUntil) break;
      await sleep(5_000);
      messages = await readRun(kafka, since);
    }
    // The auditors and the distributor drain what is left; then the evidence is final.
    await sleep(10_000);
    messages = await readRun(kafka, since);

    const emergencyFinal = await emergencyView(stack, emergencyId).catch((error: Error) => ({ state: 'unknown', detail: error.message }));
    const evidence: RunEvidence = {
      stack,
      messages,
      leases: load.leases,
      requests: load.requests,
      windows: schedule.windows,
      injected: schedule.injected,
      outages: readiness.outages,
      baseline,
      emergency: { id: emergencyId, ...emergencyFinal },
      refresh: () => readRun(kafka, since),
    };
    progress('[chaos] checking the invariants');
    const results = await checkInvariants(evidence, async () => {
      progress('[chaos] stopping the issuer, distributor and revokers; waiting for the auditors to record everything');
      await stack.stopProducers();
      await waitForAuditors(kafka);
      return readRun(kafka, since);
    });
    const figures = {
      seed: SEED,
      minutes: MINUTES,
      coldStartSeconds: Math.round(coldStartMs / 100) / 10,
      namespace: stack.namespace,
      faults: [...schedule.windows]
        .sort((a, b) => a.start - b.start)
        .map((w) => ({
          kind: w.kind,
          target: w.target,
          atSecond: Math.round((w.start - start) / 1000),
          seconds: Math.round((w.end - w.start) / 100) / 10,
          ...(w.note ? { note: w.note } : {}),
        })),
      issuancesPerSecond: {
        baseline: Math.round(load.throughput(baseline.start, baseline.end) * 10) / 10,
        faults: Math.round(load.throughput(faultStart, loadEnd) * 10) / 10,
      },
      revocationLagMs: {
        baseline: summarizeLatencies(expiryLags(evidence, baseline.start, baseline.end)),
        faults: summarizeLatencies(expiryLags(evidence, faultStart, Number.POSITIVE_INFINITY)),
      },
      emergencyRotation: { id: emergencyId, state: emergencyFinal.state },
      invariants: results,
      ok: results.every((result) => result.ok),
    };
    if (args.json) process.stdout.write(`${JSON.stringify(figures, null, 2)}\n`);
    else printReport(figures, results);
    return figures.ok ? 0 : 1;
  } finally {
    schedule?.heal();
    await stack.stop();
    await stackScript('redis-cluster.sh', ['down'], REDIS_CLUSTER_ENV).catch(() => undefined);
    if (!clusterWasUp) await stackScript('kafka-cluster.sh', ['down']).catch(() => undefined);
  }
}

function printReport(
  figures: {
    seed: number;
    coldStartSeconds: number;
    faults: { kind: string; target: string; atSecond: number; seconds: number; note?: string }[];
    issuancesPerSecond: { baseline: number; faults: number };
    revocationLagMs: { baseline: { p50: number; p99: number }; faults: { p50: number; p99: number } };
    emergencyRotation: { id: string; state: string };
  },
  results: InvariantResult[],
): void {
  const out: string[] = [];
  out.push(`chaos run, seed ${figures.seed}: clustered stack cold start ${figures.coldStartSeconds} s`);
  out.push('', 'faults:');
  for (const fault of figures.faults)
    out.push(
      `  +${String(fault.atSecond).padStart(4)} s  ${fault.kind.padEnd(22)} ${fault.target.padEnd(18)} ${fault.seconds} s${fault.note ? `  ${fault.note}` : ''}`,
    );
  out.push(
    '',
    `issuances/s: ${figures.issuancesPerSecond.baseline} without faults, ${figures.issuancesPerSecond.faults} during faults`,
    `revocation lag after expiry: p50 ${fmt(figures.revocationLagMs.baseline.p50)} / p99 ${fmt(figures.revocationLagMs.baseline.p99)} without faults; ` +
      `p50 ${fmt(figures.revocationLagMs.faults.p50)} / p99 ${fmt(figures.revocationLagMs.faults.p99)} during faults`,
    `emergency rotation ${figures.emergencyRotation.id}: ${figures.emergencyRotation.state}`,
    '',
    'invariant                                                      result  detail',
  );
  for (const result of results) {
    out.push(`${result.name.padEnd(62)} ${result.ok ? 'ok    ' : 'BROKEN'}  ${result.detail}`);
    for (const example of result.examples ?? []) out.push(`${''.padEnd(71)}- ${example}`);
  }
  out.push('', results.every((result) => result.ok) ? 'all invariants hold' : `${results.filter((r) => !r.ok).length} invariant(s) broken`);
  process.stdout.write(`${out.join('\n')}\n`);
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    progress(`[chaos] the run failed: ${error.stack ?? error.message}`);
    try {
      execFileSync('bash', [join(ROOT, 'scripts', 'redis-cluster.sh'), 'down'], {
        env: { ...process.env, ...REDIS_CLUSTER_ENV },
        stdio: 'ignore',
      });
    } catch {
      // best effort
    }
    process.exit(2);
  },
);
