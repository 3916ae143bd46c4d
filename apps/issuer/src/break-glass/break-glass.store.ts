import { Inject, Injectable } from '@nestjs/common';

import { REDIS } from '@rotor/nest-redis';
import type { Redis } from '@rotor/redis-store';

/** How long a record outlives its access: DELETE and GET still find it for a week. */
export const BREAK_GLASS_RECORD_RETENTION_MS = 7 * 86_400_000;
/** How long an Idempotency-Key names the access it opened: re-running the same command within a day finds it. */
export const BREAK_GLASS_IDEMPOTENCY_TTL_MS = 86_400_000;

const recordKey = (id: string) => `issuer:breakglass:${id}`;
export const BREAK_GLASS_RECORD_PATTERN = 'issuer:breakglass:*';
/** Outside BREAK_GLASS_RECORD_PATTERN on purpose: the start-up migrations read every key it matches as a record. */
export const BREAK_GLASS_INDEX_KEY = 'issuer:breakglass-index';
/** Per subject: the same key sent by another SRE is theirs. Encoded, so a `:` in either cannot make two pairs collide. */
export const breakGlassIdempotencyKey = (subject: string, key: string) =>
  `issuer:breakglass-idempotency:${encodeURIComponent(subject)}:${encodeURIComponent(key)}`;

/**
 * What the issuer keeps of a break-glass access: never a value. Records written before issue 16
 * hold `expiresAt`, `secrets` and `roleLeaseId` only; previous replicas read no more than those.
 */
export interface BreakGlassRecord {
  expiresAt: string;
  secrets: string[];
  roleLeaseId?: string;
  role?: string;
  requestedBy?: string;
  reason?: string;
  ticket?: string;
  openedAt?: string;
  /** Set by an early end (DELETE) before the expiry. */
  endedAt?: string;
}

/** ZADD, and the index lives as long as its longest-lived record (a persistent key counts as shorter). KEYS: index. ARGV: score, id, expireAtMs. */
const INDEX_ADD = `
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
if redis.call('PEXPIRETIME', KEYS[1]) < tonumber(ARGV[3]) then redis.call('PEXPIREAT', KEYS[1], ARGV[3]) end
return 1
`;
/** DEL only while the key still names this request's access. KEYS: key. ARGV: id. */
const RELEASE_IF_OWNED = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

export interface BreakGlassPageRequest {
  limit: number;
  after?: string;
  matches: (record: BreakGlassRecord) => boolean;
}

/**
 * Break-glass records (`issuer:breakglass:<id>`), their index for listing, newest first
 * (`issuer:breakglass-index`, a sorted set scored by opening time), and the Idempotency-Keys of
 * `POST /v1/break-glass`. Records live in their own slots, so each is read with its own command.
 */
@Injectable()
export class BreakGlassStore {
  constructor(@Inject(REDIS) private readonly redis: Redis) {}

  async create(id: string, record: BreakGlassRecord, openedAtMs: number): Promise<void> {
    const expireAtMs = Date.parse(record.expiresAt) + BREAK_GLASS_RECORD_RETENTION_MS;
    await this.redis.set(recordKey(id), JSON.stringify(record), 'PXAT', expireAtMs);
    await this.index(id, openedAtMs, expireAtMs);
  }

  /** Rewrites an existing record, keeping its TTL; a record already gone stays gone. */
  async update(id: string, record: BreakGlassRecord): Promise<void> {
    await this.redis.set(recordKey(id), JSON.stringify(record), 'KEEPTTL', 'XX');
  }

  async get(id: string): Promise<BreakGlassRecord | undefined> {
    const text = await this.redis.get(recordKey(id));
    return text ? (JSON.parse(text) as BreakGlassRecord) : undefined;
  }

  async index(id: string, score: number, expireAtMs: number): Promise<void> {
    await this.redis.eval(INDEX_ADD, 1, BREAK_GLASS_INDEX_KEY, String(score), id, String(expireAtMs));
  }

  async isIndexed(id: string): Promise<boolean> {
    return (await this.redis.zscore(BREAK_GLASS_INDEX_KEY, id)) !== null;
  }

  /** The record's remaining life, for indexing a record written before the index. */
  async expireTimeMs(id: string): Promise<number | undefined> {
    const at = await this.redis.pexpiretime(recordKey(id));
    return at > 0 ? at : undefined;
  }

  /**
   * Newest first, from just after `after` (an id of a previous page); records that no longer exist
   * are dropped from the index as they are met. `undefined` when `after` is not in the index.
   */
  async page({
    limit,
    after,
    matches,
  }: BreakGlassPageRequest): Promise<{ items: [string, BreakGlassRecord][]; next?: string } | undefined> {
    let start = 0;
    if (after !== undefined) {
      const rank = await this.redis.zrevrank(BREAK_GLASS_INDEX_KEY, after);
      if (rank === null) return undefined;
      start = rank + 1;
    }
    const batch = Math.max(limit, 50);
    const items: [string, BreakGlassRecord][] = [];
    for (;;) {
      const ids = await this.redis.zrange(BREAK_GLASS_INDEX_KEY, start, start + batch - 1, 'REV');
      if (ids.length === 0) return { items };
      const records = await Promise.all(ids.map((id) => this.get(id)));
      const gone: string[] = [];
      for (const [index, id] of ids.entries()) {
        const record = records[index];
        if (!record) {
          gone.push(id);
          continue;
        }
        if (!matches(record)) continue;
        items.push([id, record]);
        if (items.length === limit) {
          if (gone.length > 0) await this.redis.zrem(BREAK_GLASS_INDEX_KEY, ...gone);
          const after = await this.redis.zrevrank(BREAK_GLASS_INDEX_KEY, id);
          const more = after !== null && (await this.redis.zcard(BREAK_GLASS_INDEX_KEY)) > after + 1;
          return { items, ...(more ? { next: id } : {}) };
        }
      }
      // The members removed sat before the next batch: its ranks move down by as many.
      if (gone.length > 0) await this.redis.zrem(BREAK_GLASS_INDEX_KEY, ...gone);
      start += ids.length - gone.length;
    }
  }

  /**
   * Binds an Idempotency-Key of this subject to `id` for a day, atomically: of concurrent requests
   * with the same key, one gets `undefined` and opens; the others get the id it bound.
   */
  async claimKey(subject: string, key: string, id: string): Promise<string | undefined> {
    const redisKey = breakGlassIdempotencyKey(subject, key);
    if ((await this.redis.set(redisKey, id, 'PX', BREAK_GLASS_IDEMPOTENCY_TTL_MS, 'NX')) === 'OK') return undefined;
    // Released between the two calls (the first request failed): this one may try again.
    return (await this.redis.get(redisKey)) ?? this.claimKey(subject, key, id);
  }

  /** Frees a key whose request opened nothing, so that a retry can; a key bound to another request is left alone. */
  async releaseKey(subject: string, key: string, id: string): Promise<void> {
    await this.redis.eval(RELEASE_IF_OWNED, 1, breakGlassIdempotencyKey(subject, key), id);
  }
}
