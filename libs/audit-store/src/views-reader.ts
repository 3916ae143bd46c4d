import { entityOf, type AuditViewsReader, type EventIndexKind, type HashFields, type LivingKind } from '@rotor/audit-chain';
import type { AuditRecord } from '@rotor/contracts';

import type { AuditDatabase } from './audit-database';

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

const FILTERS: EventIndexKind[] = ['lease', 'secret', 'workload', 'actor'];

/** Reads the views in PostgreSQL: every query below runs on an index (see the migration). */
export class PgAuditViews implements AuditViewsReader {
  constructor(private readonly db: AuditDatabase) {}

  async members(set: string, maxScore?: number): Promise<string[]> {
    const { rows } = await this.db.pool.query<{ member: string }>(
      `SELECT member FROM members WHERE set = $1 AND ($2::float8 IS NULL OR score <= $2) ORDER BY score, member`,
      [set, maxScore ?? null],
    );
    return rows.map((row) => row.member);
  }

  async scoredMembers(set: string): Promise<[string, number][]> {
    const { rows } = await this.db.pool.query<{ member: string; score: number }>(
      'SELECT member, score FROM members WHERE set = $1 ORDER BY score, member',
      [set],
    );
    return rows.map((row) => [row.member, row.score]);
  }

  async entities(keys: string[]): Promise<HashFields[]> {
    if (keys.length === 0) return [];
    const refs = keys.map(entityOf);
    const { rows } = await this.db.pool.query<{ kind: string; id: string; fields: HashFields }>(
      `SELECT e.kind, e.id, e.fields FROM entities e JOIN unnest($1::text[], $2::text[]) AS k(kind, id) ON e.kind = k.kind AND e.id = k.id`,
      [refs.map((ref) => ref.kind), refs.map((ref) => ref.id)],
    );
    const found = new Map(rows.map((row) => [`${row.kind}:${row.id}`, row.fields]));
    return keys.map((key) => ({ ...(found.get(key) ?? {}) }));
  }

  async liveAt(kind: LivingKind, at: number): Promise<{ id: string; fields: HashFields }[]> {
    const { rows } = await this.db.pool.query<{ id: string; fields: HashFields }>(
      `SELECT id, fields FROM entities WHERE kind = $1 AND int8range(live_from, live_to) @> $2::bigint
          AND kind IN ('lease', 'copy', 'version') ORDER BY id`,
      [kind, at],
    );
    return rows;
  }

  async workloadLeasesLiveAt(workload: string, at: number): Promise<{ id: string; fields: HashFields }[]> {
    // Leases not ended by `at` (an index range on live_to), then those begun by then.
    const { rows } = await this.db.pool.query<{ id: string; fields: HashFields }>(
      `SELECT id, fields FROM entities
        WHERE kind = 'lease' AND workload = $1 AND (live_to > $2 OR live_to IS NULL) AND (live_from <= $2 OR live_from IS NULL)
        ORDER BY live_from, id`,
      [workload, at],
    );
    return rows;
  }

  /** The audit timeline: records naming all the given lease, secret, workload and operator, by time. */
  async events(query: EventQuery): Promise<{ items: AuditRecord[]; total: number }> {
    const filters = FILTERS.filter((kind) => query[kind] !== undefined);
    const params: unknown[] = [query.from?.toISOString() ?? null, query.to?.toISOString() ?? null];
    const time = (alias: string) => `($1::timestamptz IS NULL OR ${alias}.at >= $1) AND ($2::timestamptz IS NULL OR ${alias}.at <= $2)`;
    let from: string;
    let where: string;
    if (filters.length === 0) {
      from = 'records r';
      where = time('r');
    } else {
      // The most selective index first; the others are checked against the records it yields.
      const [first, ...others] = filters;
      params.push(first, query[first!]);
      from = 'record_keys k JOIN records r ON r.chain = k.chain AND r.seq = k.seq AND r.at = k.at';
      where = `k.kind = $3 AND k.value = $4 AND ${time('k')}`;
      for (const kind of others) {
        params.push(kind, query[kind]);
        where +=
          ` AND EXISTS (SELECT 1 FROM record_keys o WHERE o.kind = $${params.length - 1} AND o.value = $${params.length}` +
          ' AND o.at = r.at AND o.chain = r.chain AND o.seq = r.seq)';
      }
    }
    const [{ rows: count }, { rows }] = await Promise.all([
      this.db.pool.query<{ total: string }>(`SELECT count(*) AS total FROM ${from} WHERE ${where}`, params),
      this.db.pool.query<{ record: AuditRecord }>(
        // The order of the indexes it reads (record_keys' key, records (at, chain, seq)): a page reads only its rows, never sorts them all.
        `SELECT r.record FROM ${from} WHERE ${where} ORDER BY ${filters.length ? 'k' : 'r'}.at, ${filters.length ? 'k' : 'r'}.chain, ${filters.length ? 'k' : 'r'}.seq OFFSET $${params.length + 1} LIMIT $${params.length + 2}`,
        [...params, query.offset, query.limit],
      ),
    ]);
    return { items: rows.map((row) => row.record), total: Number(count[0]!.total) };
  }
}
