import { Inject, Injectable } from '@nestjs/common';

import { ViewKeys, type ChainHead } from '@rotor/audit-chain';
import { REDIS } from '@rotor/nest-redis';
import { allKeys, execTransaction, type Redis } from '@rotor/redis-store';

export interface CheckpointState {
  /** The auditor's state marker is present (absent: Redis lost it, or a rebuild is running). */
  initialized: boolean;
  /** The last checkpoint number taken (written or not). */
  number?: number;
  /** When the last checkpoint was written. */
  issuedAt?: string;
  /** Records appended since it. */
  appended: number;
}

const UNLOCK_SCRIPT = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/**
 * The auditor's checkpoint bookkeeping in its Redis: the last checkpoint, the records since,
 * and a lock so one replica at a time signs (the heads of every chain, whoever appends them).
 */
@Injectable()
export class CheckpointStore {
  constructor(@Inject(REDIS) private readonly redis: Redis) {}

  async state(): Promise<CheckpointState> {
    const results = await execTransaction(
      this.redis.multi().exists(ViewKeys.marker).hmget(ViewKeys.checkpoint, 'number', 'issuedAt').get(ViewKeys.checkpointAppended),
    );
    const [number, issuedAt] = results[1] as (string | null)[];
    return {
      initialized: results[0] === 1,
      ...(number ? { number: Number(number) } : {}),
      ...(issuedAt ? { issuedAt } : {}),
      appended: Number(results[2] ?? 0),
    };
  }

  async tryLock(token: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(ViewKeys.checkpointLock, token, 'PX', ttlMs, 'NX')) === 'OK';
  }

  async unlock(token: string): Promise<void> {
    await this.redis.eval(UNLOCK_SCRIPT, 1, ViewKeys.checkpointLock, token);
  }

  /**
   * Takes the next checkpoint number before anything is written, so a checkpoint retried after
   * a crash gets a new number and never contradicts one already in the log. `floor` is the
   * highest number known elsewhere (the copy outside Kafka) when Redis lost its own.
   */
  async nextNumber(floor: () => Promise<number>): Promise<number> {
    if (!(await this.redis.hexists(ViewKeys.checkpoint, 'number'))) await this.redis.hsetnx(ViewKeys.checkpoint, 'number', await floor());
    return this.redis.hincrby(ViewKeys.checkpoint, 'number', 1);
  }

  /** Every chain's confirmed head: its records are all in Kafka (a head moves only after the produce). */
  async heads(): Promise<(ChainHead & { chain: string })[]> {
    const keys = await allKeys(this.redis, ViewKeys.head('*'), 1000);
    if (keys.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const key of keys) pipeline.hmget(key, 'seq', 'hash');
    const results = (await pipeline.exec()) ?? [];
    const prefix = ViewKeys.head('');
    return keys
      .map((key, index) => {
        const [seq, hash] = results[index]![1] as (string | null)[];
        return { chain: key.slice(prefix.length), seq: Number(seq), hash: hash ?? '' };
      })
      .filter((head) => head.hash !== '')
      .sort((a, b) => (a.chain < b.chain ? -1 : a.chain > b.chain ? 1 : 0));
  }

  /** The checkpoint is written: it is the last, and the records it covers no longer count towards the next. */
  async written(issuedAt: string, appendedBefore: number): Promise<void> {
    await execTransaction(
      this.redis.multi().hset(ViewKeys.checkpoint, 'issuedAt', issuedAt).decrby(ViewKeys.checkpointAppended, appendedBefore),
    );
  }
}
