import { Inject, Injectable } from '@nestjs/common';

import { createEvent, Topics, type BackendKind } from '@rotor/contracts';
import { BackendRegistry, type CredentialBackend, type MintedCredential } from '@rotor/credential-backends';
import { EventPublisher } from '@rotor/kafka';
import { REDIS } from '@rotor/nest-redis';
import type { Redis } from '@rotor/redis-store';
import { LOGGER } from '@rotor/service-kit';
import { Metrics, type Logger } from '@rotor/telemetry';

import type { RevokerConfig } from '../config';
import { LeaseClock } from '../leases/lease-clock';
import { REVOKER_CONFIG } from '../platform/tokens';

import { Sightings, type Sighting } from './sightings';

export interface OrphanSweepResult {
  /** Credentials found at the backends. */
  listed: number;
  /** Seen without a live lease, still inside the safety margin. */
  waiting: number;
  revoked: number;
  /** Listings or revocations that failed (logged; tried again at the next sweep). */
  failed: number;
}

type OrphanReason = 'untracked' | 'revoked-lease';

/**
 * Nothing rotor minted outlives its lease, whatever happened to Redis. The backends list what
 * rotor created there (its names carry the lease id); a credential whose lease the clock does
 * not hold as live, for longer than the safety margin, is revoked with a
 * `credential.orphan-revoked` event and a metric. This is what ends the credentials of leases
 * a Redis failover or an old backup made the clock forget (their `lease.issued` offsets are
 * committed, so Kafka will not bring them back).
 *
 * The margin is counted from the sweep's first sighting, never from a creation time the
 * backend cannot tell: a credential is older than its first sighting, and a revoker that was
 * down or lagging gives its consumer the whole margin to catch up before anything is revoked.
 */
@Injectable()
export class OrphanSweep {
  private readonly sightings: Sightings;
  private readonly revokedTotal;

  constructor(
    @Inject(REDIS) redis: Redis,
    private readonly clock: LeaseClock,
    private readonly backends: BackendRegistry,
    private readonly publisher: EventPublisher,
    @Inject(REVOKER_CONFIG) private readonly config: RevokerConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    metrics: Metrics,
  ) {
    this.sightings = new Sightings(redis, 'revoker:reconcile:orphans');
    this.revokedTotal = metrics.counter(
      'rotor_orphaned_credentials_revoked_total',
      'Credentials found at a backend without a live lease past the safety margin, and revoked',
      ['backend', 'reason'],
    );
  }

  async sweep(now = Date.now()): Promise<OrphanSweepResult> {
    const result: OrphanSweepResult = { listed: 0, waiting: 0, revoked: 0, failed: 0 };
    const listed = new Set<string>();
    const unlisted = new Set<BackendKind>();
    for (const backend of this.backends.all()) {
      if (!backend.listMinted) continue;
      let minted: MintedCredential[];
      try {
        minted = await backend.listMinted();
      } catch (error) {
        // Its sightings are kept as they are: an unanswered listing is not a vanished credential.
        unlisted.add(backend.kind);
        result.failed++;
        this.logger.warn({ backend: backend.kind, err: (error as Error).message }, 'could not list the credentials of a backend');
        continue;
      }
      result.listed += minted.length;
      const live = await this.clock.matchFields(minted.map(({ leaseId }) => leaseId));
      for (const [index, credential] of minted.entries()) {
        const field = `${backend.kind}:${credential.leaseId}`;
        listed.add(field);
        if (live[index]) {
          await this.sightings.forget(field);
          continue;
        }
        const sighting = await this.sightings.see(field, now);
        if (now - sighting.firstSeenAt < this.config.reconciliation.marginMs) {
          result.waiting++;
          continue;
        }
        try {
          if (await this.revoke({ backend, credential, field, sighting })) result.revoked++;
        } catch (error) {
          result.failed++;
          this.logger.warn(
            { leaseId: credential.leaseId, backend: backend.kind, err: (error as Error).message },
            'could not revoke an orphaned credential',
          );
        }
      }
    }
    await this.settleVanished(listed, unlisted);
    return result;
  }

  /** False when the lease turned out to be live after all. */
  private async revoke({
    backend,
    credential,
    field,
    sighting,
  }: {
    backend: CredentialBackend;
    credential: MintedCredential;
    field: string;
    sighting: Sighting;
  }): Promise<boolean> {
    // Looked at again just before: a lease tracked since the listing is live after all.
    const lease = await this.clock.get(credential.leaseId);
    if (lease && lease.state !== 'revoked') {
      await this.sightings.forget(field);
      return false;
    }
    const reason: OrphanReason = lease ? 'revoked-lease' : 'untracked';
    // Marked first: a crash after the revocation leaves the next sweep a record to publish from.
    const revokedAt = Date.now();
    await this.sightings.markActed(field, { firstSeenAt: sighting.firstSeenAt, actedAt: revokedAt, reason });
    await backend.revoke(credential.handle);
    this.revokedTotal.inc({ backend: backend.kind, reason });
    this.logger.warn(
      { leaseId: credential.leaseId, backend: backend.kind, reason, firstSeenAt: new Date(sighting.firstSeenAt) },
      'revoked a credential without a live lease',
    );
    await this.publish({ backend: backend.kind, credential, reason, sighting, revokedAt });
    await this.sightings.forget(field);
    return true;
  }

  /**
   * Entries no longer listed: revoked elsewhere (forgotten), or revoked here with the event
   * still unpublished (a failed publish; sent now, with the same id).
   */
  private async settleVanished(listed: Set<string>, unlisted: Set<BackendKind>): Promise<void> {
    for (const [field, sighting] of await this.sightings.all()) {
      const [backend, leaseId] = splitField(field);
      if (listed.has(field) || unlisted.has(backend)) continue;
      const handle = this.handleFor(backend, leaseId);
      if (sighting.actedAt !== undefined && handle) {
        const reason = sighting.reason === 'revoked-lease' ? 'revoked-lease' : 'untracked';
        await this.publish({ backend, credential: { leaseId, handle }, reason, sighting, revokedAt: sighting.actedAt });
      }
      await this.sightings.forget(field);
    }
  }

  /** The handle of a sighted credential, from its backend; none for a backend that lists nothing (or is not configured here). */
  private handleFor(backend: BackendKind, leaseId: string): MintedCredential['handle'] | undefined {
    const found = this.backends.all().find((candidate) => candidate.kind === backend);
    return found?.listMinted ? found.leaseHandle(leaseId) : undefined;
  }

  private async publish(event: {
    backend: BackendKind;
    credential: MintedCredential;
    reason: OrphanReason;
    sighting: Sighting;
    revokedAt: number;
  }): Promise<void> {
    const { backend, credential, reason, sighting, revokedAt } = event;
    await this.publisher.publish(
      createEvent({
        topic: Topics.credentialOrphanRevoked,
        // One event per sighting: replays of the same revocation are deduplicated downstream.
        id: `${backend}:${credential.leaseId}:orphan-revoked:${sighting.firstSeenAt}`,
        source: '/rotor/revoker',
        subject: credential.leaseId,
        data: {
          backend,
          leaseId: credential.leaseId,
          revocationHandle: credential.handle,
          reason,
          firstSeenAt: new Date(sighting.firstSeenAt).toISOString(),
          revokedAt: new Date(revokedAt).toISOString(),
        },
      }),
      { key: credential.leaseId },
    );
  }
}

const splitField = (field: string): [BackendKind, string] => {
  const separator = field.indexOf(':');
  return [field.slice(0, separator) as BackendKind, field.slice(separator + 1)];
};
