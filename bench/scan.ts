/**
 * Copy-discovery benchmark.
 *
 *   npm run bench:scan -- [--files 10000] [--mb 500] [--objects 5000] [--runs 3] [--json]
 *
 * Both parts use one real distributor and issuer (on the shared Kafka and GSM emulator, with a
 * private redis-server, removed afterwards) with 40 managed secrets delivered to Secrets on the
 * fake API server: the distributor fingerprints their 40 versions, whose values the bench reads
 * from the delivered copies.
 * 1. `rotor scan` (the real CLI, a child process) over a generated tree of text-like files
 *    (YAML, prose, hex checksums, base64 blobs; 10 planted managed values), against the real
 *    distributor: MB/s, median of runs, with the keyed rolling prefilter (what the distributor
 *    hands out for these 256-bit values). Once more without it (every window HMAC'd, what
 *    low-entropy secrets cost), to show what the prefilter buys: that run is STUBBED, a small
 *    HTTP server in this process answering with the real distributor's fingerprint set minus
 *    the prefilters, because the distributor drops them only for catalog secrets under 128 bits
 *    of entropy, which would take a second catalog and services start; the scan itself is the
 *    same CLI either way.
 * 2. The distributor's cluster scan (POST /v1/copy-scan) over N Secrets and ConfigMaps on the
 *    fake API server: seconds, median of runs. Every run must find exactly the planted copies.
 * Needs the local services (scripts/services-up.sh). Progress on stderr, results on stdout.
 */
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { CopyFingerprintSetSchema, type CopyFingerprintSet } from '@rotor/rest-contract';

import { FakeKubeApi } from '../test/support/fake-kube-api';
import { startGroupAtEnd } from '../test/support/kafka-groups';
import { PrivateRedis } from '../test/support/private-redis';
import { ServiceProcess } from '../test/support/service-process';
import { loadServicesEnv } from '../test/support/services-env';
import { writeTempCatalog } from '../test/support/temp-files';
import { TestIdentity } from '../test/support/test-identity';

import { SERVICE_GROUPS } from './lib/quiet-services';
import { num, table, withSpread } from './lib/report';
import { spread } from './lib/stats';
import { kafkaFromEnv } from '../tools/security/env-clients';

const { values: args } = parseArgs({
  options: {
    files: { type: 'string', default: '10000' },
    mb: { type: 'string', default: '500' },
    objects: { type: 'string', default: '5000' },
    runs: { type: 'string', default: '3' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean' },
  },
});
if (args.help) {
  process.stdout.write('Usage: npm run bench:scan -- [--files 10000] [--mb 500] [--objects 5000] [--runs 3] [--json]\n');
  process.exit(0);
}
const FILES = Number(args.files);
const TOTAL_BYTES = Number(args.mb) * 1024 * 1024;
const OBJECTS = Number(args.objects);
const RUNS = Number(args.runs);
const ROOT = join(__dirname, '..');
const REDIS_PORT = 19800;
const progress = (line: string) => process.stderr.write(`${line}\n`);

/** Lines like those in a repository: manifests, prose, checksums, base64 blobs, env files. */
function linePool(): string[] {
  const words = 'the service reads its configuration from the mounted volume and retries with backoff when the broker is unavailable'.split(
    ' ',
  );
  const lines: string[] = [];
  for (let i = 0; i < 4000; i++) {
    switch (i % 10) {
      case 0:
        lines.push(`  sha256: ${randomBytes(32).toString('hex')}`);
        break;
      case 1:
        lines.push(`    tls.crt: ${randomBytes(48).toString('base64')}`);
        break;
      case 2:
        lines.push(`image: registry.example.com/team/app-${i}:1.${i % 17}.${i % 5}`);
        break;
      case 3:
        lines.push(`SERVICE_${i}_URL=http://svc-${i}.apps.svc.cluster.local:8080/v1/items?limit=50`);
        break;
      default:
        lines.push(Array.from({ length: 8 + (i % 9) }, (_, j) => words[(i * 7 + j * 3) % words.length]).join(' '));
    }
  }
  return lines;
}

function generateTree(dir: string, planted: string[]): { bytes: number; plantedPaths: string[] } {
  const pool = linePool();
  const average = TOTAL_BYTES / FILES;
  let bytes = 0;
  const plantedPaths: string[] = [];
  const every = Math.floor(FILES / planted.length);
  for (let index = 0; index < FILES; index++) {
    const sub = join(dir, `d${index % 100}`, `e${Math.floor(index / 100) % 10}`);
    if (index < 1000) mkdirSync(sub, { recursive: true });
    const target = Math.round(average * (0.2 + (1.6 * ((index * 7919) % 1000)) / 1000));
    const parts: string[] = [];
    let size = 0;
    let at = (index * 131) % pool.length;
    while (size < target) {
      const line = pool[at++ % pool.length]!;
      parts.push(line);
      size += line.length + 1;
    }
    const plant = index % every === 0 ? planted[index / every] : undefined;
    if (plant) parts.splice(Math.floor(parts.length / 2), 0, `API_KEY=${plant}`);
    const text = parts.join('\n') + '\n';
    const path = join(sub, `f${index}.${['yaml', 'env', 'md', 'txt', 'json'][index % 5]}`);
    writeFileSync(path, text);
    if (plant) plantedPaths.push(path);
    bytes += Buffer.byteLength(text);
  }
  return { bytes, plantedPaths };
}

/** The stub of the no-prefilter run: answers every request with this fingerprint set (the real one, prefilters removed). */
async function stubDistributor(response: CopyFingerprintSet): Promise<Server> {
  const server = createServer((_request, reply) => {
    reply.writeHead(200, { 'content-type': 'application/json' });
    reply.end(JSON.stringify(response));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

function runCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; wallMs: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-r', '@swc-node/register', join(ROOT, 'apps', 'cli', 'src', 'main.ts'), ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, wallMs: performance.now() - started }));
  });
}

interface CliSummary {
  scannedBytes: number;
  mbPerSecond: number;
  findings: number;
  versions: number;
}

/** The real distributor and issuer the two parts scan with, and what the bench knows of them. */
interface Stack {
  distributor: ServiceProcess;
  kube: FakeKubeApi;
  /** The watched namespaces; the managed secrets' own copies live in the first. */
  namespaces: string[];
  /** The value (text) of each managed secret's version: 40 secrets, one version each. */
  values: string[];
  sre: string;
}

async function startStack(): Promise<Stack & { stop: () => Promise<void> }> {
  const suffix = randomUUID().slice(0, 6);
  const namespaces = Array.from({ length: 10 }, (_, i) => `bench-copies-${suffix}-${i}`);
  const secrets = Array.from({ length: 40 }, (_, i) => `bench-copy-${suffix}-${i}`);
  const kube = await new FakeKubeApi().start();
  const catalogFile = writeTempCatalog(`
managedSecrets:
${secrets
  .map(
    (name) => `  - name: ${name}
    owner: bench
    generator: { kind: random-bytes, bytes: 32 }
    rotationPeriod: 30d
    gracePeriod: 1h
    targets:
      - { kind: kubernetes-secret, name: cluster, namespace: ${namespaces[0]}, secretName: ${name}, key: value }`,
  )
  .join('\n')}
`);
  const identity = await TestIdentity.create();
  const sre = await identity.operatorToken('bench@example.com', ['rotor:sre']);
  // A Redis of their own: the issuer's rotation schedule lives there, and an issuer of someone else's
  // run on the shared Redis would claim these secrets' first rotations and drop them as unknown.
  const redis = new PrivateRedis(REDIS_PORT);
  await redis.start();
  const distributor = new ServiceProcess('distributor', 19691, {
    ...identity.env,
    REDIS_URL: redis.url,
    ROTOR_CATALOG: catalogFile,
    KUBECONFIG: kube.writeKubeconfig(),
    ROTOR_DRIFT_SCAN_MS: '0',
    ROTOR_COPY_SCAN_MS: '0',
    ROTOR_COPY_SCAN_NAMESPACES: namespaces.join(','),
    LOG_LEVEL: 'warn',
  });
  const issuer = new ServiceProcess('issuer', 19690, {
    ...identity.env,
    REDIS_URL: redis.url,
    ROTOR_CATALOG: catalogFile,
    LOG_LEVEL: 'warn',
  });
  // The distributor's group from the end of the shared topics: not the backlog earlier runs left there.
  await startGroupAtEnd(kafkaFromEnv('rotor-bench-scan'), SERVICE_GROUPS.distributor[0]);
  const stop = async () => {
    await Promise.all([issuer.stop(), distributor.stop()]);
    await Promise.all([kube.stop(), redis.kill()]);
  };
  try {
    await distributor.start().ready();
    await issuer.start().ready(); // mints version 1 of each secret
    // The delivered copies hold the values (base64, as the API stores them).
    const delivered = () => secrets.map((name) => kube.secret(namespaces[0]!, name)?.data?.['value']);
    const deadline = Date.now() + 120_000;
    while (!delivered().every(Boolean)) {
      if (Date.now() > deadline)
        throw new Error(`only ${delivered().filter(Boolean).length} of ${secrets.length} managed secrets delivered after 120 s`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    progress(`${secrets.length} managed secrets delivered by the real distributor`);
    const values = (delivered() as string[]).map((value) => Buffer.from(value, 'base64').toString());
    return { distributor, kube, namespaces, values, sre, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function benchFiles(stack: Stack) {
  const real = { ROTOR_DISTRIBUTOR_URL: stack.distributor.url, ROTOR_TOKEN: stack.sre };
  // The real answer, minus the prefilters: what the distributor hands out for low-entropy values.
  const response = await fetch(`${stack.distributor.url}/v1/copy-scan/fingerprints`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.sre}` },
  });
  const fingerprintSet = CopyFingerprintSetSchema.parse(await response.json());
  const stub = await stubDistributor({
    ...fingerprintSet,
    fingerprints: fingerprintSet.fingerprints.map(({ prefilter: _prefilter, ...rest }) => rest),
  });
  const stubbed = { ROTOR_DISTRIBUTOR_URL: `http://127.0.0.1:${(stub.address() as AddressInfo).port}`, ROTOR_TOKEN: 'bench' };
  const dir = mkdtempSync(join(tmpdir(), 'rotor-bench-scan-'));
  try {
    progress(`generating ${FILES.toLocaleString('en-US')} files, ~${args.mb} MB in ${dir}`);
    const planted = stack.values.slice(0, 10);
    const tree = generateTree(dir, planted);
    progress(`generated ${(tree.bytes / 1048576).toFixed(0)} MB, ${tree.plantedPaths.length} planted values`);
    const variants = [
      { name: 'with prefilter (real distributor)', env: real, runs: RUNS },
      { name: 'without prefilter (every window HMAC; STUB distributor)', env: stubbed, runs: 1 },
    ];
    const results = [];
    let versions = 0;
    for (const variant of variants) {
      const mbps: number[] = [];
      const wallMbps: number[] = [];
      for (let run = 1; run <= variant.runs; run++) {
        const result = await runCli(['scan', dir, '--json'], variant.env);
        const summary = (JSON.parse(result.stdout) as { summary: CliSummary }).summary;
        if (result.code !== 1 || summary.findings !== planted.length)
          throw new Error(`run ${run} (${variant.name}): exit ${result.code}, ${summary.findings} findings, expected ${planted.length}`);
        versions = summary.versions;
        mbps.push(summary.mbPerSecond);
        wallMbps.push(summary.scannedBytes / 1048576 / (result.wallMs / 1000));
        progress(`  ${variant.name} run ${run}: ${summary.mbPerSecond} MB/s scanning, ${num(wallMbps.at(-1)!)} MB/s including start-up`);
      }
      results.push({ variant: variant.name, runs: variant.runs, mbPerSecond: spread(mbps), wallMbPerSecond: spread(wallMbps) });
    }
    return { files: FILES, megabytes: Math.round(tree.bytes / 1048576), planted: planted.length, versions, results };
  } finally {
    await new Promise<void>((resolve) => stub.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  }
}

async function benchCluster({ distributor, kube, namespaces, values, sre }: Stack) {
  const pool = linePool();
  const planted = 10;
  for (let index = 0; index < OBJECTS; index++) {
    const namespace = namespaces[index % namespaces.length]!;
    const text = (offset: number) => pool.slice((index * 3 + offset) % 3900, ((index * 3 + offset) % 3900) + 4).join('\n');
    const plant =
      index % Math.floor(OBJECTS / planted) === 0 && index / Math.floor(OBJECTS / planted) < planted
        ? values[index % values.length]
        : undefined;
    if (index % 2 === 0) {
      kube.putSecret({
        metadata: { name: `obj-${index}`, namespace },
        data: {
          config: Buffer.from(text(0)).toString('base64'),
          token: Buffer.from(plant ?? randomBytes(32).toString('base64url')).toString('base64'),
          notes: Buffer.from(text(1)).toString('base64'),
        },
      });
    } else {
      kube.putConfigMap({
        metadata: { name: `obj-${index}`, namespace },
        data: { 'app.yaml': text(0), DATABASE_URL: `postgres://app:${plant ?? 'not-a-secret'}@db:5432/app`, notes: text(2) },
      });
    }
  }
  progress(
    `seeded ${OBJECTS.toLocaleString('en-US')} Secrets and ConfigMaps in ${namespaces.length} namespaces, ${planted} planted copies`,
  );
  const seconds: number[] = [];
  for (let run = 1; run <= RUNS; run++) {
    const started = performance.now();
    const response = await fetch(`${distributor.url}/v1/copy-scan`, { method: 'POST', headers: { authorization: `Bearer ${sre}` } });
    const report = (await response.json()) as { scannedObjects: number; findings: unknown[]; errors: unknown[] };
    const elapsed = (performance.now() - started) / 1000;
    if (response.status !== 200 || report.findings.length !== planted || report.errors.length > 0 || report.scannedObjects !== OBJECTS) {
      throw new Error(
        `run ${run}: HTTP ${response.status}, ${report.scannedObjects} objects, ${report.findings.length} findings (expected ${planted}), ${report.errors.length} errors`,
      );
    }
    seconds.push(elapsed);
    progress(`  cluster scan run ${run}: ${elapsed.toFixed(2)} s for ${report.scannedObjects} objects`);
  }
  return {
    objects: OBJECTS,
    namespaces: namespaces.length,
    planted,
    seconds: spread(seconds),
    objectsPerSecond: spread(seconds.map((s) => OBJECTS / s)),
  };
}

async function main(): Promise<void> {
  loadServicesEnv();
  const stack = await startStack();
  let files: Awaited<ReturnType<typeof benchFiles>>;
  let cluster: Awaited<ReturnType<typeof benchCluster>>;
  try {
    files = await benchFiles(stack);
    cluster = await benchCluster(stack);
  } finally {
    await stack.stop();
  }
  if (args.json) {
    process.stdout.write(`${JSON.stringify({ files, cluster })}\n`);
    return;
  }
  process.stdout.write(
    `rotor scan: ${files.files.toLocaleString('en-US')} files, ${files.megabytes} MB, ${files.planted} planted values, ${files.versions} managed versions fingerprinted by the real distributor\n` +
      'the run without prefilter asks a STUB distributor (this process) serving that fingerprint set minus the prefilters\n',
  );
  process.stdout.write(
    table(
      ['matcher', 'runs', 'MB/s scanning (median, min–max)', 'MB/s incl. start-up'],
      files.results.map((result) => [
        result.variant,
        String(result.runs),
        withSpread(result.mbPerSecond),
        withSpread(result.wallMbPerSecond),
      ]),
    ),
  );
  process.stdout.write(
    `\ncluster scan: ${cluster.objects.toLocaleString('en-US')} Secrets and ConfigMaps in ${cluster.namespaces} namespaces (fake API), ${cluster.planted} planted copies\n`,
  );
  process.stdout.write(
    table(
      ['runs', 'seconds (median, min–max)', 'objects/s'],
      [[String(RUNS), withSpread(cluster.seconds), withSpread(cluster.objectsPerSecond)]],
    ) + '\n',
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:scan failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
