import { Writable } from 'node:stream';

import { RotorProblemError, RotorUnavailableError } from '@rotor/client';
import type { IssuedCredential, LeaseRevocation, LeaseView, SecretValue } from '@rotor/rest-contract';
import { createLogger } from '@rotor/telemetry';

import { Agent, type WorkloadApi } from './agent';
import { AgentMetrics } from './agent-metrics';
import { parseAgentConfig } from './config';

const S = 1000;
const TTL = 6 * S;
const MAX = 15 * S;

/** An issuer in memory: leases with the real expiry rules (renewal = now + TTL, capped at the maximum). */
class FakeIssuer implements WorkloadApi {
  readonly leases = new Map<
    string,
    { issuedAt: number; expiresAt: number; maxExpiresAt: number; state: 'active' | 'revoked'; task?: string }
  >();
  readonly calls: string[] = [];
  readonly keys: string[] = [];
  down = false;
  failRole?: string;
  version = 1;
  private next = 0;

  private view(id: string): LeaseView {
    const lease = this.leases.get(id)!;
    return {
      leaseId: id,
      role: 'orders-db',
      owner: 'team',
      backend: 'postgres',
      state: lease.state,
      issuedAt: new Date(lease.issuedAt).toISOString(),
      expiresAt: new Date(lease.expiresAt).toISOString(),
      maxExpiresAt: new Date(lease.maxExpiresAt).toISOString(),
      ...(lease.task ? { task: lease.task } : {}),
    };
  }

  async issue({ role, task, idempotencyKey }: { role: string; task?: string; idempotencyKey?: string }): Promise<IssuedCredential> {
    this.calls.push(`issue ${role}`);
    if (this.down) throw new RotorUnavailableError('cannot reach issuer: ECONNREFUSED', true, 'ECONNREFUSED');
    if (role === this.failRole) throw new RotorProblemError(403, { title: 'Forbidden', code: 'role-not-bound' });
    this.keys.push(idempotencyKey!);
    const id = `00000000-0000-4000-8000-${String(++this.next).padStart(12, '0')}`;
    const now = Date.now();
    this.leases.set(id, { issuedAt: now, expiresAt: now + TTL, maxExpiresAt: now + MAX, state: 'active', task });
    return {
      ...this.view(id),
      credential: { username: `user${this.next}`, password: `pw-${this.next}`, host: 'db', port: '5432', database: 'orders' },
    };
  }

  async renew(id: string): Promise<LeaseView> {
    this.calls.push(`renew ${id.slice(-2)}`);
    if (this.down) throw new RotorUnavailableError('cannot reach issuer: ECONNREFUSED', true, 'ECONNREFUSED');
    const lease = this.leases.get(id)!;
    if (lease.state !== 'active' || lease.expiresAt <= Date.now())
      throw new RotorProblemError(409, { title: 'Conflict', code: 'lease-ended' });
    lease.expiresAt = Math.min(Date.now() + TTL, lease.maxExpiresAt);
    return this.view(id);
  }

  async revoke(id: string): Promise<LeaseRevocation> {
    this.calls.push(`revoke ${id.slice(-2)}`);
    if (this.down) throw new RotorUnavailableError('cannot reach issuer: ECONNREFUSED', true, 'ECONNREFUSED');
    this.leases.get(id)!.state = 'revoked';
    return { ...this.view(id), revocation: 'done' };
  }

  async readSecret(name: string): Promise<SecretValue> {
    this.calls.push(`read ${name}`);
    if (this.down) throw new RotorUnavailableError('cannot reach issuer: ECONNREFUSED', true, 'ECONNREFUSED');
    return { secret: name, version: this.version, createdAt: new Date().toISOString(), value: `value-v${this.version}` };
  }
}

const config = (credentials: unknown[]) =>
  parseAgentConfig(
    JSON.stringify({ issuer: { url: 'https://issuer' }, tokenFile: '/t', credentials, sidecar: { secretPollInterval: '5s' } }),
  );
/** rotor_agent_issuer_calls_total as `call outcome` → count. */
const callCounts = async (metrics: AgentMetrics): Promise<Record<string, number>> =>
  Object.fromEntries((await metrics.issuerCalls.get()).values.map(({ labels, value }) => [`${labels.call} ${labels.outcome}`, value]));
const DB = { name: 'db', role: 'orders-db', file: '/out/db-url', template: 'postgres-url' };
const KEY = { name: 'key', secret: 'demo-api-key', file: '/out/key' };

describe('Agent', () => {
  let issuer: FakeIssuer;
  let files: Map<string, string>;
  let log: string;
  let notices: string[][];
  const make = (credentials: unknown[], metrics?: AgentMetrics) =>
    new Agent({
      metrics,
      config: config(credentials),
      client: issuer,
      task: 'pod:shop/orders-7d9f',
      logger: createLogger({
        service: 'agent',
        destination: new Writable({ write: (chunk, _e, done) => ((log += String(chunk)), done()) }),
      }),
      write: async (path, content) => void files.set(path, content),
      notify: async (changed) => void notices.push(changed),
    });

  beforeEach(() => {
    jest.useFakeTimers({ now: 1_000_000 });
    issuer = new FakeIssuer();
    files = new Map();
    log = '';
    notices = [];
  });
  afterEach(() => jest.useRealTimers());

  it('init writes every file, each lease naming the pod in its task', async () => {
    await make([DB, KEY]).init();
    expect(files.get('/out/db-url')).toBe('postgres://user1:pw-1@db:5432/orders');
    expect(files.get('/out/key')).toBe('value-v1');
    expect([...issuer.leases.values()][0]!.task).toBe('pod:shop/orders-7d9f/db');
    // Names and lease ids in the log (fields named like secrets would be redacted), values never.
    expect(log).toMatch(/"credentialName":"db","file":"\/out\/db-url","leaseId":"[0-9a-f-]{36}"/);
    expect(log).toContain('"credentialName":"key","file":"/out/key","secretName":"demo-api-key","version":1');
    expect(log).not.toContain('pw-1');
    expect(log).not.toContain('value-v1');
  });

  it('init writes no file when one credential cannot be obtained, and revokes the leases it got', async () => {
    issuer.failRole = 'payments-db';
    const error = await make([DB, { name: 'pay', role: 'payments-db', file: '/out/pay' }])
      .init()
      .then(
        () => new Error('init succeeded'),
        (caught: unknown) => caught as Error,
      );
    expect(error.message).toBe('could not obtain pay: 403 Forbidden [role-not-bound]');
    expect(files.size).toBe(0);
    expect([...issuer.leases.values()].map((lease) => lease.state)).toEqual(['revoked']);
  });

  it('init writes no file when a template needs a field the credential lacks', async () => {
    const error = await make([{ ...DB, template: undefined, templateText: '{{token}}' }])
      .init()
      .then(
        () => new Error('init succeeded'),
        (caught: unknown) => caught as Error,
      );
    expect(error.message).toMatch(/^db: template: the credential has no field "token"/);
    expect(files.size).toBe(0);
    expect(issuer.leases.size).toBe(1);
    expect([...issuer.leases.values()][0]!.state).toBe('revoked');
  });

  it('as a sidecar renews at two thirds of the TTL, replaces before the maximum, then revokes the old lease', async () => {
    const metrics = new AgentMetrics();
    const agent = make([DB], metrics);
    const kept = agent.keep();
    await jest.advanceTimersByTimeAsync(0);
    expect(issuer.calls).toEqual(['issue orders-db']);
    await jest.advanceTimersByTimeAsync(4 * S);
    expect(issuer.calls).toEqual(['issue orders-db', 'renew 01']);
    await jest.advanceTimersByTimeAsync(4 * S);
    expect(issuer.calls.slice(-1)).toEqual(['renew 01']);
    expect(issuer.calls).toHaveLength(3);
    await jest.advanceTimersByTimeAsync(4 * S); // 12 s: 3 s of maximum left, less than a TTL
    expect(issuer.calls.slice(3)).toEqual(['issue orders-db']);
    expect(files.get('/out/db-url')).toBe('postgres://user2:pw-2@db:5432/orders');
    expect(notices).toEqual([['db']]);
    // The old lease is revoked after the grace, here cut short by its expiry at 14 s.
    await jest.advanceTimersByTimeAsync(1.9 * S);
    expect(issuer.calls.slice(3)).toEqual(['issue orders-db']);
    await jest.advanceTimersByTimeAsync(0.1 * S);
    expect(issuer.calls.slice(3)).toEqual(['issue orders-db', 'revoke 01']);
    expect(issuer.keys).toEqual([expect.stringMatching(/-db-0$/), expect.stringMatching(/-db-1$/)]);
    expect(agent.readiness().ready).toBe(true);

    await agent.stop();
    await kept;
    expect(issuer.calls.slice(-1)).toEqual(['revoke 02']);
    expect([...issuer.leases.values()].every((lease) => lease.state === 'revoked')).toBe(true);
    // Every call to the issuer is counted, by kind.
    expect(await callCounts(metrics)).toEqual({ 'issue ok': 2, 'renew ok': 2, 'revoke ok': 2 });
  });

  it('keeps the file while the issuer is down, reports not ready once the lease expired, and recovers with a new lease', async () => {
    const metrics = new AgentMetrics();
    const agent = make([DB], metrics);
    const kept = agent.keep();
    await jest.advanceTimersByTimeAsync(0);
    const first = files.get('/out/db-url');
    issuer.down = true;
    await jest.advanceTimersByTimeAsync(5 * S);
    expect(files.get('/out/db-url')).toBe(first);
    expect(agent.readiness().ready).toBe(true); // the lease runs until 6 s
    const renewals = issuer.calls.filter((call) => call.startsWith('renew')).length;
    expect(renewals).toBeGreaterThan(1); // retried before the expiry
    await jest.advanceTimersByTimeAsync(2 * S);
    const readiness = agent.readiness();
    expect(readiness.ready).toBe(false);
    expect(readiness.credentials[0]!.reason).toMatch(/^lease expired; (renew|replace) failed: cannot reach issuer/);
    expect(files.get('/out/db-url')).toBe(first);
    const counts = await callCounts(metrics);
    expect(counts['renew failed']).toBe(issuer.calls.filter((call) => call.startsWith('renew')).length);
    expect(counts['issue failed']).toBe(issuer.calls.filter((call) => call.startsWith('issue')).length - 1);

    issuer.down = false;
    await jest.advanceTimersByTimeAsync(31 * S); // at most one backoff window (30 s) later
    // A new lease (how many replaced it since, within the 31 s, depends on the backoff's jitter).
    expect(files.get('/out/db-url')).toMatch(/^postgres:\/\/user(\d+):pw-\1@db:5432\/orders$/);
    expect(files.get('/out/db-url')).not.toBe(first);
    expect(agent.readiness().ready).toBe(true);
    await agent.stop();
    await kept;
  });

  it('starts as a sidecar once the issuer answers, and follows a managed secret to its new version', async () => {
    issuer.down = true;
    const agent = make([KEY]);
    const kept = agent.keep();
    await jest.advanceTimersByTimeAsync(3 * S);
    expect(files.size).toBe(0);
    expect(agent.readiness()).toEqual({ ready: false, credentials: [{ name: 'key', ready: false, reason: 'not obtained yet' }] });
    issuer.down = false;
    await jest.advanceTimersByTimeAsync(30 * S);
    expect(files.get('/out/key')).toBe('value-v1');
    const reads = issuer.calls.length;
    await jest.advanceTimersByTimeAsync(5 * S);
    expect(issuer.calls.length).toBe(reads + 1);
    expect(notices).toEqual([]); // same version: nothing written, nobody told
    issuer.version = 2;
    await jest.advanceTimersByTimeAsync(5 * S);
    expect(files.get('/out/key')).toBe('value-v2');
    expect(notices).toEqual([['key']]);
    await agent.stop();
    await kept;
  });

  it('as a sidecar stops with an error when a credential is refused (not a passing outage)', async () => {
    issuer.failRole = 'orders-db';
    await expect(make([DB]).keep()).rejects.toThrow('could not obtain db: 403 Forbidden [role-not-bound]');
  });
});
