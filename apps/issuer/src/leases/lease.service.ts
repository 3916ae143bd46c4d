import { randomUUID } from 'node:crypto';

import { Inject, Injectable, Optional } from '@nestjs/common';
import type { Counter } from 'prom-client';

import { findRole, isBound, type Catalog } from '@rotor/catalog';
import { createEvent, Topics, type Actor } from '@rotor/contracts';
import { BackendRegistry } from '@rotor/credential-backends';
import { DomainError } from '@rotor/errors';
import type { OperatorCaller, WorkloadCaller } from '@rotor/identity';
import { EventPublisher, PublishTimeoutError } from '@rotor/kafka';
import { DependencyGate, LOGGER } from '@rotor/service-kit';
import { Metrics, type Logger } from '@rotor/telemetry';

import { TokenHasher } from '../introspection/token-hasher';
import { CATALOG, DEPENDENCY_TIMEOUT_MS } from '../platform/tokens';

import { ActiveLeases } from './active-leases';
import { eventWorkload, expiryFor, heldBy, isLive, type Lease, type LeaseHolder } from './lease';
import { LeaseStore } from './lease.store';

const SOURCE = '/rotor/issuer';
const IDEMPOTENCY_WINDOW_MS = 24 * 3_600_000;
/** How long an answer may wait, past the request's budget, for the undo of a half-done request. */
const UNDO_GRACE_MS = 300;
/** The role and backend labels of a request for a role the catalog does not have (its name is the caller's text). */
const UNKNOWN_ROLE = '(unknown)';

export type IssueCommand = {
  role: string;
  ttlMs?: number;
  task?: string;
  idempotencyKey?: string;
} & (
  | { caller: WorkloadCaller; breakGlass?: undefined }
  /** Break-glass: an SRE takes the role outside its bindings, for at most `maxTtlMs`, and holds the lease. */
  | { caller: OperatorCaller; breakGlass: { maxTtlMs: number } }
);

export interface IssuedLease {
  lease: Lease;
  /** The credential, returned to the caller once and kept nowhere. */
  credential: Record<string, string>;
}

/**
 * A refused or failed issuance's outcome: `quota-reached` for the active-lease quota, the kind of
 * any other domain error (`forbidden`, `invalid`, `conflict`, `unavailable`), `error` otherwise.
 */
const issuanceOutcome = (error: unknown): string => {
  if (!(error instanceof DomainError)) return 'error';
  return error.code === 'lease-quota-reached' ? 'quota-reached' : error.kind;
};

const actorOf = (caller: WorkloadCaller | OperatorCaller): Actor =>
  caller.kind === 'workload'
    ? { kind: 'workload', workload: caller.workload }
    : { kind: 'operator', subject: caller.subject, groups: caller.groups };

/**
 * Issues, reads, renews and ends dynamic leases. Rule: no credential exists that rotor
 * does not track, so if anything after the backend call fails, the credential is revoked
 * before the error is returned.
 */
@Injectable()
export class LeaseService {
  private readonly issuances: Counter<'role' | 'backend' | 'outcome'>;

  constructor(
    @Inject(CATALOG) private readonly catalog: Catalog,
    private readonly backends: BackendRegistry,
    private readonly leases: LeaseStore,
    private readonly activeLeases: ActiveLeases,
    private readonly publisher: EventPublisher,
    private readonly hasher: TokenHasher,
    @Inject(LOGGER) private readonly logger: Logger,
    metrics: Metrics,
    @Optional() private readonly gate?: DependencyGate,
    @Optional() @Inject(DEPENDENCY_TIMEOUT_MS) private readonly dependencyTimeoutMs?: number,
  ) {
    this.issuances = metrics.counter('rotor_issuances_total', 'Lease requests, by catalog role, backend kind and outcome', [
      'role',
      'backend',
      'outcome',
    ]);
  }

  /** Issues a lease; every request is counted in rotor_issuances_total, refusals included. */
  async issue(command: IssueCommand): Promise<IssuedLease> {
    // Only catalog names become label values: a role the catalog lacks is the caller's free text.
    const role = findRole(this.catalog, command.role);
    const labels = { role: role?.name ?? UNKNOWN_ROLE, backend: role?.backend.kind ?? UNKNOWN_ROLE };
    try {
      const issued = await this.mint(command);
      this.issuances.inc({ ...labels, outcome: 'issued' });
      return issued;
    } catch (error) {
      this.issuances.inc({ ...labels, outcome: issuanceOutcome(error) });
      throw error;
    }
  }

  private async mint(command: IssueCommand): Promise<IssuedLease> {
    const { caller } = command;
    const role = findRole(this.catalog, command.role);
    if (!role || (caller.kind === 'workload' && !isBound(role, caller.workload))) {
      // The same answer for unknown and unbound roles: callers cannot probe the catalog.
      throw new DomainError('forbidden', 'role-not-bound', `role ${command.role} is not bound to ${holderName(caller)}`);
    }
    // A break-glass lease is the operator's own, in a form no workload can ever match.
    const holder: LeaseHolder =
      caller.kind === 'workload' ? { kind: 'workload', workload: caller.workload } : { kind: 'operator', subject: caller.subject };
    // Nothing is minted while a dependency the lease needs is known to be down.
    const backendDependencies = this.backends.dependenciesOf(role.backend.kind);
    this.gate?.assertAvailable(['kafka', 'redis', ...backendDependencies]);
    // One budget for every dependency call below: a 503 within it, however many are slow.
    const { within, publishOptions, awaitUndo } = this.requestBudget();
    if (command.ttlMs !== undefined && command.ttlMs > role.maxTtl) {
      throw new DomainError('invalid', 'ttl-above-max', `ttl may be at most ${role.maxTtl / 1000}s for role ${role.name}`, {
        field: 'ttl',
      });
    }
    const now = new Date();
    const leaseId = randomUUID();
    const maxExpiresAt = new Date(now.getTime() + Math.min(role.maxTtl, command.breakGlass?.maxTtlMs ?? Number.POSITIVE_INFINITY));
    const expiresAt = expiryFor({ now, ttlMs: command.ttlMs ?? role.ttl, maxExpiresAt });
    // Counted from here on: the check and the reservation are one step, so concurrent requests cannot overshoot.
    const counted = { id: leaseId, role: role.name, holder, expiresAt };
    let reservation;
    try {
      reservation = await within('redis', this.activeLeases.reserve(counted, role.quota, now));
    } catch (error) {
      // A reservation that timed out may still be made later: take it back (sent after it on the
      // same connection), without making the caller wait for a Redis that does not answer.
      void this.activeLeases.release(counted).catch(() => undefined);
      throw error;
    }
    if (reservation !== 'reserved') {
      throw new DomainError('rate-limited', 'lease-quota-reached', `active lease quota reached for role ${role.name}`, {
        retryAfterSeconds: 30,
      });
    }

    let idempotencyKeyClaimed = false;
    let issued;
    try {
      if (command.idempotencyKey) {
        const previous = await within(
          'redis',
          this.leases.claimIdempotencyKey({ subject: caller.subject, key: command.idempotencyKey, leaseId, ttlMs: IDEMPOTENCY_WINDOW_MS }),
        );
        if (previous) {
          throw new DomainError(
            'conflict',
            'idempotency-key-used',
            `this Idempotency-Key already issued lease ${previous}; its credential is returned only once`,
          );
        }
        idempotencyKeyClaimed = true;
      }
      const backend = this.backends.get(role.backend.kind);
      const minting = backend.issue({ leaseId, settings: role.backend, expiresAt });
      try {
        issued = await within(backendDependencies[0] ?? role.backend.kind, minting);
      } catch (error) {
        // A credential minted after the budget was spent belongs to no lease: revoked as it lands.
        void minting.then(({ handle }) => backend.revoke(handle)).catch(() => undefined);
        throw error;
      }
    } catch (error) {
      // Nothing was minted: the reservation and the key are taken back (sent now, on the connections
      // later requests use) without the caller waiting for them; a Redis failing over would double
      // the wait for a 503 (the chaos run saw 3 s). A release that fails leaves the count to expire.
      if (idempotencyKeyClaimed) void this.leases.releaseIdempotencyKey(caller.subject, command.idempotencyKey!).catch(() => undefined);
      void this.activeLeases.release(counted).catch(() => undefined);
      throw error;
    }

    const lease: Lease = {
      id: leaseId,
      role: role.name,
      owner: role.owner,
      backend: role.backend.kind,
      holder,
      ...(command.task ? { task: command.task } : {}),
      issuedAt: now,
      expiresAt,
      maxExpiresAt,
      state: 'active',
      handle: issued.handle,
    };
    const tokenHash = issued.credential['token'] ? this.hasher.hash(issued.credential['token']) : undefined;
    try {
      await within('redis', this.leases.create(lease, tokenHash));
      await this.publisher.publish(
        createEvent({
          topic: Topics.leaseIssued,
          source: SOURCE,
          subject: lease.id,
          data: {
            ...leaseRef(lease),
            ...(lease.task ? { task: lease.task } : {}),
            issuedAt: iso(now),
            expiresAt: iso(expiresAt),
            maxExpiresAt: iso(maxExpiresAt),
            revocationHandle: issued.handle,
          },
        }),
        publishOptions(),
      );
    } catch (error) {
      await awaitUndo(this.undoIssue(lease, tokenHash, command));
      throw new DomainError('unavailable', 'issuance-incomplete', 'the credential could not be recorded and was revoked; retry later', {
        retryAfterSeconds: 5,
        cause: error,
      });
    }
    this.logger.debug({ leaseId, role: role.name, holder: holderName(caller), expiresAt }, 'lease issued');
    return { lease, credential: issued.credential };
  }

  /** A lease its holder asks for, or an operator the controller let through (an SRE or an auditor). */
  async get(caller: WorkloadCaller | OperatorCaller, leaseId: string): Promise<Lease> {
    const lease = await this.leases.get(leaseId);
    if (!lease) throw new DomainError('not-found', 'lease-not-found', `lease ${leaseId} does not exist`);
    if (caller.kind === 'workload' && !heldBy(lease, caller.workload)) {
      throw new DomainError('forbidden', 'not-your-lease', `lease ${leaseId} belongs to another workload`);
    }
    return lease;
  }

  /** `ttlMs`: the TTL the caller asked for, if any. */
  async renew(caller: WorkloadCaller, leaseId: string, { ttlMs }: { ttlMs?: number } = {}): Promise<Lease> {
    const lease = await this.get(caller, leaseId);
    const now = new Date();
    if (!isLive(lease, now)) throw new DomainError('conflict', 'lease-ended', `lease ${leaseId} has ended and cannot be renewed`);
    const role = findRole(this.catalog, lease.role);
    if (ttlMs !== undefined && role && ttlMs > role.maxTtl) {
      throw new DomainError('invalid', 'ttl-above-max', `ttl may be at most ${role.maxTtl / 1000}s for role ${role.name}`, {
        field: 'ttl',
      });
    }
    // Checked before the backend extends anything: a renewal the revoker never hears of would end early.
    const backendDependencies = this.backends.dependenciesOf(lease.backend);
    this.gate?.assertAvailable(['kafka', 'redis', ...backendDependencies]);
    const { within, publishOptions, awaitUndo } = this.requestBudget();
    const ttl = ttlMs ?? role?.ttl ?? lease.expiresAt.getTime() - lease.issuedAt.getTime();
    const expiresAt = expiryFor({ now, ttlMs: ttl, maxExpiresAt: lease.maxExpiresAt });
    // What has been changed so far, and so what the undo restores: a step that failed (a dependency
    // that did not answer) is not restored with the same dependency, which would make the caller wait
    // a second bound for nothing (the chaos run saw 3 s 503s while PostgreSQL was stopped). Its change,
    // if it landed late, ends anyway when the revoker revokes at the expiry it still has.
    const done = { backend: false, record: false, quota: false };
    try {
      await within(backendDependencies[0] ?? lease.backend, this.backends.get(lease.backend).renew(lease.handle, expiresAt));
      done.backend = true;
      await within('redis', this.leases.updateExpiry(lease, expiresAt));
      done.record = true;
      await within('redis', this.activeLeases.extend(lease, expiresAt));
      done.quota = true;
      // Bounded: the revoker's clock moves only with this event, so without it the renewal is undone.
      await this.publisher.publish(
        createEvent({
          topic: Topics.leaseRenewed,
          source: SOURCE,
          subject: lease.id,
          data: { ...leaseRef(lease), renewedAt: iso(now), expiresAt: iso(expiresAt), maxExpiresAt: iso(lease.maxExpiresAt) },
        }),
        publishOptions(),
      );
    } catch (error) {
      await awaitUndo(this.undoRenewal(lease, done));
      if (!(error instanceof PublishTimeoutError)) throw error;
      throw new DomainError(
        'unavailable',
        'kafka-unavailable',
        `the renewal could not be recorded; lease ${lease.id} still ends at ${iso(lease.expiresAt)}`,
        {
          retryAfterSeconds: 5,
          cause: error,
        },
      );
    }
    return { ...lease, expiresAt };
  }

  /** Early revocation (e.g. at task end): the revoker does the work; this asks for it. */
  /** By its holder, or by an SRE (recorded as `requestedBy` on the event, so the audit names them). */
  async requestRevocation(caller: WorkloadCaller | OperatorCaller, leaseId: string): Promise<Lease> {
    const lease = await this.get(caller, leaseId);
    if (lease.state === 'revoked') return lease;
    this.gate?.assertAvailable(['kafka']);
    try {
      // Bounded: nothing changed yet, so a timeout only asks the caller to retry (a late send still revokes).
      await this.publisher.publish(
        createEvent({
          topic: Topics.revocationRequested,
          source: SOURCE,
          subject: lease.id,
          data: { subject: { kind: 'lease', leaseId: lease.id }, reason: 'requested', requestedBy: actorOf(caller) },
        }),
        this.dependencyTimeoutMs ? { timeoutMs: this.dependencyTimeoutMs } : {},
      );
    } catch (error) {
      if (!(error instanceof PublishTimeoutError)) throw error;
      throw new DomainError('unavailable', 'kafka-unavailable', 'the revocation request could not be recorded; retry', {
        retryAfterSeconds: 5,
        cause: error,
      });
    }
    return lease;
  }

  /**
   * One request's time budget (ROTOR_DEPENDENCY_TIMEOUT_MS for all its calls together). Without a
   * gate (unit tests wire none) calls are unbounded and a produce gets the plain timeout.
   */
  private requestBudget() {
    const budget = this.gate?.budget(this.dependencyTimeoutMs);
    return {
      within: <T>(dependency: string, call: Promise<T>): Promise<T> => (budget ? budget.bounded(dependency, call) : call),
      /** A produce gets what is left of the budget. */
      publishOptions: (): { timeoutMs?: number } =>
        budget ? { timeoutMs: budget.remainingMs() } : this.dependencyTimeoutMs ? { timeoutMs: this.dependencyTimeoutMs } : {},
      /** An undo gets what is left and UNDO_GRACE_MS more; past that it goes on after the answer. */
      awaitUndo: async (undo: Promise<void>): Promise<void> => {
        await (budget ? budget.bounded('undo', undo, UNDO_GRACE_MS).catch(() => undefined) : undo);
      },
    };
  }

  /** Applies the revoker's verdict to the issuer's own records (idempotent). */
  async recordRevoked(leaseId: string, revokedAt: Date, reason: string): Promise<void> {
    const lease = await this.leases.get(leaseId);
    if (!lease || lease.state === 'revoked') return;
    // Uncounted first: a redelivered event after a crash between the two still finds the lease active.
    await this.activeLeases.release(lease);
    await this.leases.markRevoked(lease, { at: revokedAt, reason });
  }

  /**
   * Puts a renewal's partial work back to the lease's previous expiry: the backend's own expiry
   * (a PostgreSQL role's VALID UNTIL), the lease record and the quota's count, so nothing
   * outlives the end the revoker still holds. Best effort: should the event land after its
   * timeout, the revoker's clock moves to the new end and the credential is revoked there.
   */
  private async undoRenewal(lease: Lease, done: { backend: boolean; record: boolean; quota: boolean }): Promise<void> {
    const steps: [string, boolean, () => Promise<void>][] = [
      ['backend expiry', done.backend, () => this.backends.get(lease.backend).renew(lease.handle, lease.expiresAt)],
      ['lease record', done.record, () => this.leases.updateExpiry(lease, lease.expiresAt)],
      ['quota count', done.quota, () => this.activeLeases.extend(lease, lease.expiresAt)],
    ];
    for (const [what, changed, step] of steps) {
      if (!changed) continue;
      await step().catch((error: unknown) =>
        this.logger.error({ leaseId: lease.id, err: (error as Error).message }, `could not restore the ${what} of an unrecorded renewal`),
      );
    }
  }

  private async undoIssue(lease: Lease, tokenHash: string | undefined, command: IssueCommand): Promise<void> {
    try {
      await this.backends.get(lease.backend).revoke(lease.handle);
    } catch (error) {
      this.logger.error({ leaseId: lease.id, err: (error as Error).message }, 'could not revoke an unrecorded credential');
    }
    // Sent together: while Redis hangs, the answer waits one ROTOR_DEPENDENCY_TIMEOUT_MS, not one per step.
    await Promise.all([
      this.leases.remove(lease, tokenHash).catch(() => undefined),
      this.activeLeases.release(lease).catch(() => undefined),
      command.idempotencyKey
        ? this.leases.releaseIdempotencyKey(command.caller.subject, command.idempotencyKey).catch(() => undefined)
        : undefined,
    ]);
  }
}

const iso = (date: Date) => date.toISOString();

const leaseRef = (lease: Lease) => ({
  leaseId: lease.id,
  role: lease.role,
  owner: lease.owner,
  backend: lease.backend,
  workload: eventWorkload(lease.holder),
});

const holderName = (caller: WorkloadCaller | OperatorCaller): string =>
  caller.kind === 'workload' ? `${caller.workload.namespace}/${caller.workload.serviceAccount}` : `operator ${caller.subject}`;
