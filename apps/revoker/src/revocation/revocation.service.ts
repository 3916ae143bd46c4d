import { Inject, Injectable } from '@nestjs/common';

import { backoffDelay } from '@rotor/backoff';
import { createEvent, Topics } from '@rotor/contracts';
import { BackendRegistry } from '@rotor/credential-backends';
import { isDependencyOutage } from '@rotor/errors';
import { EventPublisher } from '@rotor/kafka';
import { LOGGER } from '@rotor/service-kit';
import { contextFromTraceparent, inSpan, Metrics, type Logger } from '@rotor/telemetry';

import type { RevokerConfig } from '../config';
import { LeaseClock } from '../leases/lease-clock';
import { revocationReason, type TrackedLease } from '../leases/tracked-lease';
import { REVOKER_CONFIG } from '../platform/tokens';

import { RevocationEvents, type LeaseOutcome } from './revocation-events';

export type RevocationOutcome = 'revoked' | 'not-due' | 'already-revoked' | 'unknown' | 'failed';

/**
 * Ends one claimed lease: backend revoke → `lease.revoked` published → marked revoked →
 * claim completed. A crash anywhere in between leaves the claim to expire and the lease to
 * be claimed again; every step is idempotent, and the event id is derived from the lease
 * so a repeated publish is deduplicated downstream.
 */
@Injectable()
export class RevocationService {
  private readonly revoked;
  private readonly failures;
  private readonly lagSeconds;

  constructor(
    private readonly clock: LeaseClock,
    private readonly backends: BackendRegistry,
    private readonly publisher: EventPublisher,
    private readonly events: RevocationEvents,
    @Inject(REVOKER_CONFIG) private readonly config: RevokerConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    metrics: Metrics,
  ) {
    this.revoked = metrics.counter('rotor_leases_revoked_total', 'Leases revoked, by reason and backend', ['reason', 'backend']);
    this.failures = metrics.counter('rotor_revocation_failures_total', 'Failed revocation attempts, by backend', ['backend']);
    this.lagSeconds = metrics.latencyHistogram(
      'rotor_revocation_lag_seconds',
      'Time from expiry to revocation',
      [],
      [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
    );
    metrics.gauge('rotor_leases_irrevocable', 'Leases past the attempt limit, still retried', [], () => clock.countIrrevocable());
    // Read from the shared schedule: every replica exports the same value (aggregate with max, not sum).
    const backlog = () => clock.schedule.backlog(Date.now()).catch(() => undefined);
    metrics.gauge(
      'rotor_revocation_due_leases',
      'Leases due for revocation (expired, requested or retrying) and not yet claimed',
      [],
      async () => (await backlog())?.due,
    );
    metrics.gauge(
      'rotor_revocation_claims_in_flight',
      'Leases claimed for revocation and not yet completed, by any replica',
      [],
      async () => (await backlog())?.inflight,
    );
  }

  async revokeClaimed(leaseId: string): Promise<RevocationOutcome> {
    const lease = await this.clock.get(leaseId);
    if (!lease) {
      await this.clock.schedule.complete(leaseId);
      return 'unknown';
    }
    if (lease.state === 'revoked') {
      // A crash may have cut the last attempt short after the record was marked.
      await this.clock.removeFromIndexes(lease);
      await this.events.emit('revoked', outcomeOf(lease));
      await this.clock.schedule.complete(leaseId);
      return 'already-revoked';
    }
    // The issuance's trace goes on: issue → schedule → this revocation → lease.revoked → audit.
    return inSpan(
      'revoke lease',
      { parent: contextFromTraceparent(lease.traceparent), attributes: { 'rotor.lease.id': lease.id, 'rotor.backend': lease.backend } },
      async (span) => {
        const outcome = await this.revokeDue(lease);
        span.setAttribute('rotor.revocation.outcome', outcome);
        return outcome;
      },
    );
  }

  private async revokeDue(lease: TrackedLease): Promise<RevocationOutcome> {
    const leaseId = lease.id;
    const now = new Date();
    const reason = revocationReason(lease, now);
    if (!reason) {
      // Renewed after it was scheduled: put it back at its current expiry.
      await this.clock.schedule.schedule(leaseId, lease.expiresAt.getTime());
      return 'not-due';
    }
    try {
      await this.backends.get(lease.backend).revoke(lease.handle);
      const revokedAt = new Date();
      await this.publisher.publish(
        createEvent({
          topic: Topics.leaseRevoked,
          id: `${lease.id}:revoked`,
          source: '/rotor/revoker',
          subject: lease.id,
          data: {
            leaseId: lease.id,
            role: lease.role,
            owner: lease.owner,
            backend: lease.backend,
            workload: lease.workload,
            reason,
            revokedAt: revokedAt.toISOString(),
          },
        }),
      );
      // Told before it is marked: a crash in between tells it again (listeners are idempotent).
      await this.events.emit('revoked', outcomeOf(lease));
      await this.clock.markRevoked(lease, revokedAt);
      await this.clock.schedule.complete(lease.id);
      this.revoked.inc({ reason, backend: lease.backend });
      if (reason === 'expired') this.lagSeconds.observe({}, (revokedAt.getTime() - lease.expiresAt.getTime()) / 1000);
      this.logger.debug({ leaseId: lease.id, reason, backend: lease.backend }, 'lease revoked');
      return 'revoked';
    } catch (error) {
      await this.recordFailure(lease, error);
      return 'failed';
    }
  }

  private async recordFailure(lease: TrackedLease, error: unknown): Promise<void> {
    const { id: leaseId, backend } = lease;
    const attempts = lease.attempts + 1;
    const { maxAttempts, irrevocableRetryMs } = this.config.revocation;
    const irrevocable = attempts >= maxAttempts;
    if (irrevocable) await this.events.emit('irrevocable', outcomeOf(lease));
    const delay = irrevocable ? irrevocableRetryMs : Math.max(100, backoffDelay(attempts, { initialMs: 500, maxMs: 60_000, maxAttempts }));
    const retryAt = new Date(Date.now() + delay);
    const message = error instanceof Error ? `${error.name}: ${error.message}` : 'unknown error';
    this.failures.inc({ backend });
    this.logger.warn({ leaseId, attempts, irrevocable, retryAt, err: message }, 'revocation failed');
    const awaitingBackend = isDependencyOutage(error);
    await this.clock.recordFailure(lease, { attempts, error: message, retryAt, irrevocable, awaitingBackend });
    await this.publisher
      .publish(
        createEvent({
          topic: Topics.revocationFailed,
          id: `${leaseId}:failed:${attempts}`,
          source: '/rotor/revoker',
          subject: leaseId,
          data: { leaseId, attempt: attempts, error: message, irrevocable, nextAttemptAt: retryAt.toISOString() },
        }),
      )
      .catch((publishError: unknown) =>
        this.logger.error({ leaseId, err: (publishError as Error).message }, 'could not publish revocation.failed'),
      );
  }
}

const outcomeOf = (lease: TrackedLease): LeaseOutcome => ({
  leaseId: lease.id,
  ...(lease.emergencyId ? { emergencyId: lease.emergencyId } : {}),
});
