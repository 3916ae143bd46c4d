import { Inject, Injectable } from '@nestjs/common';

import { DomainError } from '@rotor/errors';
import { REDIS } from '@rotor/nest-redis';
import type { Redis } from '@rotor/redis-store';

import type { EmergencyScope, EmergencyState } from './emergency.store';

/**
 * The runs of one scope by start time (a sorted set, score = `startedAt` in ms), for the
 * lists. The records keep their own TTL (7 days after they finish); an entry whose record
 * has expired is dropped when a list or the start-up migration meets it.
 */
export const runIndexKey = (scope: EmergencyScope) => `revoker:emergency-runs:{${scope}}`;

export interface RunPageRequest {
  state?: EmergencyState;
  after?: string;
  limit: number;
}

/** What the page walker needs of one run: its id and state, or undefined when its record is gone. */
export type RunSummary = { id: string; state: EmergencyState } | undefined;

/**
 * Walks ids newest first from `start` (`read` gives a slice of the index), keeps those whose
 * record exists and whose state matches, until one more than `limit` is found (so it knows
 * a next page exists) or the index ends. Returns the page's ids, the cursor for the next
 * page (the last id of this one), and the ids whose records are gone.
 */
export async function collectRunPage(options: {
  start: number;
  limit: number;
  state?: EmergencyState;
  read: (start: number, count: number) => Promise<string[]>;
  load: (ids: string[]) => Promise<RunSummary[]>;
}): Promise<{ ids: string[]; next?: string; gone: string[] }> {
  const { limit, state, read, load } = options;
  const ids: string[] = [];
  const gone: string[] = [];
  // Without a filter every live entry counts: read a little more than a page at a time.
  const chunk = state ? Math.max(100, limit * 2) : limit + 1;
  for (let start = options.start; ids.length <= limit; start += chunk) {
    const slice = await read(start, chunk);
    const runs = await load(slice);
    slice.forEach((id, index) => {
      const run = runs[index];
      if (!run) gone.push(id);
      else if (ids.length <= limit && (!state || run.state === state)) ids.push(id);
    });
    if (slice.length < chunk) break;
  }
  return ids.length > limit ? { ids: ids.slice(0, limit), next: ids[limit - 1]!, gone } : { ids, gone };
}

@Injectable()
export class EmergencyIndex {
  constructor(@Inject(REDIS) private readonly redis: Redis) {}

  /** Idempotent (NX): a repeated start, or the migration, never moves an entry. */
  async add(scope: EmergencyScope, id: string, startedAt: string): Promise<void> {
    await this.redis.zadd(runIndexKey(scope), 'NX', new Date(startedAt).getTime(), id);
  }

  async remove(scope: EmergencyScope, ids: string[]): Promise<void> {
    if (ids.length) await this.redis.zrem(runIndexKey(scope), ...ids);
  }

  /**
   * One page of ids, newest first (ties by id), from after `after`. `after` must name an
   * entry still in the index: a cursor whose run has expired cannot be placed.
   */
  async page(
    scope: EmergencyScope,
    request: RunPageRequest,
    load: (ids: string[]) => Promise<RunSummary[]>,
  ): Promise<{ ids: string[]; next?: string }> {
    const key = runIndexKey(scope);
    let start = 0;
    if (request.after) {
      const rank = await this.redis.zrevrank(key, request.after);
      if (rank === null)
        throw new DomainError('invalid', 'unknown-cursor', 'after: names no run in the list (expired?); start again without it', {
          field: 'after',
        });
      start = rank + 1;
    }
    const page = await collectRunPage({
      start,
      limit: request.limit,
      ...(request.state ? { state: request.state } : {}),
      read: (from, count) => this.redis.zrevrange(key, from, from + count - 1),
      load,
    });
    await this.remove(scope, page.gone);
    return page.next ? { ids: page.ids, next: page.next } : { ids: page.ids };
  }
}
