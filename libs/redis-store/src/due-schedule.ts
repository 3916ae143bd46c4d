import { createHash } from 'node:crypto';

import type { Redis } from './redis-connection';
import { execTransaction } from './transaction';

/**
 * Moves due members of one shard to its in-flight set with a visibility deadline, after
 * first returning in-flight members whose deadline passed (a crashed claimer's work).
 * KEYS: due, inflight. ARGV: now, limit, deadline.
 */
const CLAIM_DUE = `
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, 1000)
for _, member in ipairs(expired) do
  redis.call('ZREM', KEYS[2], member)
  redis.call('ZADD', KEYS[1], ARGV[1], member)
end
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(due) do
  redis.call('ZREM', KEYS[1], member)
  redis.call('ZADD', KEYS[2], ARGV[3], member)
end
return due
`;

/**
 * Finishes a claim only if the member is still ours (still in-flight); a rescheduled member
 * (renewed lease) was moved back to due and stays there.
 * KEYS: due, inflight. ARGV: member.
 */
const COMPLETE = `return redis.call('ZREM', KEYS[2], ARGV[1])`;

/** Reschedules a member whatever its state; cancels any claim on it. KEYS: due, inflight. ARGV: member, dueAt. */
const SCHEDULE = `
redis.call('ZREM', KEYS[2], ARGV[1])
return redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
`;

/** Adds a member only if it is neither due nor in flight. KEYS: due, inflight. ARGV: member, dueAt. */
const SCHEDULE_IF_ABSENT = `
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then return 0 end
return redis.call('ZADD', KEYS[1], 'NX', ARGV[2], ARGV[1])
`;

const SCRIPTS = {
  rotorDueSchedule: SCHEDULE,
  rotorDueScheduleIfAbsent: SCHEDULE_IF_ABSENT,
  rotorDueClaim: CLAIM_DUE,
  rotorDueComplete: COMPLETE,
};
type ScheduleCommands = Record<keyof typeof SCRIPTS, (due: string, inflight: string, ...args: (string | number)[]) => Promise<unknown>>;

export interface DueScheduleOptions {
  /** Key prefix owned by one service, e.g. `revoker:schedule:lease-expiry`. */
  prefix: string;
  /** Shards spread one schedule across Redis Cluster slots; keys of a shard share a hash tag. */
  shards?: number;
}

/**
 * A schedule of work by due time, in sorted sets: no timer per item, nothing to restore
 * at start-up. Claims are atomic, so several replicas never take the same item, and a
 * claim not completed by its deadline returns to the queue.
 */
export class DueSchedule {
  private readonly shards: number;

  constructor(
    private readonly redis: Redis,
    private readonly options: DueScheduleOptions,
  ) {
    this.shards = options.shards ?? 1;
    if (!Number.isInteger(this.shards) || this.shards < 1) throw new Error('shards must be a positive integer');
    // As commands: EVALSHA (ioredis loads a script on NOSCRIPT), so a call no longer sends its
    // source. Defined here, before any use: an auto-pipeline made earlier in the same tick would lack them.
    for (const [name, lua] of Object.entries(SCRIPTS)) if (!(name in redis)) redis.defineCommand(name, { numberOfKeys: 2, lua });
  }

  private get scripts(): ScheduleCommands {
    return this.redis as unknown as ScheduleCommands;
  }

  async schedule(member: string, dueAtMs: number): Promise<void> {
    const [due, inflight] = this.keysOf(member);
    await this.scripts.rotorDueSchedule(due, inflight, member, dueAtMs);
  }

  /** Schedules a member unless it is already scheduled or claimed; true when it was added. */
  async scheduleIfAbsent(member: string, dueAtMs: number): Promise<boolean> {
    const [due, inflight] = this.keysOf(member);
    return (await this.scripts.rotorDueScheduleIfAbsent(due, inflight, member, dueAtMs)) === 1;
  }

  async cancel(member: string): Promise<void> {
    const [due, inflight] = this.keysOf(member);
    await execTransaction(this.redis.multi().zrem(due, member).zrem(inflight, member));
  }

  /** Claims up to `limit` members due at `nowMs`, across shards; each must be completed within `visibilityMs`. */
  async claimDue({ nowMs, limit, visibilityMs }: { nowMs: number; limit: number; visibilityMs: number }): Promise<string[]> {
    const claimed: string[] = [];
    for (let shard = 0; shard < this.shards && claimed.length < limit; shard++) {
      const [due, inflight] = this.shardKeys(shard);
      const members = (await this.scripts.rotorDueClaim(due, inflight, nowMs, limit - claimed.length, nowMs + visibilityMs)) as string[];
      claimed.push(...members);
    }
    return claimed;
  }

  /** Marks a claimed member done. Returns false when the claim was lost (it expired or was rescheduled). */
  async complete(member: string): Promise<boolean> {
    const [due, inflight] = this.keysOf(member);
    return (await this.scripts.rotorDueComplete(due, inflight, member)) === 1;
  }

  /**
   * Brings a scheduled member's due time forward to `dueAtMs`; a member not waiting (claimed,
   * completed, or already due sooner) is left as it is. True when it moved.
   */
  async advance(member: string, dueAtMs: number): Promise<boolean> {
    const [due] = this.keysOf(member);
    return (await this.redis.zadd(due, 'XX', 'LT', 'CH', dueAtMs, member)) === 1;
  }

  async dueAt(member: string): Promise<number | null> {
    const [due] = this.keysOf(member);
    const score = await this.redis.zscore(due, member);
    return score === null ? null : Number(score);
  }

  async size(): Promise<{ due: number; inflight: number }> {
    let due = 0;
    let inflight = 0;
    for (let shard = 0; shard < this.shards; shard++) {
      const [dueKey, inflightKey] = this.shardKeys(shard);
      due += await this.redis.zcard(dueKey);
      inflight += await this.redis.zcard(inflightKey);
    }
    return { due, inflight };
  }

  /** Members due by `nowMs` and not claimed (a backlog), and members claimed and not yet completed, across shards. */
  async backlog(nowMs: number): Promise<{ due: number; inflight: number }> {
    let due = 0;
    let inflight = 0;
    for (let shard = 0; shard < this.shards; shard++) {
      const [dueKey, inflightKey] = this.shardKeys(shard);
      due += await this.redis.zcount(dueKey, '-inf', nowMs);
      inflight += await this.redis.zcard(inflightKey);
    }
    return { due, inflight };
  }

  private keysOf(member: string): [string, string] {
    return this.shardKeys(this.shardOf(member));
  }

  private shardOf(member: string): number {
    return this.shards === 1 ? 0 : createHash('sha1').update(member).digest().readUInt32BE(0) % this.shards;
  }

  private shardKeys(shard: number): [string, string] {
    const tag = `{${this.options.prefix}:s${shard}}`;
    return [`${tag}:due`, `${tag}:inflight`];
  }
}
