import { Inject, Injectable } from '@nestjs/common';

import { findManagedSecret, type Catalog } from '@rotor/catalog';
import { createEvent, Topics, type EventData } from '@rotor/contracts';
import { DomainError } from '@rotor/errors';
import { EventPublisher } from '@rotor/kafka';
import { GsmSecretStore } from '@rotor/secret-store';
import { LOGGER } from '@rotor/service-kit';
import { contextFromTraceparent, inSpan, Metrics, traceparentOf, type Logger } from '@rotor/telemetry';

import { CATALOG } from '../platform/tokens';

import { RetirementEvents } from './retirement-events';
import { RetirementStore, type ForcedRetirement, type Retirement, type RetirementReason } from './retirement.store';

type VersionCreated = EventData<typeof Topics.secretVersionCreated>;

/** GSM answers for a version that is already gone: retiring it again is success. */
const alreadyGone = (error: unknown): void => {
  if (error instanceof DomainError && (error.code === 'gsm-not-found' || error.code === 'gsm-version-disabled')) return;
  throw error;
};

/** Why a claimed retirement may go ahead now, or undefined while it must still wait. */
export const retirementReason = (retirement: Retirement, nowMs: number): RetirementReason | undefined => {
  if (retirement.forcedReason) return retirement.forcedReason;
  if (retirement.targets > 0 && retirement.pending.length === 0) return 'superseded';
  return nowMs >= retirement.graceEndsAt ? 'grace-period-ended' : undefined;
};

/**
 * Retires superseded versions of managed secrets: once every catalog target confirmed the new
 * version, or when the grace period ends, whichever is first. Retirement is GSM disable →
 * destroy → `secret.version-retired`, each step idempotent, so a crash anywhere is repaired
 * by the claim coming back. A secret with no targets has nobody to confirm: it waits for
 * the grace period. GSM names are always built from the configured project, the secret and
 * the version (callers check events with SecretReferences first); a name stored in a record is
 * never used, so records written before that rule are retired by their canonical name too.
 */
@Injectable()
export class RetirementService {
  private readonly retired;

  constructor(
    @Inject(CATALOG) private readonly catalog: Catalog,
    private readonly store: RetirementStore,
    private readonly gsm: GsmSecretStore,
    private readonly publisher: EventPublisher,
    private readonly events: RetirementEvents,
    @Inject(LOGGER) private readonly logger: Logger,
    metrics: Metrics,
  ) {
    this.retired = metrics.counter('rotor_versions_retired_total', 'Managed-secret versions retired, by reason', ['reason']);
  }

  /** Opens the retirement of the version this one supersedes; `immediate` retires it without waiting. */
  async onVersionCreated(
    data: VersionCreated,
    immediate: boolean,
  ): Promise<'untracked' | 'nothing-to-retire' | 'scheduled' | 'already-retired'> {
    await this.store.remember(data.secret);
    const secret = findManagedSecret(this.catalog, data.secret);
    if (!secret) return 'untracked';
    if (!data.previousVersion) return 'nothing-to-retire';
    const targets = secret.targets.map((target) => target.name);
    const graceEndsAt = Date.parse(data.createdAt) + secret.gracePeriod;
    const opened = await this.store.open({
      secret: data.secret,
      version: data.previousVersion,
      gsmVersion: this.gsm.versionName(data.secret, data.previousVersion),
      newVersion: data.version,
      graceEndsAt,
      targets,
      ...(immediate ? { forcedReason: 'emergency' as const } : {}),
      ...(data.emergencyId ? { emergencyId: data.emergencyId } : {}),
    });
    if (opened.state === 'retired') return 'already-retired';
    const traceparent = traceparentOf();
    if (opened.created && traceparent) await this.store.keepTrace(data.secret, data.previousVersion, traceparent);
    const member = RetirementStore.member(data.secret, data.previousVersion);
    const dueAt = immediate || (targets.length > 0 && opened.pending === 0) ? Date.now() : graceEndsAt;
    // A replayed event must not move a claimed or already scheduled retirement.
    if (opened.created) await this.store.schedule.schedule(member, dueAt);
    else await this.store.schedule.scheduleIfAbsent(member, dueAt);
    return 'scheduled';
  }

  /** A target confirmed `version` (or a later one): retirements it completes become due now. */
  async onDeliveryCompleted(secret: string, target: string, version: number): Promise<void> {
    if (!findManagedSecret(this.catalog, secret)) return;
    const ready = await this.store.confirm(secret, target, version);
    for (const old of ready) await this.store.schedule.schedule(RetirementStore.member(secret, old), Date.now());
  }

  /**
   * Retires one version now (revocation.requested for a secret version, emergency rotation).
   * The secret need not be in the catalog any more: the caller checked that the catalog or the
   * revoker's records know it.
   */
  async retireNow(retirement: ForcedRetirement): Promise<'scheduled' | 'already-retired'> {
    const { secret, version, reason, emergencyId } = retirement;
    const existing = await this.store.get(secret, version);
    if (existing?.state === 'retired') return 'already-retired';
    if (existing) await this.store.force(retirement);
    else {
      await this.store.open({
        secret,
        version,
        gsmVersion: this.gsm.versionName(secret, version),
        newVersion: 0,
        graceEndsAt: Date.now(),
        targets: [],
        forcedReason: reason,
        ...(emergencyId ? { emergencyId } : {}),
      });
    }
    await this.store.schedule.schedule(RetirementStore.member(secret, version), Date.now());
    return 'scheduled';
  }

  /** Runs one claimed retirement to its end, or puts it back until its grace period ends. */
  async retireClaimed(member: string): Promise<'retired' | 'waiting' | 'gone'> {
    const { secret, version } = RetirementStore.parseMember(member);
    const retirement = await this.store.get(secret, version);
    if (!retirement || retirement.state === 'retired') {
      await this.store.schedule.complete(member);
      return 'gone';
    }
    const reason = retirementReason(retirement, Date.now());
    if (!reason) {
      await this.store.schedule.schedule(member, retirement.graceEndsAt);
      // A confirmation or a forced retirement may have landed while this claim was read;
      // whoever wrote it also scheduled it now, but this reschedule may have overtaken that.
      const again = await this.store.get(secret, version);
      if (again && again.state === 'pending' && retirementReason(again, Date.now())) await this.store.schedule.schedule(member, Date.now());
      return 'waiting';
    }
    // The rotation's trace goes on: version created → deliveries confirmed → this retirement.
    return inSpan(
      'retire version',
      { parent: contextFromTraceparent(retirement.traceparent), attributes: { 'rotor.secret': secret, 'rotor.secret.version': version } },
      () => this.retire(member, retirement, reason),
    );
  }

  private async retire(member: string, retirement: Retirement, reason: RetirementReason): Promise<'retired'> {
    const { secret, version } = retirement;
    const gsmVersion = this.gsm.versionName(secret, version);
    await this.gsm.disable(gsmVersion).catch(alreadyGone);
    await this.gsm.destroy(gsmVersion).catch(alreadyGone);
    const retiredAt = new Date();
    await this.publisher.publish(
      createEvent({
        topic: Topics.secretVersionRetired,
        id: `${secret}:${version}:retired`,
        source: '/rotor/revoker',
        subject: secret,
        data: { secret, version, gsmVersion, reason, retiredAt: retiredAt.toISOString() },
      }),
      { key: secret },
    );
    await this.events.emit('retired', { secret, version, ...(retirement.emergencyId ? { emergencyId: retirement.emergencyId } : {}) });
    await this.store.markRetired({ secret, version, reason, at: retiredAt });
    await this.store.schedule.complete(member);
    this.retired.inc({ reason });
    this.logger.info({ secret, version, reason }, 'managed-secret version retired');
    return 'retired';
  }
}
