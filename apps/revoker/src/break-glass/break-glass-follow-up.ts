import { Inject, Injectable } from '@nestjs/common';

import { createEvent, Topics } from '@rotor/contracts';
import { EventPublisher } from '@rotor/kafka';
import { REDIS } from '@rotor/nest-redis';
import { DueSchedule, type Redis } from '@rotor/redis-store';
import { LOGGER } from '@rotor/service-kit';
import { Metrics, type Logger } from '@rotor/telemetry';

import type { RevokerConfig } from '../config';
import { REVOKER_CONFIG } from '../platform/tokens';

/**
 * active: access still open; rotating: its end came and rotations were requested;
 * rotated: every exposed secret has a version minted after the access ended.
 */
export type BreakGlassState = 'active' | 'rotating' | 'rotated';

export interface BreakGlassRecord {
  id: string;
  secrets: string[];
  expiresAt: string;
  state: BreakGlassState;
  endedAt?: string;
  attempts: number;
  /** Secret → the version minted by the follow-up rotation. */
  rotated: Record<string, number>;
}

const recordKey = (id: string) => `revoker:breakglass:{${id}}`;
const endedEarlyKey = (id: string) => `revoker:breakglass-ended:{${id}}`;
const waitingKey = (secret: string) => `revoker:breakglass-waiting:${secret}`;
const KEEP_MS = 30 * 86_400_000;

/**
 * The seed's rule for manual access: time-box it, log it, and rotate right after. Each
 * break-glass access is a record and an entry in a due-time schedule at its end (or at once
 * when ended early). When due, every exposed managed secret gets a rotation request; the
 * record stays scheduled for a check, and a secret still not rotated by then is requested
 * again, counted as overdue: the follow-up is never dropped.
 */
@Injectable()
export class BreakGlassFollowUp {
  readonly schedule: DueSchedule;
  private readonly overdue;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    private readonly publisher: EventPublisher,
    @Inject(REVOKER_CONFIG) private readonly config: RevokerConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    metrics: Metrics,
  ) {
    this.schedule = new DueSchedule(redis, { prefix: 'revoker:schedule:breakglass' });
    this.overdue = metrics.counter(
      'rotor_breakglass_followups_overdue_total',
      'Break-glass follow-up rotations not done by their check and requested again',
    );
  }

  async opened(data: { leaseId: string; secrets: string[]; expiresAt: string }): Promise<void> {
    const record: BreakGlassRecord = {
      id: data.leaseId,
      secrets: data.secrets,
      expiresAt: data.expiresAt,
      state: 'active',
      attempts: 0,
      rotated: {},
    };
    const created = await this.redis.set(recordKey(data.leaseId), JSON.stringify(record), 'PX', KEEP_MS, 'NX');
    if (!created) return; // a redelivered event
    const endedEarly = (await this.redis.exists(endedEarlyKey(data.leaseId))) === 1;
    await this.schedule.scheduleIfAbsent(data.leaseId, endedEarly ? Date.now() : Date.parse(data.expiresAt));
  }

  /** An SRE ended the access before its TTL. The request may be read before the access itself. */
  async endedEarly(id: string): Promise<void> {
    const record = await this.get(id);
    if (!record) {
      await this.redis.set(endedEarlyKey(id), '1', 'PX', KEEP_MS);
      return;
    }
    if (record.state === 'active') await this.schedule.schedule(id, Date.now());
  }

  /** Counts a version minted for a break-glass follow-up towards every access waiting on that secret. */
  async versionCreated(secret: string, version: number, createdAt: Date): Promise<void> {
    for (const id of await this.redis.smembers(waitingKey(secret))) {
      const record = await this.get(id);
      if (!record) {
        // Its record expired (KEEP_MS): nothing waits any more, so the entry goes too.
        await this.redis.srem(waitingKey(secret), id);
        continue;
      }
      if (record.state !== 'rotating' || !record.endedAt || createdAt < new Date(record.endedAt)) continue;
      record.rotated[secret] = version;
      if (record.secrets.every((name) => record.rotated[name] !== undefined)) record.state = 'rotated';
      await this.save(record);
      await this.redis.srem(waitingKey(secret), id);
      if (record.state === 'rotated') {
        await this.schedule.cancel(id);
        this.logger.info({ breakGlassId: id, rotated: record.rotated }, 'break-glass follow-up rotation complete');
      }
    }
  }

  /** Runs when an access ends, and again at each check until every exposed secret is rotated. */
  async runClaimed(id: string): Promise<void> {
    const record = await this.get(id);
    if (!record || record.state === 'rotated') {
      await this.schedule.complete(id);
      return;
    }
    const pending = record.secrets.filter((secret) => record.rotated[secret] === undefined);
    if (pending.length === 0) {
      await this.save({ ...record, state: 'rotated' });
      await this.schedule.complete(id);
      return;
    }
    if (record.state === 'rotating') {
      this.overdue.inc();
      this.logger.warn(
        { breakGlassId: id, pending, attempts: record.attempts },
        'break-glass follow-up rotation not done yet; requesting it again',
      );
    }
    const attempt = record.attempts + 1;
    const next: BreakGlassRecord = { ...record, state: 'rotating', attempts: attempt, endedAt: record.endedAt ?? new Date().toISOString() };
    await this.save(next);
    for (const secret of pending) {
      await this.redis.sadd(waitingKey(secret), id);
      await this.publisher.publish(
        createEvent({
          topic: Topics.rotationRequested,
          id: `${id}:${secret}:breakglass-rotation:${attempt}`,
          source: '/rotor/revoker',
          subject: secret,
          data: { secret, reason: 'breakglass', requestedBy: { kind: 'service', service: 'revoker' } },
        }),
        { key: secret },
      );
    }
    await this.schedule.schedule(id, Date.now() + this.config.breakGlass.followUpCheckMs);
  }

  async get(id: string): Promise<BreakGlassRecord | undefined> {
    const text = await this.redis.get(recordKey(id));
    return text ? (JSON.parse(text) as BreakGlassRecord) : undefined;
  }

  private async save(record: BreakGlassRecord): Promise<void> {
    await this.redis.set(recordKey(record.id), JSON.stringify(record), 'PX', KEEP_MS);
  }
}
