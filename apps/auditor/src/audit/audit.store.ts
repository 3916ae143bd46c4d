import { Inject, Injectable } from '@nestjs/common';

import { headCommand, projectRecord, recordRef, SCRIPT_LOADS, ViewKeys, type ChainHead, type ViewCommand } from '@rotor/audit-chain';
import type { AuditRecord } from '@rotor/contracts';
import { REDIS } from '@rotor/nest-redis';
import { execTransaction, scanKeys, serversOf, type Redis } from '@rotor/redis-store';

export interface StoredHead extends ChainHead {
  sourceOffset: bigint;
}

export interface AppendState {
  /** False when Redis lost the auditor's state (wiped): the chain heads must be rebuilt first. */
  initialized: boolean;
  head?: StoredHead;
  /** The event ids, of those asked about, that already have a record. */
  seen: Set<string>;
}

export type Reservation = 'ok' | 'moved' | `pending:${string}`;

/**
 * Claims the next seqs of a chain for a run of records before they are produced. Only a writer
 * that saw the current head can claim them, so a replica that lost its partition (a zombie)
 * cannot fork the chain. A run that starts with the same record as an unconfirmed one (the
 * same messages after a crash, perhaps batched differently) may claim again: records are built
 * only from the messages and the head, so the two runs agree where they overlap.
 * A claim from before batches has no pendingFirst: its one record was first and last.
 */
const RESERVE_SCRIPT = `
local head = redis.call('HMGET', KEYS[1], 'hash', 'pendingHash', 'pendingOffset', 'pendingFirst')
if (head[1] or '') ~= ARGV[1] then return 'moved' end
local pendingFirst = head[4] or head[2]
if pendingFirst and pendingFirst ~= ARGV[2] then return 'pending:' .. head[3] end
redis.call('HSET', KEYS[1], 'pendingFirst', ARGV[2], 'pendingHash', ARGV[3], 'pendingOffset', ARGV[4])
return 'ok'`;

export interface EventQuery {
  lease?: string;
  workload?: string;
  secret?: string;
  /** Already a pseudonym: operator subjects are stored hashed. */
  actor?: string;
  from?: Date;
  to?: Date;
  offset: number;
  limit: number;
}

/** The auditor's Redis: chain heads, the dedupe set, and the query views, all rebuildable from the audit topic. */
@Injectable()
export class AuditStore {
  private scriptsLoaded = false;
  private readonly reserveCommand: (
    key: string,
    expected: string,
    firstHash: string,
    lastHash: string,
    lastSourceOffset: string,
  ) => Promise<Reservation>;

  constructor(@Inject(REDIS) private readonly redis: Redis) {
    // defineCommand runs it by EVALSHA, loading it when Redis does not know it.
    redis.defineCommand('auditorReserve', { numberOfKeys: 1, lua: RESERVE_SCRIPT });
    const withReserve = redis as Redis & { auditorReserve: AuditStore['reserveCommand'] };
    this.reserveCommand = (...args) => withReserve.auditorReserve(...args);
  }

  /** One snapshot: the state marker, the chain's head, and which of these events were recorded already. */
  async appendState(chain: string, eventIds: readonly string[]): Promise<AppendState> {
    const transaction = this.redis.multi().exists(ViewKeys.marker).hgetall(ViewKeys.head(chain));
    for (const eventId of eventIds) transaction.exists(ViewKeys.seen(eventId));
    const results = await execTransaction(transaction);
    const fields = results[1] as Record<string, string>;
    const head: StoredHead | undefined = fields['hash']
      ? { seq: Number(fields['seq']), hash: fields['hash'], sourceOffset: BigInt(fields['sourceOffset'] ?? '-1') }
      : undefined;
    const seen = new Set(eventIds.filter((_id, index) => results[index + 2] === 1));
    return { initialized: results[0] === 1, head, seen };
  }

  /** The source event time of a chain's record, when Redis holds it. */
  async recordedAt(chain: string, seq: number): Promise<Date | undefined> {
    const value = await this.redis.get(ViewKeys.record(recordRef({ chain, seq })));
    return value ? new Date((JSON.parse(value) as AuditRecord).recordedAt) : undefined;
  }

  /** Whether any chain head is stored: state written before the marker existed. */
  async hasAnyChainHead(): Promise<boolean> {
    for await (const _head of scanKeys(this.redis, ViewKeys.head('*'), 1000)) return true;
    return false;
  }

  /** Marks Redis as holding the auditor's state. */
  async markInitialized(): Promise<void> {
    await this.redis.set(ViewKeys.marker, new Date().toISOString(), 'NX');
  }

  /** Claims the seqs of consecutive records of one chain, `records[0]` continuing the current head. */
  async reserve(records: readonly AuditRecord[]): Promise<Reservation> {
    const first = records[0]!;
    const last = records[records.length - 1]!;
    const expected = first.seq === 0 ? '' : first.prev;
    return this.reserveCommand(ViewKeys.head(first.chain), expected, first.hash, last.hash, last.sourceOffset);
  }

  /**
   * One transaction: the records in every view, their events marked seen, and the chain head
   * moved to the last. Every command is idempotent, so after NOSCRIPT (a restarted Redis) it
   * simply runs again.
   */
  async recordAppended(records: readonly AuditRecord[]): Promise<void> {
    const commands: ViewCommand[] = [
      ...records.flatMap((record) => projectRecord(record)),
      headCommand(records[records.length - 1]!),
      // Not idempotent, and need not be: it only brings the next checkpoint forward.
      ['incrby', ViewKeys.checkpointAppended, records.length],
    ];
    if (!this.scriptsLoaded) await this.loadScripts();
    try {
      await this.exec(commands);
    } catch (error) {
      if (!(error instanceof Error && error.message.includes('NOSCRIPT'))) throw error;
      await this.loadScripts();
      await this.exec(commands);
    }
  }

  private async loadScripts(): Promise<void> {
    // EVALSHA runs on the master of its keys' slot: on Redis Cluster every master must know the scripts
    // (a keyless SCRIPT LOAD reaches one node; a promoted replica knows none, hence NOSCRIPT -> again).
    await Promise.all(
      (await serversOf(this.redis)).map(async (server) => {
        const failed = (await server.pipeline(SCRIPT_LOADS).exec())?.find(([error]) => error);
        if (failed?.[0]) throw failed[0];
      }),
    );
    this.scriptsLoaded = true;
  }

  private async exec(commands: ViewCommand[]): Promise<void> {
    await execTransaction(this.redis.multi(commands));
  }

  async query(query: EventQuery): Promise<{ items: AuditRecord[]; total: number }> {
    // The most selective index first; the other filters are checked on the records it yields.
    const key = query.lease
      ? ViewKeys.eventIndex('lease', query.lease)
      : query.secret
        ? ViewKeys.eventIndex('secret', query.secret)
        : query.workload
          ? ViewKeys.eventIndex('workload', query.workload)
          : query.actor
            ? ViewKeys.eventIndex('actor', query.actor)
            : ViewKeys.eventIndex('all');
    const min = query.from ? String(query.from.getTime()) : '-inf';
    const max = query.to ? String(query.to.getTime()) : '+inf';
    const candidates = await this.redis.zrangebyscore(key, min, max);
    const others = (['lease', 'secret', 'workload', 'actor'] as const).filter(
      (kind) => query[kind] && ViewKeys.eventIndex(kind, query[kind]) !== key,
    );
    let refs = candidates;
    for (const kind of others) {
      if (refs.length === 0) break;
      const scores = await this.redis.zmscore(ViewKeys.eventIndex(kind, query[kind]), ...refs);
      refs = refs.filter((_ref, index) => scores[index] !== null);
    }
    const page = refs.slice(query.offset, query.offset + query.limit);
    const values = page.length ? await this.redis.mget(page.map(ViewKeys.record)) : [];
    return {
      items: values.filter((value): value is string => !!value).map((value) => JSON.parse(value) as AuditRecord),
      total: refs.length,
    };
  }
}
