/**
 * The agent's bundle (tools/agent-build), the one file the Dockerfile's `agent` image runs: built
 * into a temporary directory, copied alone where no node_modules or checkout can lend it a module,
 * and run with plain `node` in `init` mode against a real issuer and revoker, configured as the
 * injector configures it: the mode as its argument, the configuration as JSON in ROTOR_AGENT_CONFIG.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { Client } from 'pg';

import { IssuerClient } from '@rotor/client';

import { AGENT_BUNDLE } from '../../tools/agent-build/build';
import { eventually } from '../support/eventually';
import { requiredEnv } from '../support/services-env';
import { startAgentServices } from '../support/agent-services';
import type { ServiceProcess } from '../support/service-process';
import { ensurePortFree } from '../support/temp-files';

const ROOT = join(__dirname, '..', '..');
// Ports 19130-19139 belong to this suite.
const ISSUER_PORT = 19130;
const REVOKER_PORT = 19131;

const TABLE = `rotor_agent_bundle_it_${randomUUID().slice(0, 8)}`;
const CATALOG = `
roles:
  - name: bundle-db
    owner: team-orders
    backend:
      kind: postgres
      grants: ["GRANT SELECT ON ${TABLE} TO {{role}}"]
    bindings: [{ namespace: shop, serviceAccount: orders }]
    ttl: 1m
    maxTtl: 5m
  - name: bundle-token
    owner: team-orders
    backend: { kind: opaque-token }
    bindings: [{ namespace: shop, serviceAccount: orders }]
    ttl: 1m
    maxTtl: 5m
`;

interface Run {
  code: number | null;
  output: string;
}

describe('the bundled agent, alone with plain node, against the real issuer', () => {
  const CA_FILE = requiredEnv('ROTOR_CA_FILE');
  const admin = new Client({ connectionString: requiredEnv('DATABASE_URL') });
  let issuer: ServiceProcess;
  let revoker: ServiceProcess;
  let workload: IssuerClient;
  let out: string;
  let alone: string;
  let bundle: string;
  /** What a pod mounts into the agent: the projected token, the issuer's CA, the credentials volume. */
  let pod: { dir: string; token: string; ca: string; credentials: string };

  /** Plain node, the bundle and nothing else: no inherited NODE_OPTIONS, no node_modules, no checkout. */
  const run = (args: string[], env: Record<string, string>): Promise<Run> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [bundle, ...args], {
        cwd: alone,
        env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: alone, POD_NAMESPACE: 'shop', POD_NAME: 'orders-5c8d', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, output }));
    });
  const records = (output: string): Record<string, unknown>[] =>
    output.split('\n').flatMap((line) => (line.startsWith('{') ? [JSON.parse(line) as Record<string, unknown>] : []));

  beforeAll(async () => {
    await Promise.all([ISSUER_PORT, REVOKER_PORT].map(ensurePortFree));
    out = mkdtempSync(join(tmpdir(), 'rotor-agent-build-'));
    execFileSync(process.execPath, ['-r', '@swc-node/register', join(ROOT, 'tools', 'agent-build', 'build.ts'), '--out', out], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    alone = mkdtempSync(join(tmpdir(), 'rotor-agent-alone-'));
    bundle = join(alone, AGENT_BUNDLE);
    copyFileSync(join(out, AGENT_BUNDLE), bundle);

    await admin.connect();
    await admin.query(`CREATE TABLE ${TABLE} (id int primary key, item text)`);
    await admin.query(`INSERT INTO ${TABLE} VALUES (1, 'lamp')`);
    const services = await startAgentServices({ catalog: CATALOG, issuerPort: ISSUER_PORT, revokerPort: REVOKER_PORT });
    ({ issuer, revoker } = services);
    const { identity } = services;

    const dir = mkdtempSync(join(tmpdir(), 'rotor-agent-pod-'));
    pod = { dir, token: join(dir, 'token'), ca: join(dir, 'ca.crt'), credentials: join(dir, 'rotor') };
    writeFileSync(pod.token, await identity.serviceAccountToken('shop', 'orders'));
    copyFileSync(CA_FILE, pod.ca);
    mkdirSync(pod.credentials);
    workload = new IssuerClient({ url: issuer.url, caFile: CA_FILE, token: () => readFileSync(pod.token, 'utf8') });
  }, 120_000);

  afterAll(async () => {
    await Promise.all([issuer?.stop(), revoker?.stop()]);
    await admin.query(`DROP TABLE IF EXISTS ${TABLE}`).catch(() => undefined);
    await admin.end();
    for (const dir of [out, alone, pod?.dir]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('is copied where nothing can lend it a module: no node_modules above it, no checkout, no @rotor/ require left', () => {
    for (let dir = alone; ; dir = dirname(dir)) {
      expect(existsSync(join(dir, 'node_modules'))).toBe(false);
      expect(existsSync(join(dir, 'package.json'))).toBe(false);
      if (dirname(dir) === dir) break;
    }
    expect(readdirSync(alone)).toEqual([AGENT_BUNDLE]);
    expect(statSync(join(out, AGENT_BUNDLE)).mode & 0o111).toBe(0o111);
    const text = readFileSync(bundle, 'utf8');
    expect(text.startsWith('#!/usr/bin/env node\n')).toBe(true);
    expect(text).not.toMatch(/require\(["']@rotor\//);
  });

  it('init writes every credential file, each usable, and exits 0', async () => {
    const config = {
      issuer: { url: issuer.url, caFile: pod.ca },
      tokenFile: pod.token,
      credentials: [
        { name: 'db', role: 'bundle-db', file: join(pod.credentials, 'db'), template: 'postgres-url' },
        { name: 'api', role: 'bundle-token', file: join(pod.credentials, 'api'), templateText: 'API_TOKEN={{token}}\n' },
      ],
      sidecar: { listen: { host: '0.0.0.0' } },
    };
    const { code, output } = await run(['init'], { ROTOR_AGENT_CONFIG: JSON.stringify(config) });
    const written = records(output).filter((record) => record['msg'] === 'credential file written');
    const leaseOf = (name: string) => written.find((record) => record['credentialName'] === name)?.['leaseId'] as string;
    try {
      // The agent's own lines shown only when it failed.
      expect({ code, output: code === 0 ? '' : output }).toEqual({ code: 0, output: '' });
      expect(readdirSync(pod.credentials).sort()).toEqual(['api', 'db']);
      for (const name of ['api', 'db']) expect(statSync(join(pod.credentials, name)).mode & 0o777).toBe(0o440);

      const url = readFileSync(join(pod.credentials, 'db'), 'utf8');
      expect(url).toMatch(/^postgres:\/\/rotor_[0-9a-f]+:[^@]+@127\.0\.0\.1:5432\/rotor$/);
      const session = new Client({ connectionString: url, ssl: { ca: readFileSync(CA_FILE, 'utf8') }, connectionTimeoutMillis: 3_000 });
      session.on('error', () => undefined);
      await session.connect();
      try {
        expect((await session.query(`SELECT item FROM ${TABLE} WHERE id = 1`)).rows).toEqual([{ item: 'lamp' }]);
      } finally {
        await session.end().catch(() => undefined);
      }
      const api = readFileSync(join(pod.credentials, 'api'), 'utf8');
      expect(api).toMatch(/^API_TOKEN=[\w-]{40,}\n$/);

      expect(await workload.lease(leaseOf('db'))).toMatchObject({ state: 'active', task: 'pod:shop/orders-5c8d/db' });
      expect(await workload.lease(leaseOf('api'))).toMatchObject({ state: 'active', task: 'pod:shop/orders-5c8d/api' });
      for (const secret of [decodeURIComponent(new URL(url).password), api.slice('API_TOKEN='.length).trim()])
        expect(output).not.toContain(secret);
    } finally {
      for (const name of ['db', 'api']) {
        const leaseId = leaseOf(name);
        if (!leaseId) continue;
        await workload.revoke(leaseId);
        await eventually(async () => ((await workload.lease(leaseId)).state === 'revoked' ? true : undefined), {
          what: `lease ${leaseId} to be revoked`,
        });
      }
    }
  });

  it('exits 2 naming the field when the configuration is invalid, and writes nothing', async () => {
    const before = readdirSync(pod.credentials);
    const { code, output } = await run(['init'], {
      ROTOR_AGENT_CONFIG: JSON.stringify({ issuer: { url: issuer.url }, tokenFile: 'token', credentials: [] }),
    });
    expect(code).toBe(2);
    expect(output).toContain('ROTOR_AGENT_CONFIG is invalid');
    expect(output).toContain('tokenFile');
    expect(readdirSync(pod.credentials)).toEqual(before);
  });
});
