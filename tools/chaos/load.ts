import type { IssuedCredential, LeaseView } from '@rotor/rest-contract';

import type { TestIdentity } from '../../test/support/test-identity';

import type { Random } from './random';
import { NAMESPACES } from './stack';

export type BackendKind = 'opaque-token' | 'postgres' | 'redis-acl';
export const ROLE_OF: Record<BackendKind, string> = { 'opaque-token': 'chaos-token', postgres: 'chaos-db', 'redis-acl': 'chaos-cache' };

/** One HTTP request the load made, as the client saw it. */
export interface RequestRecord {
  action: 'issue' | 'renew' | 'revoke';
  backend?: BackendKind;
  startedAt: number;
  durationMs: number;
  /** 0: no answer (connection refused or reset, or the client's timeout). */
  status: number;
  retryAfter?: string;
  problem?: string;
}

/** A credential the load received: what it must never see again anywhere, and when it must end. */
export interface IssuedLease {
  leaseId: string;
  backend: BackendKind;
  namespace: string;
  serviceAccount: string;
  issuedAt: number;
  /** The latest expiry an answer announced (issuance or renewal). */
  expiresAt: number;
  /** Values of the credential: the canary every check searches for. */
  secrets: string[];
  /** When the load asked for an early end and was answered 202. */
  revokeRequestedAt?: number;
}

export interface LoadSettings {
  issuerUrl: () => string;
  identity: TestIdentity;
  random: Random;
  /** Requests per second, all workers together. */
  rate: number;
  concurrency: number;
  progress: (line: string) => void;
}

const REQUEST_TIMEOUT_MS = 10_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A steady mixed load on the issuer: opaque, PostgreSQL and Redis-ACL issuance, renewals and
 * early revocations, by workloads of two namespaces (the emergency rotation covers one), at a
 * fixed rate. Every request and every credential is recorded for the invariants.
 */
export class MixedLoad {
  readonly requests: RequestRecord[] = [];
  readonly leases = new Map<string, IssuedLease>();
  private running = false;
  private workers: Promise<void>[] = [];
  private readonly tokens = new Map<string, { token: string; until: number }>();

  constructor(private readonly settings: LoadSettings) {}

  start(): void {
    this.running = true;
    const interval = (1000 * this.settings.concurrency) / this.settings.rate;
    for (let worker = 0; worker < this.settings.concurrency; worker++) this.workers.push(this.work(interval));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.workers);
  }

  /** Issuances answered 201 since `since`, per second. */
  throughput(from: number, to: number): number {
    const ok = this.requests.filter(
      (request) => request.action === 'issue' && request.status === 201 && request.startedAt >= from && request.startedAt < to,
    );
    return ok.length / Math.max(1, (to - from) / 1000);
  }

  private async work(intervalMs: number): Promise<void> {
    const { random } = this.settings;
    await sleep(random.between(0, intervalMs));
    while (this.running) {
      const began = Date.now();
      try {
        await this.step();
      } catch (error) {
        this.settings.progress(`[load ] unexpected: ${(error as Error).message}`);
      }
      await sleep(Math.max(0, intervalMs - (Date.now() - began)));
    }
  }

  private async step(): Promise<void> {
    const { random } = this.settings;
    const live = [...this.leases.values()].filter((lease) => !lease.revokeRequestedAt && lease.expiresAt > Date.now() + 2_000);
    const roll = random.next();
    if (roll < 0.12 && live.length) return this.renew(random.pick(live));
    if (roll < 0.2 && live.length) return this.revoke(random.pick(live));
    const backend: BackendKind = random.weighted([
      ['opaque-token', 6],
      ['postgres', 2],
      ['redis-acl', 2],
    ]);
    const emergency = random.next() < 0.15;
    const namespace = emergency ? NAMESPACES.emergency : NAMESPACES.steady;
    const serviceAccount = emergency ? 'app-em' : `app-${random.int(5)}`;
    return this.issue(backend, namespace, serviceAccount);
  }

  private async issue(backend: BackendKind, namespace: string, serviceAccount: string): Promise<void> {
    const answer = await this.call('issue', backend, namespace, serviceAccount, 'POST', '/v1/credentials', { role: ROLE_OF[backend] });
    if (answer?.status !== 201) return;
    const issued = answer.body as IssuedCredential;
    this.leases.set(issued.leaseId, {
      leaseId: issued.leaseId,
      backend,
      namespace,
      serviceAccount,
      issuedAt: Date.parse(issued.issuedAt),
      expiresAt: Date.parse(issued.expiresAt),
      secrets: Object.entries(issued.credential)
        .filter(([field]) => field === 'token' || field === 'password')
        .map(([, value]) => value),
    });
  }

  private async renew(lease: IssuedLease): Promise<void> {
    const answer = await this.call(
      'renew',
      lease.backend,
      lease.namespace,
      lease.serviceAccount,
      'POST',
      `/v1/leases/${lease.leaseId}/renew`,
      {},
    );
    if (answer?.status === 200) lease.expiresAt = Math.max(lease.expiresAt, Date.parse((answer.body as LeaseView).expiresAt));
  }

  private async revoke(lease: IssuedLease): Promise<void> {
    const requestedAt = Date.now();
    const answer = await this.call('revoke', lease.backend, lease.namespace, lease.serviceAccount, 'DELETE', `/v1/leases/${lease.leaseId}`);
    if (answer?.status === 202) lease.revokeRequestedAt = requestedAt;
  }

  private async token(namespace: string, serviceAccount: string): Promise<string> {
    const key = `${namespace}/${serviceAccount}`;
    const cached = this.tokens.get(key);
    if (cached && cached.until > Date.now()) return cached.token;
    const token = await this.settings.identity.serviceAccountToken(namespace, serviceAccount);
    this.tokens.set(key, { token, until: Date.now() + 5 * 60_000 });
    return token;
  }

  private async call(
    action: RequestRecord['action'],
    backend: BackendKind,
    namespace: string,
    serviceAccount: string,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: unknown } | undefined> {
    const token = await this.token(namespace, serviceAccount);
    const startedAt = Date.now();
    const record: RequestRecord = { action, backend, startedAt, durationMs: 0, status: 0 };
    this.requests.push(record);
    try {
      const response = await fetch(`${this.settings.issuerUrl()}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      const text = await response.text();
      record.status = response.status;
      record.durationMs = Date.now() - startedAt;
      const retryAfter = response.headers.get('retry-after');
      if (retryAfter) record.retryAfter = retryAfter;
      const parsed = text ? (JSON.parse(text) as unknown) : undefined;
      if (response.status >= 400) record.problem = (parsed as { title?: string; detail?: string })?.detail ?? text.slice(0, 200);
      return { status: response.status, body: parsed };
    } catch (error) {
      record.durationMs = Date.now() - startedAt;
      record.problem = (error as Error).name === 'TimeoutError' ? `no answer within ${REQUEST_TIMEOUT_MS} ms` : (error as Error).message;
      return undefined;
    }
  }
}
