import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

import { Client } from 'pg';

import { IssuerClient } from '@rotor/client';

import { AgentProcess } from '../support/agent-process';
import { eventually } from '../support/eventually';
import { requiredEnv } from '../support/services-env';
import { startAgentServices } from '../support/agent-services';
import type { ServiceProcess } from '../support/service-process';
import { ensurePortFree } from '../support/temp-files';
import type { TestIdentity } from '../support/test-identity';

// Ports 19500-19519 belong to this suite.
const ISSUER_PORT = 19500;
const REVOKER_PORT = 19501;
const AGENT_HEALTH_PORT = 19502;
const ROTATION_HEALTH_PORT = 19503;

const TABLE = `rotor_agent_it_${randomUUID().slice(0, 8)}`;
const CATALOG = `
roles:
  - name: agent-db
    owner: team-orders
    backend:
      kind: postgres
      grants: ["GRANT SELECT ON ${TABLE} TO {{role}}"]
    bindings: [{ namespace: shop, serviceAccount: orders }]
    ttl: 6s
    maxTtl: 15s
  - name: agent-token
    owner: team-orders
    backend: { kind: opaque-token }
    bindings: [{ namespace: shop, serviceAccount: orders }]
    ttl: 1m
    maxTtl: 5m
  - name: other-team-db
    owner: team-payments
    backend: { kind: opaque-token }
    bindings: [{ namespace: payments, serviceAccount: api }]
    ttl: 1m
    maxTtl: 5m
`;
const POD = { POD_NAMESPACE: 'shop', POD_NAME: 'orders-7d9f' };

describe('rotor agent against the real issuer, revoker and PostgreSQL', () => {
  const CA_FILE = requiredEnv('ROTOR_CA_FILE');
  const admin = new Client({ connectionString: requiredEnv('DATABASE_URL') });
  let identity: TestIdentity;
  let issuer: ServiceProcess;
  let revoker: ServiceProcess;
  let tokenFile: string;
  let workload: IssuerClient;
  const agents: AgentProcess[] = [];
  const sessions: Client[] = [];

  beforeAll(async () => {
    await Promise.all([ISSUER_PORT, REVOKER_PORT, AGENT_HEALTH_PORT, ROTATION_HEALTH_PORT].map(ensurePortFree));
    await admin.connect();
    await admin.query(`CREATE TABLE ${TABLE} (id int primary key, item text)`);
    await admin.query(`INSERT INTO ${TABLE} VALUES (1, 'book')`);
    ({ identity, issuer, revoker } = await startAgentServices({ catalog: CATALOG, issuerPort: ISSUER_PORT, revokerPort: REVOKER_PORT }));
    tokenFile = join(mkdtempSync(join(tmpdir(), 'rotor-agent-token-')), 'token');
    writeFileSync(tokenFile, await identity.serviceAccountToken('shop', 'orders'));
    workload = new IssuerClient({ url: issuer.url, caFile: CA_FILE, token: () => readFileSync(tokenFile, 'utf8') });
  }, 120_000);

  afterAll(async () => {
    await Promise.all(agents.map((agent) => agent.kill()));
    await Promise.all(sessions.map((session) => session.end().catch(() => undefined)));
    await Promise.all([issuer?.stop(), revoker?.stop()]);
    await admin.query(`DROP TABLE IF EXISTS ${TABLE}`);
    await admin.end();
  });

  const configFile = (dir: string, credentials: unknown[], sidecar: unknown = {}, token = tokenFile) => {
    const file = join(dir, 'agent.json');
    writeFileSync(file, JSON.stringify({ issuer: { url: issuer.url, caFile: CA_FILE }, tokenFile: token, credentials, sidecar }));
    return file;
  };
  const agent = (mode: 'init' | 'sidecar', config: string) => {
    const process = new AgentProcess([mode, '--config', config], POD).start();
    agents.push(process);
    return process;
  };
  /** The lease ids the agent wrote, by credential, in order, from its log. */
  const written = (process: AgentProcess, credential: string): string[] =>
    process.records
      .filter((record) => record['msg'] === 'credential file written' && record['credentialName'] === credential)
      .map((record) => record['leaseId'] as string);
  /** A session as the rendered URL says (PostgreSQL here takes TLS only, so the CA comes along). */
  const connect = async (url: string) => {
    const session = new Client({ connectionString: url, ssl: { ca: readFileSync(CA_FILE, 'utf8') }, connectionTimeoutMillis: 3_000 });
    session.on('error', () => undefined);
    await session.connect();
    sessions.push(session);
    return session;
  };
  /**
   * Logs in with `url` until PostgreSQL refuses the role (NOLOGIN, then dropped: the revoker's
   * order), every 50 ms: the milliseconds from `since` (performance.now()) to the first refusal,
   * the logins that worked before it, and what PostgreSQL said.
   */
  const firstRefusal = async (url: string, since: number, timeoutMs: number) => {
    const ca = readFileSync(CA_FILE, 'utf8');
    for (let accepted = 0; ;) {
      const client = new Client({ connectionString: url, ssl: { ca }, connectionTimeoutMillis: 3_000 });
      client.on('error', () => undefined);
      try {
        await client.connect();
        accepted++;
        await client.end().catch(() => undefined);
      } catch (error) {
        const { message } = error as Error;
        if (/password authentication failed|does not exist|is not permitted to log in/.test(message))
          return { ms: performance.now() - since, accepted, message };
      }
      if (performance.now() - since > timeoutMs) throw new Error(`the role still logs in ${timeoutMs} ms after SIGTERM`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const secretsIn = (content: string) => {
    const url = new URL(content);
    return [decodeURIComponent(url.password)];
  };

  it('init writes every file with its content and mode 0440, each lease naming the pod, and exits 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rotor-agent-init-'));
    const init = agent(
      'init',
      configFile(dir, [
        { name: 'db', role: 'agent-db', file: join(dir, 'db-url'), template: 'postgres-url' },
        { name: 'api', role: 'agent-token', file: join(dir, 'api-token'), template: 'raw' },
        { name: 'api-env', role: 'agent-token', file: join(dir, 'api.env'), template: 'env' },
      ]),
    );
    expect(await init.exitCode()).toBe(0);

    for (const name of ['db-url', 'api-token', 'api.env']) expect(statSync(join(dir, name)).mode & 0o777).toBe(0o440);
    expect(readdirSync(dir).sort()).toEqual(['agent.json', 'api-token', 'api.env', 'db-url']);
    const url = readFileSync(join(dir, 'db-url'), 'utf8');
    expect(url).toMatch(/^postgres:\/\/rotor_[0-9a-f]+:[^@]+@127\.0\.0\.1:5432\/rotor$/);
    const session = await connect(url);
    expect((await session.query(`SELECT item FROM ${TABLE} WHERE id = 1`)).rows).toEqual([{ item: 'book' }]);
    const token = readFileSync(join(dir, 'api-token'), 'utf8');
    expect(token).toMatch(/^[\w-]{40,}$/);
    expect(readFileSync(join(dir, 'api.env'), 'utf8')).toMatch(/^TOKEN="[\w-]{40,}"\n$/);

    const [dbLease] = written(init, 'db');
    expect(await workload.lease(dbLease!)).toMatchObject({ state: 'active', task: 'pod:shop/orders-7d9f/db' });
    expect((await workload.lease(written(init, 'api')[0]!)).task).toBe('pod:shop/orders-7d9f/api');
    for (const secret of [...secretsIn(url), token]) expect(init.logs).not.toContain(secret);

    for (const credential of ['db', 'api', 'api-env']) await workload.revoke(written(init, credential)[0]!);
  });

  it('init exits 1 naming the credential it could not obtain, writes no file, and revokes the lease it got', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rotor-agent-init-fail-'));
    const init = agent(
      'init',
      configFile(dir, [
        { name: 'db', role: 'agent-db', file: join(dir, 'db-url'), template: 'postgres-url' },
        { name: 'payments', role: 'other-team-db', file: join(dir, 'payments') },
      ]),
    );
    expect(await init.exitCode()).toBe(1);
    expect(init.logs).toContain('could not obtain payments: 403');
    expect(readdirSync(dir)).toEqual(['agent.json']);
    const revoked = init.records.find((record) => record['msg'] === 'lease revoked' && record['credentialName'] === 'db');
    expect(revoked).toMatchObject({ why: 'init-failed' });
    await eventually(async () => ((await workload.lease(revoked!['leaseId'] as string)).state === 'revoked' ? true : undefined), {
      what: 'the db lease to be revoked',
    });
  });

  it(
    'sidecar renews, replaces the lease before maxTtl without the file ever being partial, a pg client queries throughout, ' +
      'and after SIGTERM its leases are revoked and the role is refused within 2 s',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'rotor-agent-sidecar-'));
      const file = join(dir, 'db-url');
      const sidecar = agent(
        'sidecar',
        configFile(dir, [{ name: 'db', role: 'agent-db', file, template: 'postgres-url' }], {
          listen: { port: AGENT_HEALTH_PORT },
          replacedLeaseGrace: '1s',
        }),
      );
      await eventually(async () => (existsSync(file) ? true : undefined), { what: 'the first file', timeoutMs: 30_000 });

      // A reader on every change (and every 20 ms, should the watcher coalesce): whole URLs only.
      const seen = new Set<string>();
      const partial: string[] = [];
      const check = () => {
        try {
          const content = readFileSync(file, 'utf8');
          if (/^postgres:\/\/rotor_[0-9a-f]+:[^@]+@127\.0\.0\.1:5432\/rotor$/.test(content) && new URL(content).password) seen.add(content);
          else partial.push(content.length === 0 ? '(empty)' : `(${content.length} characters)`);
        } catch (error) {
          partial.push((error as NodeJS.ErrnoException).code ?? 'unreadable');
        }
      };
      const watcher = watch(dir, check);
      const poller = setInterval(check, 20);

      // The application: queries every 250 ms, and reconnects with the file's URL when it changes.
      let current = '';
      let session: Client | undefined;
      let queries = 0;
      const failures: string[] = [];
      const app = setInterval(() => {
        void (async () => {
          const url = readFileSync(file, 'utf8');
          try {
            if (url !== current) {
              const previous = session;
              current = url;
              session = await connect(url);
              await previous?.end().catch(() => undefined);
            }
            await session!.query(`SELECT item FROM ${TABLE} WHERE id = 1`);
            queries++;
          } catch (error) {
            failures.push((error as Error).message);
          }
        })();
      }, 250);

      try {
        // Issued at 0; renewals at 4 s and 8 s; a new lease at 12 s; renewals at 16 s and 20 s.
        await new Promise((resolve) => setTimeout(resolve, 22_000));
        const ready = await fetch(`http://127.0.0.1:${AGENT_HEALTH_PORT}/readyz`);
        expect(ready.status).toBe(200);
        const metrics = await (await fetch(`http://127.0.0.1:${AGENT_HEALTH_PORT}/metrics`)).text();
        expect(metrics).toMatch(/rotor_agent_renewals_total\{credential="db",outcome="renewed"\} [2-9]/);
        expect(metrics).toMatch(/rotor_agent_replacements_total\{credential="db",outcome="replaced"\} 1/);
      } finally {
        clearInterval(app);
        clearInterval(poller);
        watcher.close();
      }
      expect(partial).toEqual([]);
      expect(failures).toEqual([]);
      expect(queries).toBeGreaterThan(60);
      expect(seen.size).toBe(2);
      const leases = written(sidecar, 'db');
      expect(leases).toHaveLength(2);
      expect(sidecar.records.filter((record) => record['msg'] === 'lease renewed').length).toBeGreaterThanOrEqual(3);
      // The replaced lease was revoked by the agent after its grace, not left to its expiry.
      expect(sidecar.records).toContainEqual(expect.objectContaining({ msg: 'lease revoked', leaseId: leases[0], why: 'replaced' }));

      // Issue 17: SIGTERM → the lease is revoked and the role cannot log in within 2 s (agent → issuer
      // DELETE → revocation.requested → revoker). Logins are tried from the signal on, beside the wait
      // for the exit; the time is taken when the first refusal arrives.
      const signalledAt = performance.now();
      sidecar.signal('SIGTERM');
      const [code, refusal] = await Promise.all([sidecar.exitCode(15_000), firstRefusal(current, signalledAt, 10_000)]);
      console.log(
        `agent SIGTERM → role refused: ${refusal.ms.toFixed(0)} ms (${refusal.accepted} logins worked before; "${refusal.message}")`,
      );
      expect(code).toBe(0);
      expect(sidecar.records).toContainEqual(expect.objectContaining({ msg: 'lease revoked', leaseId: leases[1], why: 'stopped' }));
      for (const leaseId of leases) {
        await eventually(async () => ((await workload.lease(leaseId)).state === 'revoked' ? true : undefined), {
          what: `lease ${leaseId} to be revoked`,
          timeoutMs: 5_000,
        });
      }
      expect(refusal.ms).toBeLessThan(2_000);
      await session?.end().catch(() => undefined);

      for (const url of seen) for (const secret of secretsIn(url)) expect(sidecar.logs).not.toContain(secret);
    },
    90_000,
  );

  it('sidecar reads the token file at every call: a token of another workload is refused, the rotated one works again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rotor-agent-rotation-'));
    const ownToken = join(dir, 'token');
    writeFileSync(ownToken, await identity.serviceAccountToken('shop', 'orders'));
    const file = join(dir, 'db-url');
    const sidecar = agent(
      'sidecar',
      configFile(
        dir,
        [{ name: 'db', role: 'agent-db', file, template: 'postgres-url' }],
        { listen: { port: ROTATION_HEALTH_PORT } },
        ownToken,
      ),
    );
    try {
      await eventually(async () => (existsSync(file) ? true : undefined), { what: 'the first file', timeoutMs: 30_000 });
      const first = readFileSync(file, 'utf8');
      // The kubelet's next token, here one of another workload: the renewal at 4 s uses it and is refused.
      writeFileSync(ownToken, await identity.serviceAccountToken('payments', 'api'));
      await eventually(
        async () => (sidecar.records.some((record) => record['msg'] === 'renew failed; keeping the current file') ? true : undefined),
        { what: 'a refused renewal', timeoutMs: 10_000 },
      );
      expect(readFileSync(file, 'utf8')).toBe(first);
      writeFileSync(ownToken, await identity.serviceAccountToken('shop', 'orders'));
      await eventually(async () => (sidecar.records.some((record) => record['msg'] === 'lease renewed') ? true : undefined), {
        what: 'a renewal with the rotated token',
        timeoutMs: 10_000,
      });
      expect(sidecar.logs).toMatch(/"action":"renew".*403/);
    } finally {
      sidecar.signal('SIGTERM');
      expect(await sidecar.exitCode(15_000)).toBe(0);
    }
  }, 60_000);
});
