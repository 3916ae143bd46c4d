/**
 * CLI start-up time: the installable bundle (tools/cli-build, plain `node rotor.js`) against the
 * monorepo way (`node -r @swc-node/register apps/cli/src/main.ts`, what `npm run rotor` runs).
 *
 *   npm run bench:cli-startup -- [--runs 10] [--json]
 *
 * Two commands, each timed from spawn to exit: `rotor --help` (loading and building the program)
 * and `rotor leases list` against a tiny local HTTPS server that answers an empty LeasePage at once
 * (a throw-away self-signed certificate from openssl, trusted through ROTOR_CA_FILE), so the figure
 * is the CLI's own cost, not the auditor's. The bundle is built fresh into a temporary directory
 * and run from another one, outside the repository. One untimed warm-up run per case fills the
 * page cache; the timed runs of the cases are interleaved, so drift on a shared machine hits all
 * of them alike. Reports the median and p90 wall time and the monorepo/bundle ratio.
 */
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

import { LeasePageSchema } from '@rotor/rest-contract';

import { table } from './lib/report';
import { median, percentile } from './lib/stats';

const ROOT = join(__dirname, '..');

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '10' },
    json: { type: 'boolean', default: false },
  },
});
const RUNS = Number(args.runs);
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error('--runs: expected a positive integer');

interface Variant {
  name: string;
  argv: (command: string[]) => string[];
  cwd: string;
}

interface Case {
  variant: Variant;
  command: string[];
  timesMs: number[];
}

const progress = (message: string) => process.stderr.write(`${message}\n`);

/** A self-signed certificate for 127.0.0.1, valid one day, in a private temporary directory. */
function selfSignedCertificate(dir: string): { cert: string; key: string; certFile: string } {
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
      ...['-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
    ],
    { stdio: 'ignore' },
  );
  return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8'), certFile };
}

/** Answers GET /v1/inventory/leases with a valid empty page; counts the answers, so a run that never asked is caught. */
async function fakeAuditor(tls: { cert: string; key: string }): Promise<{ server: Server; port: number; answered: () => number }> {
  let answered = 0;
  const server = createServer(tls, (request, response) => {
    const url = new URL(request.url ?? '/', 'https://127.0.0.1');
    if (request.method !== 'GET' || url.pathname !== '/v1/inventory/leases' || !request.headers.authorization) {
      response.writeHead(404, { 'content-type': 'application/problem+json' }).end(JSON.stringify({ title: 'not found', status: 404 }));
      return;
    }
    answered++;
    const page = LeasePageSchema.parse({ items: [], at: new Date().toISOString() });
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(page));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('the fake auditor has no port');
  return { server, port: address.port, answered: () => answered };
}

/** One run, spawn to exit; a non-zero exit fails the benchmark rather than timing an error path. */
function timeRun(variant: Variant, command: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, variant.argv(command), { cwd: variant.cwd, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const elapsed = performance.now() - started;
      if (code === 0) resolve(elapsed);
      else reject(new Error(`${variant.name} rotor ${command.join(' ')} exited ${code}: ${stderr.trim()}`));
    });
  });
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'rotor-bench-cli-'));
  const out = join(work, 'build');
  const alone = mkdtempSync(join(tmpdir(), 'rotor-bench-cli-alone-'));
  let server: Server | undefined;
  try {
    progress('building the bundle…');
    execFileSync(process.execPath, ['-r', '@swc-node/register', join(ROOT, 'tools', 'cli-build', 'build.ts'), '--out', out], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const bundle = join(alone, 'rotor.js');
    copyFileSync(join(out, 'rotor.js'), bundle);
    const bundleBytes = statSync(bundle).size;

    const tls = selfSignedCertificate(work);
    const auditor = await fakeAuditor(tls);
    server = auditor.server;
    // Only what the CLI needs: no inherited ROTOR_* settings, no login file (HOME is empty).
    const env: NodeJS.ProcessEnv = {
      PATH: process.env['PATH'],
      HOME: work,
      ROTOR_TOKEN: 'bench',
      ROTOR_AUDITOR_URL: `https://127.0.0.1:${auditor.port}`,
      ROTOR_CA_FILE: tls.certFile,
    };

    const variants: Variant[] = [
      { name: 'bundle', argv: (command) => [bundle, ...command], cwd: alone },
      {
        name: 'monorepo',
        argv: (command) => ['-r', '@swc-node/register', join(ROOT, 'apps', 'cli', 'src', 'main.ts'), ...command],
        cwd: ROOT,
      },
    ];
    const commands = [['--help'], ['leases', 'list']];
    const cases: Case[] = commands.flatMap((command) => variants.map((variant) => ({ variant, command, timesMs: [] as number[] })));

    progress(`warming up, then ${RUNS} runs of each of ${cases.length} cases…`);
    for (const item of cases) await timeRun(item.variant, item.command, env);
    const leaseRuns = cases.filter((item) => item.command[0] === 'leases').length * (RUNS + 1);
    for (let run = 0; run < RUNS; run++) {
      for (const item of cases) item.timesMs.push(await timeRun(item.variant, item.command, env));
    }
    if (auditor.answered() !== leaseRuns) throw new Error(`the fake auditor answered ${auditor.answered()} times, expected ${leaseRuns}`);

    const summary = cases.map((item) => {
      const sorted = [...item.timesMs].sort((a, b) => a - b);
      return {
        command: `rotor ${item.command.join(' ')}`,
        variant: item.variant.name,
        medianMs: median(sorted),
        p90Ms: percentile(sorted, 90),
        minMs: sorted[0]!,
        maxMs: sorted.at(-1)!,
      };
    });
    const ratios = commands.map((command) => {
      const of = (variant: string) => summary.find((row) => row.command === `rotor ${command.join(' ')}` && row.variant === variant)!;
      return { command: `rotor ${command.join(' ')}`, medianRatio: of('monorepo').medianMs / of('bundle').medianMs };
    });
    const machine = { node: process.versions.node, cores: availableParallelism(), runs: RUNS, bundleBytes };

    if (args.json) {
      process.stdout.write(`${JSON.stringify({ machine, summary, ratios }, null, 2)}\n`);
      return;
    }
    const ms = (value: number) => value.toFixed(0);
    process.stdout.write(
      `CLI start-up: ${RUNS} runs per case, Node ${machine.node}, ${machine.cores} cores, bundle ${(bundleBytes / 1024 / 1024).toFixed(1)} MiB\n\n`,
    );
    process.stdout.write(
      `${table(
        ['command', 'way', 'median ms', 'p90 ms', 'min ms', 'max ms'],
        summary.map((row) => [row.command, row.variant, ms(row.medianMs), ms(row.p90Ms), ms(row.minMs), ms(row.maxMs)]),
      )}\n\n`,
    );
    for (const ratio of ratios)
      process.stdout.write(`${ratio.command}: the monorepo way takes ${ratio.medianRatio.toFixed(1)}× the bundle's median\n`);
  } finally {
    server?.close();
    rmSync(work, { recursive: true, force: true });
    rmSync(alone, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:cli-startup: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
