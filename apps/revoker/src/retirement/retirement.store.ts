import { Inject, Injectable } from '@nestjs/common';

import { REDIS } from '@rotor/nest-redis';
import { DueSchedule, execTransaction, type Redis } from '@rotor/redis-store';

export type RetirementReason = 'superseded' | 'grace-period-ended' | 'emergency';

/** A version to retire now for a reason that does not wait (`emergencyId`: the emergency rotation that asked). */
export interface ForcedRetirement {
  secret: string;
  version: number;
  reason: RetirementReason;
  emergencyId?: string;
}

/** The revoker's durable record of one old version waiting to be retired. */
export interface Retirement {
  secret: string;
  version: number;
  gsmVersion: string;
  /** The version that supersedes it (0 when retirement was asked for directly). */
  newVersion: number;
  graceEndsAt: number;
  /** Delivery targets the catalog listed when the new version was created. */
  targets: number;
  /** Targets that have not yet confirmed the new version. */
  pending: string[];
  state: 'pending' | 'retired';
  /** Set when retirement must not wait (emergency); otherwise the reason follows from confirmations. */
  forcedReason?: RetirementReason;
  emergencyId?: string;
  /** The trace of the rotation that superseded it: the retirement continues it (absent when tracing is off). */
  traceparent?: string;
}

/**
 * All keys of one secret share the hash tag `{secret}`, so the scripts below touch a single
 * Redis Cluster slot: the record and pending targets of each old version, the set of open
 * retirements, and the highest version each target has confirmed.
 */
const tag = (secret: string) => `revoker:retirement:{${secret}}`;
const recordKey = (secret: string, version: number) => `${tag(secret)}:v${version}`;
const pendingKey = (secret: string, version: number) => `${recordKey(secret, version)}:pending`;
const openKey = (secret: string) => `${tag(secret)}:open`;
const confirmedKey = (secret: string) => `${tag(secret)}:confirmed`;
/** Set once the revoker accepted a version of the secret: its versions stay retirable after the catalog drops it. */
const knownKey = (secret: string) => `${tag(secret)}:known`;
/** Retired records are kept a while so a replayed version-created does not open them again. */
const KEEP_RETIRED_SECONDS = 7 * 86_400;

/**
 * Creates the record unless it exists. Targets that already confirmed the new version (their
 * confirmation was read first: another topic) are not pending.
 * KEYS: record, pending, open, confirmed. ARGV: version, gsmVersion, newVersion, graceEndsAt,
 * forcedReason, emergencyId, secret, targets…  Returns {created, state, pendingCount}.
 */
const OPEN = `
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {0, redis.call('HGET', KEYS[1], 'state'), redis.call('SCARD', KEYS[2])}
end
redis.call('HSET', KEYS[1], 'secret', ARGV[7], 'version', ARGV[1], 'gsmVersion', ARGV[2], 'newVersion', ARGV[3], 'graceEndsAt', ARGV[4], 'targets', #ARGV - 7, 'state', 'pending')
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'forcedReason', ARGV[5]) end
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'emergencyId', ARGV[6]) end
local newVersion = tonumber(ARGV[3])
for i = 8, #ARGV do
  if tonumber(redis.call('HGET', KEYS[4], ARGV[i]) or '0') < newVersion then redis.call('SADD', KEYS[2], ARGV[i]) end
end
redis.call('SADD', KEYS[3], ARGV[1])
return {1, 'pending', redis.call('SCARD', KEYS[2])}
`;

/** Raises a target's confirmed version, never lowers it. KEYS: confirmed. ARGV: target, version. */
const CONFIRM = `
local current = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if tonumber(ARGV[2]) > current then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return 1
`;

/**
 * Removes a confirmed target from one open retirement if the confirmation covers its new
 * version. KEYS: record, pending. ARGV: target, confirmedVersion. Returns 1 when that left
 * nothing pending (and the record has targets), i.e. it may be retired now.
 */
const SETTLE = `
if redis.call('HGET', KEYS[1], 'state') ~= 'pending' then return 0 end
if tonumber(redis.call('HGET', KEYS[1], 'newVersion')) > tonumber(ARGV[2]) then return 0 end
redis.call('SREM', KEYS[2], ARGV[1])
if tonumber(redis.call('HGET', KEYS[1], 'targets')) > 0 and redis.call('SCARD', KEYS[2]) == 0 then return 1 end
return 0
`;

@Injectable()
export class RetirementStore {
  /** Grace-period ends and retirements due now; members are `secret:version`. */
  readonly schedule: DueSchedule;

  constructor(@Inject(REDIS) private readonly redis: Redis) {
    this.schedule = new DueSchedule(redis, { prefix: 'revoker:schedule:retirement' });
  }

  static member(secret: string, version: number): string {
    return `${secret}:${version}`;
  }

  static parseMember(member: string): { secret: string; version: number } {
    const at = member.lastIndexOf(':');
    return { secret: member.slice(0, at), version: Number(member.slice(at + 1)) };
  }

  /** Records that the secret is rotor's: a version of it was accepted from a version-created event. */
  async remember(secret: string): Promise<void> {
    await this.redis.set(knownKey(secret), '1');
  }

  /**
   * True when the revoker's records know the secret: a version it accepted, an open retirement,
   * or a target's confirmation (the latter two also cover records written before `known` existed).
   */
  async knows(secret: string): Promise<boolean> {
    return (await this.redis.exists(knownKey(secret), openKey(secret), confirmedKey(secret))) > 0;
  }

  /** Opens a retirement (idempotent). Returns whether it is new, its state and how many targets are pending. */
  async open(entry: {
    secret: string;
    version: number;
    gsmVersion: string;
    newVersion: number;
    graceEndsAt: number;
    targets: string[];
    forcedReason?: RetirementReason;
    emergencyId?: string;
  }): Promise<{ created: boolean; state: Retirement['state']; pending: number }> {
    const [created, state, pending] = (await this.redis.eval(
      OPEN,
      4,
      recordKey(entry.secret, entry.version),
      pendingKey(entry.secret, entry.version),
      openKey(entry.secret),
      confirmedKey(entry.secret),
      entry.version,
      entry.gsmVersion,
      entry.newVersion,
      entry.graceEndsAt,
      entry.forcedReason ?? '',
      entry.emergencyId ?? '',
      entry.secret,
      ...entry.targets,
    )) as [number, string, number];
    return { created: created === 1, state: state as Retirement['state'], pending };
  }

  /**
   * Records that `target` holds `version` (or newer) and settles every open retirement of the
   * secret that this covers. Returns the old versions that now have every target confirmed.
   */
  async confirm(secret: string, target: string, version: number): Promise<number[]> {
    await this.redis.eval(CONFIRM, 1, confirmedKey(secret), target, version);
    // Read after the confirmation is stored: a retirement opened concurrently either sees
    // the confirmation (OPEN reads it) or is already in the open set here.
    const open = (await this.redis.smembers(openKey(secret))).map(Number);
    const ready: number[] = [];
    for (const old of open) {
      const settled = (await this.redis.eval(SETTLE, 2, recordKey(secret, old), pendingKey(secret, old), target, version)) as number;
      if (settled === 1) ready.push(old);
    }
    return ready;
  }

  /** The highest version each target confirmed. */
  async confirmed(secret: string): Promise<Record<string, number>> {
    const fields = await this.redis.hgetall(confirmedKey(secret));
    return Object.fromEntries(Object.entries(fields).map(([target, version]) => [target, Number(version)]));
  }

  /** Makes an open retirement due now for a reason that does not wait (emergency). */
  async force({ secret, version, reason, emergencyId }: ForcedRetirement): Promise<void> {
    const tx = this.redis.multi().hset(recordKey(secret, version), 'forcedReason', reason);
    if (emergencyId) tx.hsetnx(recordKey(secret, version), 'emergencyId', emergencyId);
    await execTransaction(tx);
  }

  async get(secret: string, version: number): Promise<Retirement | undefined> {
    const [fields, pending] = await Promise.all([
      this.redis.hgetall(recordKey(secret, version)),
      this.redis.smembers(pendingKey(secret, version)),
    ]);
    if (!fields['gsmVersion']) return undefined;
    return {
      secret,
      version,
      gsmVersion: fields['gsmVersion'],
      newVersion: Number(fields['newVersion']),
      graceEndsAt: Number(fields['graceEndsAt']),
      targets: Number(fields['targets']),
      pending,
      state: fields['state'] as Retirement['state'],
      ...(fields['forcedReason'] ? { forcedReason: fields['forcedReason'] as RetirementReason } : {}),
      ...(fields['emergencyId'] ? { emergencyId: fields['emergencyId'] } : {}),
      ...(fields['traceparent'] ? { traceparent: fields['traceparent'] } : {}),
    };
  }

  /** Keeps the trace a newly opened retirement continues (a field of its record, gone with it). */
  async keepTrace(secret: string, version: number, traceparent: string): Promise<void> {
    await this.redis.hset(recordKey(secret, version), 'traceparent', traceparent);
  }

  async markRetired({
    secret,
    version,
    reason,
    at,
  }: {
    secret: string;
    version: number;
    reason: RetirementReason;
    at: Date;
  }): Promise<void> {
    await execTransaction(
      this.redis
        .multi()
        .hset(recordKey(secret, version), { state: 'retired', reason, retiredAt: at.toISOString() })
        .expire(recordKey(secret, version), KEEP_RETIRED_SECONDS)
        .del(pendingKey(secret, version))
        .srem(openKey(secret), String(version)),
    );
  }
}
