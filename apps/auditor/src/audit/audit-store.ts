import { Inject, Injectable } from '@nestjs/common';

import type { ChainHead } from '@rotor/audit-chain';
import type { AuditRecord } from '@rotor/contracts';
import { REDIS } from '@rotor/nest-redis';
import type { Redis } from '@rotor/redis-store';

import type { AuditEntry } from './audit-entry';

const SEEN_TTL_SECONDS = 30 * 86_400;

const headKey = (chain: string) => `auditor:chain:${chain}`;
const seenKey = (eventId: string) => `auditor:seen:${eventId}`;
const recordKey = (ref: string) => `auditor:record:${ref}`;
const indexKey = (kind: 'all' | 'lease' | 'workload' | 'secret', value = '') => (kind === 'all' ? 'auditor:idx:all' : `auditor:idx:${kind}:${value}`);

export interface StoredHead extends ChainHead {
  sourceOffset: bigint;
}

interface StoredRecord {
  record: AuditRecord;
  index: AuditEntry['index'];
}

export interface EventQuery {
  lease?: string;
  workload?: string;
  secret?: string;
  from?: Date;
  to?: Date;
  offset: number;
  limit: number;
}

/** The auditor's Redis: chain heads, the dedupe set, and query views, all rebuildable from the audit topic. */
@Injectable()
export class AuditStore {
  constructor(@Inject(REDIS) private readonly redis: Redis) {}

  async head(chain: string): Promise<StoredHead | undefined> {
    const fields = await this.redis.hgetall(headKey(chain));
    if (!fields['hash']) return undefined;
    return { seq: Number(fields['seq']), hash: fields['hash'], sourceOffset: BigInt(fields['sourceOffset'] ?? '-1') };
  }

  async seen(eventId: string): Promise<boolean> {
    return (await this.redis.exists(seenKey(eventId))) === 1;
  }

  /** One transaction: the new head, the event marked seen, and the record in every view. */
  async recordAppended(record: AuditRecord, entry: AuditEntry): Promise<void> {
    const ref = `${record.chain}|${record.seq}`;
    const score = entry.occurredAt.getTime();
    const tx = this.redis
      .multi()
      .hset(headKey(record.chain), { seq: String(record.seq), hash: record.hash, sourceOffset: record.sourceOffset })
      .set(seenKey(record.eventId), ref, 'EX', SEEN_TTL_SECONDS)
      .set(recordKey(ref), JSON.stringify({ record, index: entry.index } satisfies StoredRecord))
      .zadd(indexKey('all'), score, ref);
    entry.index.leases.forEach((lease) => tx.zadd(indexKey('lease', lease), score, ref));
    entry.index.workloads.forEach((workload) => tx.zadd(indexKey('workload', workload), score, ref));
    entry.index.secrets.forEach((secret) => tx.zadd(indexKey('secret', secret), score, ref));
    const results = await tx.exec();
    const failed = results?.find(([error]) => error);
    if (!results || failed) throw failed?.[0] ?? new Error('Redis transaction aborted');
  }

  async query(query: EventQuery): Promise<{ items: AuditRecord[]; total: number }> {
    // The most selective index first; the other filters are checked on the records it yields.
    const key = query.lease
      ? indexKey('lease', query.lease)
      : query.secret
        ? indexKey('secret', query.secret)
        : query.workload
          ? indexKey('workload', query.workload)
          : indexKey('all');
    const min = query.from ? String(query.from.getTime()) : '-inf';
    const max = query.to ? String(query.to.getTime()) : '+inf';
    const refs = await this.redis.zrangebyscore(key, min, max);
    const stored = (await this.loadRecords(refs)).filter((entry) => matches(entry, query));
    return { items: stored.slice(query.offset, query.offset + query.limit).map((entry) => entry.record), total: stored.length };
  }

  private async loadRecords(refs: string[]): Promise<StoredRecord[]> {
    if (refs.length === 0) return [];
    const values = await this.redis.mget(refs.map(recordKey));
    return values.filter((value): value is string => !!value).map((value) => JSON.parse(value) as StoredRecord);
  }
}

const matches = ({ index }: StoredRecord, query: EventQuery): boolean =>
  (!query.lease || index.leases.includes(query.lease)) &&
  (!query.secret || index.secrets.includes(query.secret)) &&
  (!query.workload || index.workloads.includes(query.workload));
