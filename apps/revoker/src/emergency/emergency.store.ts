import { Inject, Injectable } from '@nestjs/common';

import { REDIS } from '@rotor/nest-redis';
import { DueSchedule, execTransaction, type Redis } from '@rotor/redis-store';
import type { EmergencyRotationView, EmergencySelector, LeaseRevocationView } from '@rotor/rest-contract';

import { EmergencyCounters, emergencyTag, KEEP_EMERGENCY_SECONDS, type EmergencyCounter } from './emergency-counters';

export type EmergencyMode = 'immediate' | 'graceful';
/**
 * What a run covers: `rotation`, an emergency rotation (leases and managed secrets);
 * `lease-revocation`, a revocation of leases by selector (leases only, no mode). Records
 * written before lease revocations existed have no scope field: they are rotations.
 */
export type EmergencyScope = 'rotation' | 'lease-revocation';
export type EmergencyState = 'running' | 'completed' | 'failed';
/** Checkpointed steps: snapshot matching leases → list matching secrets → request revocations → request rotations → watch counts. */
export type EmergencyPhase = 'match-leases' | 'match-secrets' | 'revoke' | 'rotate' | 'watch' | 'done';

export interface EmergencyRotation {
  id: string;
  scope: EmergencyScope;
  selector: EmergencySelector;
  /** Rotations only: a lease revocation retires no version. */
  mode?: EmergencyMode;
  reason: string;
  requestedBy: string;
  requestId?: string;
  state: EmergencyState;
  phase: EmergencyPhase;
  /** SSCAN cursor in the lease index while matching, then in the snapshot while revoking. */
  cursor: string;
  /** How many matched secrets have had their rotation requested. */
  secretsRequested: number;
  quotaLimited: boolean;
  startedAt: string;
  completedAt?: string;
  lastProgressId?: string;
  lastProgressAt: number;
  /** The trace of the request that started it: the worker's steps continue it (absent when tracing is off). */
  traceparent?: string;
}

const recordKey = (id: string) => emergencyTag(id);
const leasesKey = (id: string) => `${emergencyTag(id)}:leases`;
const secretsKey = (id: string) => `${emergencyTag(id)}:secrets`;
/** Which emergency asked for a version, per secret: delivery confirmations of it count. */
const versionsKey = (secret: string) => `revoker:emergency-versions:{${secret}}`;

/** KEYS: record. ARGV: field, value, … Returns 1 when created, 0 when it existed. */
const CREATE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
`;

/** A run's record with what it matched and its progress counts. */
export interface EmergencyProgress {
  rotation: EmergencyRotation;
  matched: { leases: number; secrets: number };
  counts: Record<EmergencyCounter, number>;
}

/** Emergency rotations and lease revocations: the record, the snapshot of matched leases and secrets, and the schedule the workers claim from. */
@Injectable()
export class EmergencyStore {
  readonly schedule: DueSchedule;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    private readonly counters: EmergencyCounters,
  ) {
    this.schedule = new DueSchedule(redis, { prefix: 'revoker:schedule:emergency' });
  }

  async create(rotation: EmergencyRotation): Promise<boolean> {
    const fields = Object.entries(serialize(rotation)).flat();
    return (await this.redis.eval(CREATE, 1, recordKey(rotation.id), ...fields)) === 1;
  }

  async get(id: string): Promise<EmergencyRotation | undefined> {
    const fields = await this.redis.hgetall(recordKey(id));
    if (!fields['id']) return undefined;
    return {
      id: fields['id'],
      scope: (fields['scope'] as EmergencyScope | undefined) ?? 'rotation',
      selector: JSON.parse(fields['selector']!) as EmergencySelector,
      ...(fields['mode'] ? { mode: fields['mode'] as EmergencyMode } : {}),
      reason: fields['reason']!,
      requestedBy: fields['requestedBy']!,
      ...(fields['requestId'] ? { requestId: fields['requestId'] } : {}),
      state: fields['state'] as EmergencyState,
      phase: fields['phase'] as EmergencyPhase,
      cursor: fields['cursor'] ?? '0',
      secretsRequested: Number(fields['secretsRequested'] ?? 0),
      quotaLimited: fields['quotaLimited'] === '1',
      startedAt: fields['startedAt']!,
      ...(fields['completedAt'] ? { completedAt: fields['completedAt'] } : {}),
      ...(fields['lastProgressId'] ? { lastProgressId: fields['lastProgressId'] } : {}),
      lastProgressAt: Number(fields['lastProgressAt'] ?? 0),
      ...(fields['traceparent'] ? { traceparent: fields['traceparent'] } : {}),
    };
  }

  /** The run with its matched totals and progress counts; undefined when it does not exist (or expired). */
  async progress(id: string): Promise<EmergencyProgress | undefined> {
    const rotation = await this.get(id);
    if (!rotation) return undefined;
    const [matched, counts] = await Promise.all([this.matched(id), this.counters.counts(id)]);
    return { rotation, matched, counts };
  }

  /** The emergency rotation as GET answers it; undefined when there is none by this id (a lease revocation is not one). */
  async view(id: string): Promise<EmergencyRotationView | undefined> {
    const progress = await this.progress(id);
    return progress && rotationView(progress);
  }

  /** The lease revocation as GET answers it; undefined when there is none by this id (an emergency rotation is not one). */
  async leaseRevocationView(id: string): Promise<LeaseRevocationView | undefined> {
    const progress = await this.progress(id);
    return progress && leaseRevocationView(progress);
  }

  async mode(id: string): Promise<EmergencyMode | undefined> {
    return ((await this.redis.hget(recordKey(id), 'mode')) ?? undefined) as EmergencyMode | undefined;
  }

  async update(id: string, changes: Partial<EmergencyRotation>): Promise<void> {
    await this.redis.hset(recordKey(id), serialize(changes));
  }

  /** Ends it: the record and its sets are kept a week for GET, then expire. */
  async finish(id: string, state: EmergencyState, at: Date): Promise<void> {
    await execTransaction(
      this.redis
        .multi()
        .hset(recordKey(id), { state, phase: 'done', completedAt: at.toISOString(), quotaLimited: '0' })
        .expire(recordKey(id), KEEP_EMERGENCY_SECONDS)
        .expire(leasesKey(id), KEEP_EMERGENCY_SECONDS)
        .expire(secretsKey(id), KEEP_EMERGENCY_SECONDS),
    );
  }

  async addLeases(id: string, leaseIds: string[]): Promise<void> {
    if (leaseIds.length) await this.redis.sadd(leasesKey(id), ...leaseIds);
  }

  /** One page of the matched-lease snapshot (SSCAN), resumed from `cursor`. */
  async scanLeases(id: string, cursor: string, count: number): Promise<[string, string[]]> {
    return this.redis.sscan(leasesKey(id), cursor, 'COUNT', count);
  }

  async setSecrets(id: string, names: string[]): Promise<void> {
    if (names.length) await this.redis.sadd(secretsKey(id), ...names);
  }

  async secrets(id: string): Promise<string[]> {
    return (await this.redis.smembers(secretsKey(id))).sort();
  }

  async matched(id: string): Promise<{ leases: number; secrets: number }> {
    const [leases, secrets] = await Promise.all([this.redis.scard(leasesKey(id)), this.redis.scard(secretsKey(id))]);
    return { leases, secrets };
  }

  async rememberVersion(secret: string, version: number, emergencyId: string): Promise<void> {
    await execTransaction(
      this.redis.multi().hset(versionsKey(secret), String(version), emergencyId).expire(versionsKey(secret), KEEP_EMERGENCY_SECONDS),
    );
  }

  async emergencyOfVersion(secret: string, version: number): Promise<string | undefined> {
    return (await this.redis.hget(versionsKey(secret), String(version))) ?? undefined;
  }
}

export function rotationView({ rotation, matched, counts }: EmergencyProgress): EmergencyRotationView | undefined {
  if (rotation.scope !== 'rotation') return undefined;
  return {
    id: rotation.id,
    state: rotation.state,
    phase: rotation.phase,
    // Every rotation is created with a mode; 'graceful' only stands in for a record too partial to say.
    mode: rotation.mode ?? 'graceful',
    reason: rotation.reason,
    selector: rotation.selector,
    requestedBy: rotation.requestedBy,
    ...(rotation.requestId ? { requestId: rotation.requestId } : {}),
    matched,
    ...counts,
    quotaLimited: rotation.quotaLimited,
    startedAt: rotation.startedAt,
    ...(rotation.completedAt ? { completedAt: rotation.completedAt } : {}),
  };
}

export function leaseRevocationView({ rotation, matched, counts }: EmergencyProgress): LeaseRevocationView | undefined {
  if (rotation.scope !== 'lease-revocation') return undefined;
  const phase = rotation.phase;
  return {
    id: rotation.id,
    state: rotation.state,
    // A lease revocation skips the secret phases; should a record say one, it is on its way to watching.
    phase: phase === 'match-secrets' ? 'revoke' : phase === 'rotate' ? 'watch' : phase,
    reason: rotation.reason,
    selector: rotation.selector,
    requestedBy: rotation.requestedBy,
    ...(rotation.requestId ? { requestId: rotation.requestId } : {}),
    matched: matched.leases,
    revoked: counts.revoked,
    failed: counts.failed,
    startedAt: rotation.startedAt,
    ...(rotation.completedAt ? { completedAt: rotation.completedAt } : {}),
  };
}

function serialize(rotation: Partial<EmergencyRotation>): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const [name, value] of Object.entries(rotation) as [string, unknown][]) {
    if (value === undefined) continue;
    if (name === 'selector') fields[name] = JSON.stringify(value);
    else if (typeof value === 'boolean') fields[name] = value ? '1' : '0';
    else if (typeof value === 'string' || typeof value === 'number') fields[name] = String(value);
  }
  return fields;
}
