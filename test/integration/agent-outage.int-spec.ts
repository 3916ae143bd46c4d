import { existsSync, mkdtempSync, readFileSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Client } from 'pg';

import { IssuerClient } from '@rotor/client';

import { AgentProcess } from '../support/agent-process';
import { eventually } from '../support/eventually';
import { serviceScheme } from '../support/principals';
import { requiredEnv } from '../support/services-env';
import { startAgentServices } from '../support/agent-services';
import type { ServiceProcess } from '../support/service-process';
import { TcpSwitch } from '../support/tcp-switch';
import { ensurePortFree } from '../support/temp-files';

// Ports 19100-19109 belong to this suite.
const ISSUER_PORT = 19100;
const SWITCH_PORT = 19101;
const AGENT_HEALTH_PORT = 19102;
const REVOKER_PORT = 19103;

const OUTAGE_MS = 30_000;
// A 12 s lease: renewal due at 8 s, expiry at 12 s, both inside the outage.
const CATALOG = `
roles:
  - name: outage-db
    owner: team-orders
    backend: { kind: postgres, grants: ['GRANT CONNECT ON DATABASE rotor TO {{role}}'] }
    bindings: [{ namespace: shop, serviceAccount: orders }]
    ttl: 12s
    maxTtl: 5m
`;
const URL_SHAPE = /^postgres:\/\/rotor_[0-9a-f]+:[^@]+@127\.0\.0\.1:5432\/rotor$/;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('rotor agent while the issuer is unreachable for 30 s (real issuer, Redis, Kafka, PostgreSQL)', () => {
  const CA_FILE = requiredEnv('ROTOR_CA_FILE');
  let issuer: ServiceProcess;
  let revoker: ServiceProcess;
  let link: TcpSwitch;
  let workload: IssuerClient;
  let tokenFile: string;
  let sidecar: AgentProcess | undefined;

  beforeAll(async () => {
    await Promise.all([ISSUER_PORT, SWITCH_PORT, AGENT_HEALTH_PORT, REVOKER_PORT].map(ensurePortFree));
    const services = await startAgentServices({ catalog: CATALOG, issuerPort: ISSUER_PORT, revokerPort: REVOKER_PORT });
    ({ issuer, revoker } = services);
    const { identity } = services;
    // The agent's only way to the issuer: cut, it is a network partition; the issuer itself keeps running.
    link = await new TcpSwitch({ host: '127.0.0.1', port: ISSUER_PORT }, SWITCH_PORT).start();
    tokenFile = join(mkdtempSync(join(tmpdir(), 'rotor-agent-outage-token-')), 'token');
    writeFileSync(tokenFile, await identity.serviceAccountToken('shop', 'orders'));
    workload = new IssuerClient({ url: issuer.url, caFile: CA_FILE, token: () => readFileSync(tokenFile, 'utf8') });
  }, 120_000);

  afterAll(async () => {
    await sidecar?.kill();
    await link?.stop();
    await Promise.all([issuer?.stop(), revoker?.stop()]);
  });

  const readyz = async () => {
    const response = await fetch(`http://127.0.0.1:${AGENT_HEALTH_PORT}/readyz`);
    return { status: response.status, body: (await response.json()) as { ready: boolean; credentials: { reason?: string }[] } };
  };
  /** Logs in with a rendered URL and runs a query; the error message when refused. */
  const login = async (url: string): Promise<string> => {
    const session = new Client({ connectionString: url, ssl: { ca: readFileSync(CA_FILE, 'utf8') }, connectionTimeoutMillis: 3_000 });
    session.on('error', () => undefined);
    try {
      await session.connect();
      await session.query('SELECT 1');
      return 'ok';
    } catch (error) {
      return (error as Error).message;
    } finally {
      await session.end().catch(() => undefined);
    }
  };
  const metric = async (pattern: RegExp): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${AGENT_HEALTH_PORT}/metrics`)).text();
    return Number(pattern.exec(text)?.[1] ?? 0);
  };

  it(
    'keeps the current file whole, is ready while the lease runs and not after its expiry, retries with backoff, ' +
      'and writes a new lease once the issuer is back',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'rotor-agent-outage-'));
      const file = join(dir, 'token');
      const config = join(dir, 'agent.json');
      writeFileSync(
        config,
        JSON.stringify({
          issuer: { url: `${serviceScheme()}://127.0.0.1:${SWITCH_PORT}`, caFile: CA_FILE, timeout: '2s' },
          tokenFile,
          credentials: [{ name: 'db', role: 'outage-db', file, template: 'postgres-url' }],
          sidecar: { listen: { port: AGENT_HEALTH_PORT }, replacedLeaseGrace: '1s' },
        }),
      );
      sidecar = new AgentProcess(['sidecar', '--config', config], { POD_NAMESPACE: 'shop', POD_NAME: 'orders-outage' }).start();
      await eventually(async () => (existsSync(file) ? true : undefined), { what: 'the first file', timeoutMs: 30_000 });
      const first = readFileSync(file, 'utf8');
      expect(first).toMatch(URL_SHAPE);
      expect(await login(first)).toBe('ok');
      const written = () => sidecar!.records.filter((record) => record['msg'] === 'credential file written');
      const firstExpiry = Date.parse(written()[0]!['expiresAt'] as string);

      // Every version of the file, on each change and every 20 ms: whole URLs only.
      const seen: string[] = [];
      const partial: string[] = [];
      const check = () => {
        try {
          const content = readFileSync(file, 'utf8');
          if (!URL_SHAPE.test(content)) partial.push(content.length === 0 ? '(empty)' : `(${content.length} characters)`);
          else if (seen.at(-1) !== content) seen.push(content);
        } catch (error) {
          partial.push((error as NodeJS.ErrnoException).code ?? 'unreadable');
        }
      };
      const watcher = watch(dir, check);
      const poller = setInterval(check, 20);

      try {
        link.cut();
        const cutAt = Date.now();

        // The renewal (due at two thirds of the lease) fails; the lease still runs: ready.
        await eventually(
          async () => (sidecar!.records.some((record) => record['msg'] === 'renew failed; keeping the current file') ? true : undefined),
          { what: 'a failed renewal', timeoutMs: 15_000, intervalMs: 100 },
        );
        expect(Date.now()).toBeLessThan(firstExpiry - 500);
        expect((await readyz()).status).toBe(200);
        expect(readFileSync(file, 'utf8')).toBe(first);

        // Past the expiry: the file is kept (nothing else to give), but the agent says it no longer works.
        await sleep(Math.max(0, firstExpiry + 1_000 - Date.now()));
        const expired = await readyz();
        expect(expired.status).toBe(503);
        expect(expired.body.ready).toBe(false);
        expect(expired.body.credentials[0]!.reason).toMatch(/^lease expired; (renew|replace) failed: /);
        expect(await metric(/rotor_agent_credential_ready\{credential="db"\} (\d+)/)).toBe(0);
        expect(readFileSync(file, 'utf8')).toBe(first);
        await eventually(async () => (/password authentication failed|does not exist/.test(await login(first)) ? true : undefined), {
          what: 'the expired role to be dropped',
          timeoutMs: 10_000,
        });

        await sleep(Math.max(0, cutAt + OUTAGE_MS - Date.now()));
        expect((await readyz()).status).toBe(503);
        expect(seen).toEqual([first]);
        const failures = sidecar.records.filter((record) =>
          /^(renew|replace) failed; keeping the current file$/.test(record['msg'] as string),
        );
        link.heal();
        const healedAt = Date.now();

        // Retried with backoff: attempts counted up, never closer than the 100 ms floor, and no tight loop over 30 s.
        expect(failures.map((record) => record['attempt'])).toEqual(failures.map((_record, index) => index + 1));
        const times = failures.map((record) => Date.parse(record['time'] as string));
        for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(100);
        expect(failures.length).toBeGreaterThanOrEqual(3);
        expect(failures.length).toBeLessThan(60);
        expect(failures.some((record) => record['action'] === 'replace')).toBe(true);

        // Back: the next attempt (at most the 30 s backoff cap away) obtains a new lease and writes it.
        await eventually(async () => ((await readyz()).status === 200 ? true : undefined), {
          what: 'the agent ready again',
          timeoutMs: 45_000,
          intervalMs: 200,
        });
        process.stderr.write(
          `agent-outage: ${failures.length} failed attempts in ${OUTAGE_MS / 1000} s; ready again ${Date.now() - healedAt} ms after the issuer was reachable\n`,
        );
      } finally {
        clearInterval(poller);
        watcher.close();
      }
      check();
      expect(partial).toEqual([]);
      expect(seen).toHaveLength(2);
      expect(seen[1]).not.toBe(first);
      expect(readFileSync(file, 'utf8')).toBe(seen[1]);
      const leases = written().map((record) => record['leaseId'] as string);
      expect(leases).toHaveLength(2);
      expect(await workload.lease(leases[1]!)).toMatchObject({ state: 'active', task: 'pod:shop/orders-outage/db' });
      expect(await login(seen[1]!)).toBe('ok');
      expect(await metric(/rotor_agent_replacements_total\{credential="db",outcome="replaced"\} (\d+)/)).toBe(1);
      expect(await metric(/rotor_agent_renewals_total\{credential="db",outcome="failed"\} (\d+)/)).toBeGreaterThanOrEqual(1);
      expect(await metric(/rotor_agent_replacements_total\{credential="db",outcome="failed"\} (\d+)/)).toBeGreaterThanOrEqual(1);
      expect(await metric(/rotor_agent_credential_ready\{credential="db"\} (\d+)/)).toBe(1);
      // Every failed attempt was a call to the issuer that failed; one more issuance succeeded.
      expect(await metric(/rotor_agent_issuer_calls_total\{credential="db",call="renew",outcome="failed"\} (\d+)/)).toBe(
        await metric(/rotor_agent_renewals_total\{credential="db",outcome="failed"\} (\d+)/),
      );
      expect(await metric(/rotor_agent_issuer_calls_total\{credential="db",call="issue",outcome="ok"\} (\d+)/)).toBe(2);

      sidecar.signal('SIGTERM');
      expect(await sidecar.exitCode(15_000)).toBe(0);
      for (const url of seen) expect(sidecar.logs).not.toContain(decodeURIComponent(new URL(url).password));
    },
    150_000,
  );
});
