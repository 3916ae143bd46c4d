import {
  entityOf,
  LEASE_FILTER_FIELDS,
  type AuditViewsReader,
  type EventIndexKind,
  type HashFields,
  type LeaseFilter,
  type LivingKind,
} from '@rotor/audit-chain';
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

/** A lease's state at the time in `at` (a parameter, ms), from its fields as the projection writes them (times in ms, `irrevocable` as "<ms>|true"). */
const msField = (name: string) => `nullif(fields->>'${name}', '')::bigint`;
const leaseStateSql = (at: string) => `(CASE
  WHEN ${msField('revokedAt')} <= ${at} THEN 'revoked'
  WHEN split_part(fields->>'irrevocable', '|', 2) = 'true' AND ${msField('expiresAt')} <= ${at} THEN 'irrevocable'
  WHEN ${msField('expiresAt')} <= ${at} THEN 'expired'
  ELSE 'active' END)`;

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

  /**
   * Leases by field and by state at `at`, a page in id order. The state is worked out as
   * leaseView does (revoked, then irrevocable once expired, then expired, else active).
   */
  async leases(filter: LeaseFilter, { at, after, limit }: { at: number; after?: string; limit: number }) {
    const params: unknown[] = [];
    const where = ["kind = 'lease'"];
    for (const [name, field] of Object.entries(LEASE_FILTER_FIELDS)) {
      const value = filter[name as keyof typeof LEASE_FILTER_FIELDS];
      if (value === undefined) continue;
      params.push(field, value);
      where.push(`fields->>($${params.length - 1}::text) = $${params.length}::text`);
    }
    if (filter.state) {
      params.push(at, filter.state);
      where.push(`${leaseStateSql(`$${params.length - 1}::bigint`)} = $${params.length}::text`);
    }
    if (after !== undefined) {
      params.push(after);
      where.push(`id COLLATE "C" > $${params.length}::text`);
    }
    params.push(limit);
    const { rows } = await this.db.pool.query<{ id: string; fields: HashFields }>(
      `SELECT id, fields FROM entities WHERE ${where.join(' AND ')} ORDER BY id COLLATE "C" LIMIT $${params.length}`,
      params,
    );
    return rows;
  }

  /** The audit timeline: records naming all the given lease, secret, workload and operator, by time. */
  async events(query: EventQuery): Promise<{ items: AuditRecord[]; total: number }> {
    const filters = FILTERS.filter((kind) => query[kind] !== undefined);
    const params: unknown[] = [query.from?.toISOString() ?? null, query.to?.toISOString() ?? null];
    const time = (alias: string) => `($1::timestamptz IS NULL OR ${alias}.at >= $1) AND ($2::timestamptz IS NULL OR ${alias}.at <= $2)`;
    // The timeline index alone finds the page and the total (the most selective filter first, the
    // others checked against its rows); only the page's records are then read. Both follow the
    // indexes' order (record_keys' key, records (at, chain, seq)), so nothing sorts every match.
    let keys: string;
    if (filters.length === 0) {
      keys = `SELECT r.at, r.chain, r.seq FROM records r WHERE ${time('r')}`;
    } else {
      const [first, ...others] = filters;
      params.push(first, query[first!]);
      keys = `SELECT k.at, k.chain, k.seq FROM record_keys k WHERE k.kind = $3 AND k.value = $4 AND ${time('k')}`;
      for (const kind of others) {
        params.push(kind, query[kind]);
        keys +=
          ` AND EXISTS (SELECT 1 FROM record_keys o WHERE o.kind = $${params.length - 1} AND o.value = $${params.length}` +
          ' AND o.at = k.at AND o.chain = k.chain AND o.seq = k.seq)';
      }
    }
    const [{ rows: count }, { rows }] = await Promise.all([
      this.db.pool.query<{ total: string }>(`SELECT count(*) AS total FROM (${keys}) AS matched`, params),
      this.db.pool.query<{ record: AuditRecord }>(
        `WITH page AS (${keys} ORDER BY 1, 2, 3 OFFSET $${params.length + 1} LIMIT $${params.length + 2})
         SELECT r.record FROM page p JOIN records r ON r.at = p.at AND r.chain = p.chain AND r.seq = p.seq ORDER BY p.at, p.chain, p.seq`,
        [...params, query.offset, query.limit],
      ),
    ]);
    return { items: rows.map((row) => row.record), total: Number(count[0]!.total) };
  }
}
