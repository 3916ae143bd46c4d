/**
 * Issuance benchmark: opaque-token and postgres leases through a real issuer process at
 * several concurrencies, next to the bare cost of the I/O one issuance needs (Redis MULTI +
 * acked Kafka produce; plus CREATE ROLE + GRANT for postgres), measured in the same run.
 *
 *   npm run bench:issuance -- [--requests 2000] [--pg-requests 400] [--runs 3] [--concurrency 1,16,64] [--json]
 *
 * Needs the local services (scripts/services-up.sh); reads .rotor/env and .rotor/dev-keys.env.
 * Progress goes to stderr, results to stdout. See --help.
 *
 * It uses the shared local Kafka and Redis: every issued lease is a real lease.issued event
 * (defaults: ~22,000 per run) that revokers and auditors on the shared consumer groups will
 * process, and revoke when its 10m TTL ends. Don't run it while other suites need those
 * services to be quick.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { escapeIdentifier } from 'pg';
import YAML from 'yaml';

import { Topics } from '@rotor/contracts';
import type { IssuedCredential, ProblemDetails } from '@rotor/rest-contract';

import { ServiceProcess } from '../test/support/service-process';
import { loadServicesEnv } from '../test/support/services-env';
import { TestIdentity } from '../test/support/test-identity';

import { BareIo } from './lib/bare-io';
import { closedLoop, type Outcome, type RunResult } from './lib/closed-loop';
import { countExisting, dropRoles, type DropReport } from './lib/pg-roles';
import { aggregate, num, table, withSpread, type Aggregate } from './lib/report';

type Backend = 'opaque' | 'postgres';
const BACKENDS: readonly Backend[] = ['opaque', 'postgres'];

interface Options {
  requests: number;
  pgRequests: number;
  runs: number;
  concurrency: number[];
  warmup: number;
  pgWarmup: number;
  workloads: number;
  port: number;
  backends: Backend[];
  json: boolean;
}

const USAGE = `Usage: node -r @swc-node/register bench/issuance.ts [options]

  --requests N        opaque-token requests per run (default 2000)
  --pg-requests N     postgres requests per run (default 400)
  --runs R            runs per backend and concurrency; figures are medians across runs (default 3)
  --concurrency LIST  closed-loop workers, comma-separated (default 1,16,64)
  --warmup N          untimed opaque requests (issuer and bare) before measuring (default 200)
  --pg-warmup N       untimed postgres requests before measuring (default 40)
  --workloads N       service accounts per backend the requests rotate over (default 8)
  --port P            port of the benchmark's issuer (default 18580)
  --backends LIST     opaque,postgres (default both)
  --json              print machine-readable results instead of tables

Every issued lease is real: it is published on rotor.lease.issued.v1 and recorded in Redis,
and any revoker/auditor on the shared consumer groups will process and later revoke it.
`;

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      requests: { type: 'string' },
      'pg-requests': { type: 'string' },
      runs: { type: 'string' },
      concurrency: { type: 'string' },
      warmup: { type: 'string' },
      'pg-warmup': { type: 'string' },
      workloads: { type: 'string' },
      port: { type: 'string' },
      backends: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const int = (name: string, text: string | undefined, fallback: number, min: number) => {
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!Number.isInteger(value) || value < min) throw new Error(`--${name} must be an integer ≥ ${min} (got ${text})`);
    return value;
  };
  const concurrency = (values.concurrency ?? '1,16,64').split(',').map((part) => int('concurrency', part.trim(), 1, 1));
  const backends = (values.backends ?? BACKENDS.join(',')).split(',').map((part) => {
    const name = part.trim();
    if (!BACKENDS.includes(name as Backend)) throw new Error(`--backends: unknown backend ${name} (known: ${BACKENDS.join(', ')})`);
    return name as Backend;
  });
  return {
    requests: int('requests', values.requests, 2000, 1),
    pgRequests: int('pg-requests', values['pg-requests'], 400, 1),
    runs: int('runs', values.runs, 3, 1),
    concurrency,
    warmup: int('warmup', values.warmup, 200, 0),
    pgWarmup: int('pg-warmup', values['pg-warmup'], 40, 0),
    workloads: int('workloads', values.workloads, 8, 1),
    port: int('port', values.port, 18580, 1),
    backends,
    json: values.json ?? false,
  };
}

const log = (line: string) => process.stderr.write(`${line}\n`);

function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set and not in .rotor/env: start the services first (bash scripts/services-up.sh)`);
  return value;
}

/** Something already listening would answer /readyz in place of our issuer. */
async function assertPortFree(port: number): Promise<void> {
  const listening = await new Promise<boolean>((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
  if (listening) throw new Error(`port ${port} is in use: pass --port with a free one`);
}

function gitRevision(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== '';
    return `${head}${dirty ? ' (uncommitted changes)' : ''}`;
  } catch {
    return 'unknown';
  }
}

/** Warnings and errors the issuer logged (pino JSON lines), grouped by message. */
function issuerLogProblems(logs: string): { message: string; level: string; count: number; sample: string }[] {
  const groups = new Map<string, { message: string; level: string; count: number; sample: string }>();
  for (const line of logs.split('\n')) {
    // The two lines Node prints after a process warning add nothing to the warning itself.
    if (!line.trim() || line.startsWith('Timeout duration was set to') || line.startsWith('(Use `node --trace-warnings')) continue;
    let level = 'raw';
    let message = line.slice(0, 160);
    try {
      const entry = JSON.parse(line) as { level?: string; msg?: string; err?: unknown };
      level = entry.level ?? 'raw';
      if (!['warn', 'error', 'fatal'].includes(level)) continue;
      message = entry.msg ?? message;
    } catch {
      // Not JSON (a crash trace, Node warnings): keep it as is.
    }
    const key = `${level} ${message}`;
    const group = groups.get(key) ?? { message, level, count: 0, sample: line.slice(0, 400) };
    group.count++;
    groups.set(key, group);
  }
  return [...groups.values()].sort((a, b) => b.count - a.count);
}

/**
 * ServiceProcess writes `.rotor/logs/test/<service>-<port>.log` and truncates it at start. Lines
 * there that our issuer did not write mean another suite started a service on the same port
 * during the run, and its requests may have reached our issuer (they would count as load).
 */
function foreignLogLines(port: number, ours: string): string[] {
  const file = join(__dirname, '..', '.rotor', 'logs', 'test', `issuer-${port}.log`);
  if (!existsSync(file)) return [];
  const mine = new Set(ours.split('\n'));
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() && !mine.has(line));
}

/** "503 postgres-unavailable: PostgreSQL failed (XX000): tuple concurrently updated" from a problem+json body. */
function describeProblem(status: number, body: string): string {
  try {
    const problem = JSON.parse(body) as Partial<ProblemDetails>;
    return `HTTP ${status} ${problem.code ?? problem.title ?? ''}: ${problem.detail ?? ''}`.slice(0, 300);
  } catch {
    return `HTTP ${status}: ${body.slice(0, 200)}`;
  }
}

interface MeasuredRun extends RunResult {
  /** CPU the benchmark process itself used, as % of one core over the run. */
  clientCpuPercent: number;
}

interface Cell {
  backend: Backend;
  concurrency: number;
  requestsPerRun: number;
  issuer: Aggregate & { perRun: MeasuredRun[] };
  bare: Aggregate & { perRun: MeasuredRun[] };
  /** issuer ÷ bare, from the medians. */
  ratio: { p50: number; throughput: number; p50OverheadMs: number };
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  loadServicesEnv();
  const kafkaBrokers = requireEnv('KAFKA_BROKERS').split(',');
  const redisUrl = requireEnv('REDIS_URL');
  const databaseUrl = requireEnv('DATABASE_URL');
  const runId = randomBytes(4).toString('hex');
  const namespace = `bench-${runId}`;
  const roleName: Record<Backend, string> = { opaque: `bench-opaque-${runId}`, postgres: `bench-pg-${runId}` };
  const serviceAccountPrefix: Record<Backend, string> = { opaque: 'opaque', postgres: 'pg' };
  const database = decodeURIComponent(new URL(databaseUrl).pathname.slice(1));
  const grants = [`GRANT CONNECT ON DATABASE ${escapeIdentifier(database)} TO {{role}}`];

  let stopRequested = false;
  const onSignal = (signal: string) => {
    if (stopRequested) {
      log(
        `${signal} again: exiting without cleanup; this run's PostgreSQL roles are left (rotor_<lease id> of namespace ${namespace}, bench_<hex> of the baseline)`,
      );
      process.exit(130);
    }
    stopRequested = true;
    log(`${signal}: finishing the requests in flight, then cleaning up (again to exit at once)`);
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));

  const environment: Record<string, string | number> = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Number((os.totalmem() / 2 ** 30).toFixed(1)),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    loadAverageAtStart: os
      .loadavg()
      .map((load) => load.toFixed(2))
      .join(' '),
    git: gitRevision(),
    kafkaBrokers: kafkaBrokers.join(','),
  };
  const settings = {
    runId,
    namespace,
    runs: options.runs,
    concurrency: options.concurrency,
    requestsPerRun: { opaque: options.requests, postgres: options.pgRequests },
    warmup: { opaque: options.warmup, postgres: options.pgWarmup },
    workloadsPerBackend: options.workloads,
    issuer: { port: options.port, logLevel: 'warn', ttl: '10m', maxTtl: '1h', quota: { perWorkload: 1_000_000, perRole: 1_000_000 } },
    postgresGrants: grants,
  };

  const cells: Cell[] = [];
  const issuedRoles = new Set<string>();
  let leasesIssued = 0;
  let issuer: ServiceProcess | undefined;
  let bare: BareIo | undefined;
  let catalogDir: string | undefined;
  let failure: Error | undefined;
  const cleanup: Record<string, unknown> = {};
  let logProblems: ReturnType<typeof issuerLogProblems> = [];
  let foreign: string[] = [];

  try {
    await assertPortFree(options.port);
    bare = await BareIo.connect({ kafkaBrokers, redisUrl, databaseUrl, runId, mirrorTopic: Topics.leaseIssued, grants });
    const redisInfo = await bare.redisClient.info('server');
    environment['redis'] = /redis_version:(\S+)/.exec(redisInfo)?.[1] ?? 'unknown';
    environment['postgres'] =
      (await bare.pool.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version ?? 'unknown';
    environment['postgresPasswordEncryption'] =
      (await bare.pool.query<{ password_encryption: string }>('SHOW password_encryption')).rows[0]?.password_encryption ?? 'unknown';
    environment['baselineTopic'] =
      `${bare.topic} (${bare.topicShape.partitions} partitions, RF ${bare.topicShape.replicationFactor}, like ${Topics.leaseIssued})`;
    environment['baselineEventBytes'] = bare.eventBytes;
    if (!options.json) process.stdout.write(`${environmentText(environment, settings)}\n\n`);

    const identity = await TestIdentity.create();
    catalogDir = mkdtempSync(join(os.tmpdir(), 'rotor-bench-catalog-'));
    const catalogFile = join(catalogDir, 'catalog.yaml');
    const quota = { perWorkload: 1_000_000, perRole: 1_000_000 };
    writeFileSync(
      catalogFile,
      YAML.stringify({
        roles: [
          {
            name: roleName.opaque,
            owner: 'team-bench',
            backend: { kind: 'opaque-token' },
            bindings: [{ namespace, serviceAccount: 'opaque-*' }],
            ttl: '10m',
            maxTtl: '1h',
            quota,
          },
          {
            name: roleName.postgres,
            owner: 'team-bench',
            backend: { kind: 'postgres', grants },
            bindings: [{ namespace, serviceAccount: 'pg-*' }],
            ttl: '10m',
            maxTtl: '1h',
            quota,
          },
        ],
      }),
    );
    issuer = new ServiceProcess('issuer', options.port, {
      ...identity.env,
      ROTOR_CATALOG: catalogFile,
      ROTOR_TOKEN_HASH_KEY: randomBytes(32).toString('hex'),
      LOG_LEVEL: 'warn',
    });
    log(`starting the issuer on :${options.port} (namespace ${namespace}) …`);
    await issuer.start().ready(90_000);
    const issuerUrl = `${issuer.url}/v1/credentials`;

    const signTokens = (backend: Backend) =>
      Promise.all(
        Array.from({ length: options.workloads }, (_v, k) =>
          identity.serviceAccountToken(namespace, `${serviceAccountPrefix[backend]}-${k}`),
        ),
      );

    const issueOp = (backend: Backend, tokens: string[]) => {
      const body = JSON.stringify({ role: roleName[backend] });
      return async (index: number): Promise<Outcome> => {
        const response = await fetch(issuerUrl, {
          method: 'POST',
          headers: { authorization: `Bearer ${tokens[index % tokens.length]}`, 'content-type': 'application/json' },
          body,
        });
        const text = await response.text();
        if (response.status !== 201) return { ok: false, error: describeProblem(response.status, text) };
        leasesIssued++;
        if (backend === 'postgres') {
          const username = (JSON.parse(text) as Partial<IssuedCredential>).credential?.['username'];
          if (username) issuedRoles.add(username);
          else return { ok: false, error: 'HTTP 201 without credential.username' };
        }
        return { ok: true };
      };
    };
    const bareOp = (backend: Backend, io: BareIo) =>
      backend === 'opaque' ? (index: number) => io.opaque(index) : (index: number) => io.postgres(index);

    const measure = async (
      label: string,
      total: number,
      concurrency: number,
      op: (index: number) => Promise<Outcome>,
    ): Promise<MeasuredRun> => {
      let last = 0;
      const cpu = process.cpuUsage();
      const result = await closedLoop({
        total,
        concurrency,
        op,
        shouldStop: () => stopRequested,
        onProgress: (done, all) => {
          const now = Date.now();
          if (done === all || now - last >= 1_000) {
            last = now;
            log(`${label} ${done}/${all}`);
          }
        },
      });
      const used = process.cpuUsage(cpu);
      const run = { ...result, clientCpuPercent: (100 * (used.user + used.system)) / 1000 / result.elapsedMs };
      log(
        `${label} done: ${num(run.throughput)} req/s, p50 ${num(run.latencyMs.p50)} ms, p99 ${num(run.latencyMs.p99)} ms${run.failed ? `, ${run.failed} failed` : ''}`,
      );
      return run;
    };

    for (const backend of options.backends) {
      const total = backend === 'opaque' ? options.requests : options.pgRequests;
      const warmup = backend === 'opaque' ? options.warmup : options.pgWarmup;
      if (warmup > 0 && !stopRequested) {
        await measure(`[${backend} warm-up issuer]`, warmup, 8, issueOp(backend, await signTokens(backend)));
        await measure(`[${backend} warm-up bare]`, warmup, 8, bareOp(backend, bare));
      }
      for (const concurrency of options.concurrency) {
        const issuerRuns: MeasuredRun[] = [];
        const bareRuns: MeasuredRun[] = [];
        for (let run = 1; run <= options.runs && !stopRequested; run++) {
          const label = `[${backend} c=${concurrency} run ${run}/${options.runs}`;
          const tokens = await signTokens(backend); // fresh: tokens live 10 minutes
          // Alternate which side goes first, so drift on a shared machine hits both alike.
          const sides = run % 2 === 1 ? (['issuer', 'bare'] as const) : (['bare', 'issuer'] as const);
          for (const side of sides) {
            if (stopRequested) break;
            if (side === 'issuer') {
              const result = await measure(`${label} issuer]`, total, concurrency, issueOp(backend, tokens));
              issuerRuns.push(result);
              if (result.ok === 0 && result.requests > 0) {
                throw new Error(
                  `every issuer request failed (${Object.keys(result.errors).join('; ')}); issuer log tail:\n${issuer.logs.slice(-3000)}`,
                );
              }
            } else {
              bareRuns.push(await measure(`${label} bare]`, total, concurrency, bareOp(backend, bare)));
            }
            await new Promise((resolve) => setTimeout(resolve, 300));
          }
        }
        if (issuerRuns.length === 0 || bareRuns.length === 0) continue;
        const issuerAggregate = { ...aggregate(issuerRuns), perRun: issuerRuns };
        const bareAggregate = { ...aggregate(bareRuns), perRun: bareRuns };
        cells.push({
          backend,
          concurrency,
          requestsPerRun: total,
          issuer: issuerAggregate,
          bare: bareAggregate,
          ratio: {
            p50: issuerAggregate.p50.median / bareAggregate.p50.median,
            throughput: issuerAggregate.throughput.median / bareAggregate.throughput.median,
            p50OverheadMs: issuerAggregate.p50.median - bareAggregate.p50.median,
          },
        });
      }
    }
  } catch (error) {
    failure = error as Error;
  } finally {
    log('cleaning up …');
    cleanup['leasesIssued'] = leasesIssued;
    if (issuer) {
      await issuer.stop();
      logProblems = issuerLogProblems(issuer.logs);
      foreign = foreignLogLines(options.port, issuer.logs);
    }
    if (bare) {
      try {
        // Roles from the responses, plus any lease the issuer recorded for this run's postgres
        // workloads (a response lost to an interruption): exactly this run's roles, nothing else.
        const fromResponses = issuedRoles.size;
        for (let k = 0; k < options.workloads; k++) {
          const leaseIds = await bare.redisClient.zrange(
            `issuer:active:workload:${namespace}/${serviceAccountPrefix.postgres}-${k}`,
            0,
            -1,
          );
          for (const id of leaseIds) issuedRoles.add(`rotor_${id.replace(/-/g, '')}`);
        }
        const issuerRoles: DropReport = await dropRoles(bare.pool, [...issuedRoles]);
        const bareRoles: DropReport = await dropRoles(bare.pool, bare.roles);
        const left = await countExisting(bare.pool, [...issuedRoles, ...bare.roles]);
        cleanup['issuerRoles'] = { named: issuedRoles.size, fromResponses, fromRedis: issuedRoles.size - fromResponses, ...issuerRoles };
        cleanup['baselineRoles'] = { named: new Set(bare.roles).size, ...bareRoles };
        cleanup['rolesLeft'] = left;
        Object.assign(cleanup, await bare.cleanup());
      } catch (error) {
        cleanup['error'] = (error as Error).message;
        failure ??= error as Error;
      }
      await bare.close();
    }
    if (catalogDir) rmSync(catalogDir, { recursive: true, force: true });
  }

  environment['loadAverageAtEnd'] = os
    .loadavg()
    .map((load) => load.toFixed(2))
    .join(' ');
  if (options.json) {
    process.stdout.write(
      `${JSON.stringify({ environment, settings, results: cells, issuerLog: logProblems, portSharedWithAnotherProcess: foreign.length > 0, cleanup, interrupted: stopRequested, error: failure?.message ?? null }, jsonNumbers, 2)}\n`,
    );
  } else {
    process.stdout.write(
      `${resultsText(cells, options)}\n\n${problemsText(cells, logProblems)}\n${interferenceText(foreign, options.port)}\n${cleanupText(cleanup)}\nload average at end: ${environment['loadAverageAtEnd']}\n`,
    );
  }
  if (failure) {
    log(`benchmark failed: ${failure.stack ?? failure.message}`);
    return 1;
  }
  if (stopRequested) return 130;
  return 0;
}

/** NaN and Infinity are not JSON: null, and round long fractions. */
const jsonNumbers = (_key: string, value: unknown) =>
  typeof value === 'number' ? (Number.isFinite(value) ? Math.round(value * 1000) / 1000 : null) : value;

function environmentText(
  environment: Record<string, string | number>,
  settings: {
    runs: number;
    concurrency: number[];
    requestsPerRun: Record<Backend, number>;
    warmup: Record<Backend, number>;
    workloadsPerBackend: number;
    namespace: string;
    issuer: { port: number };
  },
): string {
  return [
    'rotor issuance benchmark',
    `date ${environment['date']} · node ${environment['node']} · ${environment['cpus']} CPUs (${environment['cpuModel']}) · ${environment['memoryGiB']} GiB · ${environment['os']}`,
    `git ${environment['git']} · load average at start ${environment['loadAverageAtStart']}`,
    `services: Kafka ${environment['kafkaBrokers']} · Redis ${environment['redis']} · PostgreSQL ${environment['postgres']} (password_encryption ${environment['postgresPasswordEncryption']})`,
    `settings: ${settings.runs} runs · opaque ${settings.requestsPerRun.opaque} / postgres ${settings.requestsPerRun.postgres} requests per run · concurrency ${settings.concurrency.join(',')} · warm-up ${settings.warmup.opaque}/${settings.warmup.postgres} · ${settings.workloadsPerBackend} workloads per backend in ${settings.namespace} · issuer on :${settings.issuer.port}, LOG_LEVEL=warn`,
    `bare I/O: same clients and settings as the issuer; Kafka topic ${environment['baselineTopic']}, event ${environment['baselineEventBytes']} bytes; pg pool 8`,
  ].join('\n');
}

function resultsText(cells: Cell[], options: Options): string {
  const rows: string[][] = [];
  for (const cell of cells) {
    for (const [side, agg] of [
      ['issuer', cell.issuer],
      ['bare', cell.bare],
    ] as const) {
      rows.push([
        cell.backend,
        String(cell.concurrency),
        side,
        `${agg.ok}/${agg.requests}`,
        withSpread(agg.throughput),
        withSpread(agg.p50),
        num(agg.p95.median),
        withSpread(agg.p99),
      ]);
    }
  }
  const ratios = cells.map((cell) => [
    cell.backend,
    String(cell.concurrency),
    `${num(cell.ratio.p50)}x`,
    num(cell.ratio.p50OverheadMs),
    `${num(cell.ratio.throughput)}x`,
  ]);
  const stepNames = [...new Set(cells.flatMap((cell) => Object.keys(cell.bare.stepsP50)))];
  const steps = cells.map((cell) => [
    cell.backend,
    String(cell.concurrency),
    ...stepNames.map((step) => num(cell.bare.stepsP50[step]?.median ?? Number.NaN)),
    num(cell.bare.p50.median),
  ]);
  return [
    `Results: median of ${options.runs} runs (min–max across runs); latency of successful requests; ok/requests summed over runs`,
    table(['backend', 'conc', 'side', 'ok/requests', 'req/s', 'p50 ms', 'p95 ms', 'p99 ms'], rows),
    '',
    'Issuer overhead over bare I/O (from the medians above)',
    table(['backend', 'conc', 'p50 issuer/bare', 'p50 issuer−bare ms', 'req/s issuer/bare'], ratios),
    '',
    'Bare I/O per step: p50 ms (median across runs)',
    table(['backend', 'conc', ...stepNames.map((step) => `${step} p50`), 'total p50'], steps),
  ].join('\n');
}

function problemsText(cells: Cell[], logProblems: ReturnType<typeof issuerLogProblems>): string {
  const lines: string[] = [];
  for (const cell of cells) {
    for (const [side, agg] of [
      ['issuer', cell.issuer],
      ['bare', cell.bare],
    ] as const) {
      for (const [error, count] of Object.entries(agg.errors))
        lines.push(`  ${cell.backend} c=${cell.concurrency} ${side}: ${count}× ${error}`);
    }
  }
  const logLines = logProblems
    .slice(0, 10)
    .map((group) => `  ${group.count}× [${group.level}] ${group.message}\n      e.g. ${group.sample}`);
  return [
    lines.length ? `Failed requests (all runs):\n${lines.join('\n')}` : 'Failed requests: none',
    logLines.length ? `Issuer log warnings/errors (LOG_LEVEL=warn):\n${logLines.join('\n')}` : 'Issuer log: no warnings or errors',
  ].join('\n');
}

function interferenceText(foreign: string[], port: number): string {
  if (foreign.length === 0) return '';
  return `WARNING: another process started a service on port ${port} during the run (${foreign.length} foreign lines in its log file, first: ${foreign[0]!.slice(0, 160)}); its requests may have reached this issuer and skewed the figures.\n`;
}

function cleanupText(cleanup: Record<string, unknown>): string {
  const issued = Number(cleanup['leasesIssued'] ?? 0);
  return [
    `Cleanup: ${JSON.stringify(cleanup)}`,
    `Left behind by design: the ${issued} leases issued through the real issuer are real leases: ${issued} lease.issued events on ${Topics.leaseIssued}`,
    '(a revoker or auditor on the shared consumer groups consumes them; a revoker revokes them when their 10m TTL ends)',
    'and their issuer:lease:* records in Redis (kept until maxTtl + 7 days).',
  ].join('\n');
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(`benchmark failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
