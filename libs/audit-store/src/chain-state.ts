import type { ChainHead } from '@rotor/audit-chain';
import type { AuditRecord } from '@rotor/contracts';

import type { AuditDatabase } from './audit-database';

export interface StoredHead extends ChainHead {
  sourceOffset: bigint;
}

export interface AppendState {
  /** False when the database lost the auditor's state (or never had it): see the appender. */
  initialized: boolean;
  head?: StoredHead;
  /** The event ids, of those asked about, that already have a record. */
  seen: Set<string>;
}

export type Reservation = 'ok' | 'moved' | `pending:${string}`;

export interface CheckpointState {
  /** The auditor's state marker is present (absent: the state was lost, or a rebuild is running). */
  initialized: boolean;
  /** The last checkpoint number taken (written or not). */
  number?: number;
  /** When the last checkpoint was written. */
  issuedAt?: string;
  /** Records appended since it. */
  appended: number;
}

export const StateMarkers = {
  initialized: 'initialized',
  /** The previous layout (the auditor's state in Redis) was removed after the move here. */
  redisLayoutCleared: 'redis-layout-cleared',
} as const;

/**
 * The auditor's chain heads, dedupe marks, markers and checkpoint bookkeeping in PostgreSQL
 * (the views are the ViewWriter's). Reservations and head moves are the SQL functions of the
 * migration, so each is one atomic statement whatever the number of replicas.
 */
export class ChainState {
  constructor(private readonly db: AuditDatabase) {}

  /** One snapshot: the state marker, the chain's head, and which of these events were recorded already. */
  async appendState(chain: string, eventIds: readonly string[]): Promise<AppendState> {
    const { rows } = await this.db.pool.query<{
      initialized: boolean;
      seq: string | null;
      hash: string | null;
      source_offset: string | null;
      seen: string[] | null;
    }>(
      `SELECT EXISTS (SELECT 1 FROM state WHERE name = $3) AS initialized,
              c.seq, c.hash, c.source_offset,
              (SELECT array_agg(event_id) FROM seen WHERE event_id = ANY($2::text[])) AS seen
         FROM (SELECT 1) AS one LEFT JOIN chains c ON c.chain = $1`,
      [chain, eventIds, StateMarkers.initialized],
    );
    const row = rows[0]!;
    const head: StoredHead | undefined =
      row.hash && row.seq !== null ? { seq: Number(row.seq), hash: row.hash, sourceOffset: BigInt(row.source_offset ?? '-1') } : undefined;
    return { initialized: row.initialized, head, seen: new Set(row.seen ?? []) };
  }

  /** Claims the seqs of consecutive records of one chain, `records[0]` continuing the current head. */
  async reserve(records: readonly AuditRecord[]): Promise<Reservation> {
    const first = records[0]!;
    const last = records[records.length - 1]!;
    const expected = first.seq === 0 ? '' : first.prev;
    const { rows } = await this.db.pool.query<{ outcome: Reservation }>('SELECT reserve_chain($1, $2, $3, $4, $5) AS outcome', [
      first.chain,
      expected,
      first.hash,
      last.hash,
      last.sourceOffset,
    ]);
    return rows[0]!.outcome;
  }

  /** The source event time of a chain's record, when the views hold it. */
  async recordedAt(chain: string, seq: number): Promise<Date | undefined> {
    const { rows } = await this.db.pool.query<{ recorded_at: string }>(
      `SELECT record->>'recordedAt' AS recorded_at FROM records WHERE chain = $1 AND seq = $2 LIMIT 1`,
      [chain, seq],
    );
    return rows[0] ? new Date(rows[0].recorded_at) : undefined;
  }

  async hasMarker(name: string): Promise<boolean> {
    const { rowCount } = await this.db.pool.query('SELECT 1 FROM state WHERE name = $1', [name]);
    return (rowCount ?? 0) > 0;
  }

  async setMarker(name: string, value = new Date().toISOString()): Promise<void> {
    await this.db.pool.query('INSERT INTO state (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [name, value]);
  }

  async clearMarker(name: string): Promise<void> {
    await this.db.pool.query('DELETE FROM state WHERE name = $1', [name]);
  }

  /** Whether any chain has a head: state written before the marker existed. */
  async hasAnyChainHead(): Promise<boolean> {
    const { rowCount } = await this.db.pool.query('SELECT 1 FROM chains WHERE hash IS NOT NULL LIMIT 1');
    return (rowCount ?? 0) > 0;
  }

  /** Every chain's confirmed head: its records are all in Kafka (a head moves only after the produce). */
  async heads(): Promise<(ChainHead & { chain: string })[]> {
    const { rows } = await this.db.pool.query<{ chain: string; seq: string; hash: string }>(
      `SELECT chain, seq, hash FROM chains WHERE hash IS NOT NULL ORDER BY chain COLLATE "C"`,
    );
    return rows.map((row) => ({ chain: row.chain, seq: Number(row.seq), hash: row.hash }));
  }

  async checkpointState(): Promise<CheckpointState> {
    const { rows } = await this.db.pool.query<{ initialized: boolean; number: string | null; issued_at: string | null; appended: string }>(
      `SELECT EXISTS (SELECT 1 FROM state WHERE name = $1) AS initialized, c.number, c.issued_at, coalesce(c.appended, 0) AS appended
         FROM (SELECT 1) AS one LEFT JOIN checkpoint_state c ON true`,
      [StateMarkers.initialized],
    );
    const row = rows[0]!;
    return {
      initialized: row.initialized,
      ...(row.number !== null ? { number: Number(row.number) } : {}),
      ...(row.issued_at ? { issuedAt: row.issued_at } : {}),
      appended: Number(row.appended),
    };
  }

  /**
   * Takes the next checkpoint number before anything is written, so a checkpoint retried after
   * a crash gets a new number and never contradicts one already in the log. `floor` is the
   * highest number known elsewhere (the copy outside Kafka) when the database lost its own.
   */
  async nextCheckpointNumber(floor: () => Promise<number>): Promise<number> {
    await this.ensureCheckpointRow();
    const state = await this.checkpointState();
    if (state.number === undefined) {
      await this.db.pool.query('UPDATE checkpoint_state SET number = $1 WHERE number IS NULL', [await floor()]);
    }
    const { rows } = await this.db.pool.query<{ number: string }>('UPDATE checkpoint_state SET number = number + 1 RETURNING number');
    return Number(rows[0]!.number);
  }

  /** Carries the checkpoint numbering over (a move from another store, or a rebuild). */
  async setCheckpointNumber(number: number, issuedAt?: string): Promise<void> {
    await this.ensureCheckpointRow();
    await this.db.pool.query(
      'UPDATE checkpoint_state SET number = GREATEST(coalesce(number, 0), $1), issued_at = coalesce($2, issued_at)',
      [number, issuedAt ?? null],
    );
  }

  /** The checkpoint is written: it is the last, and the records it covers no longer count towards the next. */
  async checkpointWritten(issuedAt: string, appendedBefore: number): Promise<void> {
    await this.db.pool.query('UPDATE checkpoint_state SET issued_at = $1, appended = GREATEST(appended - $2, 0)', [
      issuedAt,
      appendedBefore,
    ]);
  }

  /** The one bookkeeping row (gone with everything else when the state was wiped). */
  private async ensureCheckpointRow(): Promise<void> {
    await this.db.pool.query('INSERT INTO checkpoint_state DEFAULT VALUES ON CONFLICT DO NOTHING');
  }

  /** A lock that expires by itself (a signer that died lets the next one sign after `ttlMs`). */
  async tryLock(name: string, token: string, ttlMs: number): Promise<boolean> {
    const { rowCount } = await this.db.pool.query(
      `INSERT INTO locks (name, token, expires_at) VALUES ($1, $2, now() + $3 * interval '1 millisecond')
       ON CONFLICT (name) DO UPDATE SET token = EXCLUDED.token, expires_at = EXCLUDED.expires_at
        WHERE locks.expires_at < now()`,
      [name, token, ttlMs],
    );
    return (rowCount ?? 0) > 0;
  }

  async unlock(name: string, token: string): Promise<void> {
    await this.db.pool.query('DELETE FROM locks WHERE name = $1 AND token = $2', [name, token]);
  }

  /** Forgets event ids recorded before `before` (the dedupe window); returns how many. */
  async pruneSeen(before: Date, batch = 10_000): Promise<number> {
    let total = 0;
    for (;;) {
      const { rowCount } = await this.db.pool.query('DELETE FROM seen WHERE ctid IN (SELECT ctid FROM seen WHERE seen_at < $1 LIMIT $2)', [
        before,
        batch,
      ]);
      total += rowCount ?? 0;
      if ((rowCount ?? 0) < batch) return total;
    }
  }
}
