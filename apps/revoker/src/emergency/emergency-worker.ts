import { Inject, Injectable } from '@nestjs/common';

import type { Catalog } from '@rotor/catalog';
import { createEvent, Topics } from '@rotor/contracts';
import { EventPublisher } from '@rotor/kafka';
import { sharedGsmPacers } from '@rotor/nest-gsm';
import { ClaimLoopWorker, REDIS, type ClaimLoopSpec } from '@rotor/nest-redis';
import { forEachLimited, type Redis } from '@rotor/redis-store';
import type { Pacer } from '@rotor/secret-store';
import { LOGGER } from '@rotor/service-kit';
import { contextFromTraceparent, inSpan, type Logger } from '@rotor/telemetry';

import type { RevokerConfig } from '../config';
import { LeaseClock } from '../leases/lease-clock';
import { CATALOG, REVOKER_CONFIG } from '../platform/tokens';

import { EmergencyCounters } from './emergency-counters';
import { indexDecides, leaseMatches, matchSecrets, primaryLeaseIndex, selectsLeases } from './emergency-matcher';
import { EmergencyStore, type EmergencyProgress, type EmergencyRotation } from './emergency.store';

/**
 * GSM writes one rotation of a managed secret costs: the issuer's create-secret (idempotent),
 * add-version and set-labels, and the revoker's disable and destroy of the old version.
 */
export const GSM_WRITES_PER_ROTATION = 5;

type StepResult = 'continue' | 'wait' | 'done';

/**
 * Runs emergency rotations in checkpointed steps from a claimed schedule entry: snapshot
 * the matching leases (SSCAN of an index, cursor saved), list the matching secrets, ask for
 * each snapshotted lease's revocation (cursor saved), request each secret's rotation
 * (position saved), then watch the counts until everything is revoked, rotated and retired.
 * A lease revocation by selector is the same run without the secret steps.
 * Every step is idempotent, so a step cut short by a crash is simply done again by whichever
 * replica claims the rotation after its visibility deadline.
 */
@Injectable()
export class EmergencyWorker extends ClaimLoopWorker {
  /**
   * Paces rotation requests to what the GSM write quota can absorb (DESIGN §12): 600 writes
   * per minute is 120 rotations per minute. Without it, an emergency over many secrets
   * would queue thousands of writes at the issuer's limiter and GSM, and look stuck. The
   * bucket is shared by the revoker's replicas, as the quota is the project's.
   */
  private readonly rotationRequests: Pacer;

  constructor(
    private readonly store: EmergencyStore,
    private readonly counters: EmergencyCounters,
    private readonly clock: LeaseClock,
    private readonly publisher: EventPublisher,
    @Inject(CATALOG) private readonly catalog: Catalog,
    @Inject(REVOKER_CONFIG) private readonly config: RevokerConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(REDIS) redis: Redis,
  ) {
    super();
    const rotationsPerMinute = Math.max(1, Math.floor(config.gsm.writesPerMinute / GSM_WRITES_PER_ROTATION));
    this.rotationRequests = sharedGsmPacers(redis, config.gsm.project, logger)('emergency-rotation-requests', rotationsPerMinute);
  }

  protected claimLoops(): ClaimLoopSpec[] {
    return [
      {
        what: 'emergency rotation',
        schedule: this.store.schedule,
        pollMs: Math.min(this.config.emergency.pollMs, this.config.revocation.pollMs),
        batch: 16,
        concurrency: 16,
        visibilityMs: this.config.revocation.visibilityMs,
        logger: this.logger,
        handle: (id: string) => this.advance(id),
      },
    ];
  }

  /** Runs steps of one claimed rotation, in the trace of the request that started it. */
  private async advance(id: string): Promise<void> {
    const started = await this.store.get(id);
    const parent = contextFromTraceparent(started?.traceparent);
    await inSpan('advance emergency run', { parent, attributes: { 'rotor.emergency.id': id } }, () => this.advanceFor(id));
  }

  /** Runs steps for a third of the visibility window, then hands the claim back. */
  private async advanceFor(id: string): Promise<void> {
    const deadline = Date.now() + this.config.revocation.visibilityMs / 3;
    for (;;) {
      const rotation = await this.store.get(id);
      if (!rotation || rotation.state !== 'running') {
        // Finished by a claim that died before its final progress event; deduplicated if it was sent.
        if (rotation) await this.publishProgress(id, true);
        await this.store.schedule.complete(id);
        return;
      }
      const next = await this.step(rotation, deadline);
      if (next === 'done') {
        await this.publishProgress(id, true);
        await this.store.schedule.complete(id);
        return;
      }
      await this.publishProgress(id, false);
      if (next === 'wait' || Date.now() >= deadline || this.stopping.signal.aborted) {
        await this.store.schedule.schedule(id, Date.now() + (next === 'wait' ? this.config.emergency.pollMs : 0));
        return;
      }
    }
  }

  private async step(rotation: EmergencyRotation, deadline: number): Promise<StepResult> {
    const { id, selector } = rotation;
    const { batch } = this.config.emergency;
    const leasesOnly = rotation.scope === 'lease-revocation';
    switch (rotation.phase) {
      case 'match-leases': {
        if (!selectsLeases(selector)) {
          await this.store.update(id, { phase: 'match-secrets', cursor: '0' });
          return 'continue';
        }
        const [cursor, ids] = await this.clock.scanIndex(primaryLeaseIndex(selector), rotation.cursor, batch);
        let matching = ids;
        if (!indexDecides(selector)) {
          const fields = await this.clock.matchFields(ids);
          matching = ids.filter((_, index) => fields[index] && leaseMatches(fields[index], selector));
        }
        await this.store.addLeases(id, matching);
        await this.store.update(id, cursor === '0' ? { phase: leasesOnly ? 'revoke' : 'match-secrets', cursor: '0' } : { cursor });
        return 'continue';
      }
      case 'match-secrets':
        await this.store.setSecrets(id, matchSecrets(this.catalog, selector));
        await this.store.update(id, { phase: 'revoke', cursor: '0' });
        return 'continue';
      case 'revoke': {
        const [cursor, ids] = await this.store.scanLeases(id, rotation.cursor, batch);
        await this.publishRevocationRequests(rotation, ids);
        await forEachLimited(ids, 16, (leaseId) => this.requestRevocation(rotation, leaseId));
        await this.store.update(id, cursor === '0' ? { phase: leasesOnly ? 'watch' : 'rotate', cursor: '0' } : { cursor });
        return 'continue';
      }
      case 'rotate': {
        const secrets = await this.store.secrets(id);
        let next = rotation.secretsRequested;
        while (next < secrets.length && Date.now() < deadline) {
          await this.pacedForGsm(id);
          const secret = secrets[next]!;
          await this.publisher.publish(
            createEvent({
              topic: Topics.rotationRequested,
              id: `${id}:${secret}`,
              source: '/rotor/revoker',
              subject: secret,
              data: {
                secret,
                reason: 'emergency',
                requestedBy: { kind: 'operator', subject: rotation.requestedBy, groups: ['rotor:sre'] },
                emergencyId: id,
              },
            }),
            { key: secret },
          );
          next++;
          await this.store.update(id, { secretsRequested: next });
        }
        if (next >= secrets.length) await this.store.update(id, { phase: 'watch', quotaLimited: false });
        return 'continue';
      }
      case 'watch': {
        const { matched, counts } = await this.progressOf(id);
        const leasesDone = counts.revoked + counts.failed >= matched.leases;
        const secretsDone = counts.rotated >= matched.secrets && counts.retired >= matched.secrets;
        if (!leasesDone || !secretsDone) return 'wait';
        const state = counts.failed > 0 ? 'failed' : 'completed';
        await this.store.finish(id, state, new Date());
        this.logger.warn(
          {
            emergencyId: id,
            scope: rotation.scope,
            state,
            matched,
            revoked: counts.revoked,
            failed: counts.failed,
            rotated: counts.rotated,
            retired: counts.retired,
          },
          leasesOnly ? 'lease revocation finished' : 'emergency rotation finished',
        );
        return 'done';
      }
      case 'done':
        return 'done';
    }
  }

  /** Read from the store, not the REST-facing service; a rotation gone mid-step fails the step (its claim is retried). */
  private async progressOf(id: string): Promise<EmergencyProgress> {
    const progress = await this.store.progress(id);
    if (!progress) throw new Error(`emergency rotation ${id} disappeared`);
    return progress;
  }

  /**
   * One `revocation.requested` per lease, naming the SRE who started the run, so the audit
   * trail says who asked for each lease's end (as an SRE's single-lease revocation does). Sent
   * before the lease is tagged; the id derives from the run and the lease, so a batch sent
   * again after a crash is deduplicated downstream.
   */
  private async publishRevocationRequests(rotation: EmergencyRotation, leaseIds: string[]): Promise<void> {
    if (leaseIds.length === 0) return;
    await this.publisher.publishAll(
      leaseIds.map((leaseId) =>
        createEvent({
          topic: Topics.revocationRequested,
          id: `${rotation.id}:revoke:${leaseId}`,
          source: '/rotor/revoker',
          subject: leaseId,
          data: {
            subject: { kind: 'lease', leaseId },
            reason: revocationReasonOf(rotation),
            requestedBy: { kind: 'operator', subject: rotation.requestedBy, groups: ['rotor:sre'] },
            emergencyId: rotation.id,
          },
        }),
      ),
    );
  }

  /** Tags the lease with this run and asks for its revocation now; a lease already ended is counted here. */
  private async requestRevocation(rotation: EmergencyRotation, leaseId: string): Promise<void> {
    const emergencyId = rotation.id;
    await this.clock.requestNow(leaseId, revocationReasonOf(rotation), emergencyId);
    const lease = await this.clock.get(leaseId);
    if (lease?.state === 'revoked') await this.counters.leaseRevoked(emergencyId, leaseId);
    else if (lease?.state === 'irrevocable') await this.counters.add(emergencyId, 'failed', leaseId);
  }

  /** Waits for the GSM pacing; while it has to wait, the rotation reports that quota is what limits it. */
  private async pacedForGsm(id: string): Promise<void> {
    await this.rotationRequests.acquire(async () => {
      await this.store.update(id, { quotaLimited: true });
      await this.publishProgress(id, false);
    });
  }

  /**
   * Publishes `emergency.progress` when something changed, at most every poll interval, and
   * always the final one. The id is derived from the counts, so a re-publish after a crash
   * is deduplicated downstream.
   */
  private async publishProgress(id: string, final: boolean): Promise<void> {
    const rotation = await this.store.get(id);
    if (!rotation) return;
    if (!final && Date.now() - rotation.lastProgressAt < this.config.emergency.pollMs) return;
    const { matched, counts } = await this.progressOf(id);
    const data = {
      emergencyId: id,
      state: rotation.state,
      matched: matched.leases + matched.secrets,
      ...counts,
      quotaLimited: rotation.quotaLimited,
    };
    const progressId = `${id}:progress:${[data.state, data.matched, data.revoked, data.rotated, data.delivered, data.retired, data.failed, data.quotaLimited ? 'q' : '-'].join(':')}`;
    if (progressId === rotation.lastProgressId) return;
    await this.publisher.publish(
      createEvent({ topic: Topics.emergencyProgress, id: progressId, source: '/rotor/revoker', subject: id, data }),
      { key: id },
    );
    await this.store.update(id, { lastProgressId: progressId, lastProgressAt: Date.now() });
  }
}

/** An emergency rotation's leases end as `emergency`; a revocation by selector's as `requested`, as an SRE's single one. */
const revocationReasonOf = (rotation: EmergencyRotation): 'emergency' | 'requested' =>
  rotation.scope === 'lease-revocation' ? 'requested' : 'emergency';
