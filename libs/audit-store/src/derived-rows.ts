import type { Pool } from 'pg';

/**
 * The tables the auditor derives from the audit topic (a rebuild writes them all again), with
 * what identifies a row and the columns that must come out the same.
 */
const DERIVED_TABLES: Record<string, { key: string; columns: string }> = {
  chains: { key: 'chain', columns: 'seq, hash, source_offset, pending_first, pending_hash, pending_offset' },
  seen: { key: 'event_id', columns: 'chain, seq' },
  records: { key: "chain || ':' || seq", columns: 'at, event_id, event_type, record::text AS record' },
  record_keys: { key: "kind || ':' || value || '@' || chain || ':' || seq", columns: 'at' },
  entities: { key: "kind || ':' || id", columns: 'fields, live_from, live_to' },
  members: { key: "set || ' ' || member", columns: 'score' },
};

/**
 * Every row of the derived tables, keyed `<table> <row key>`, its other columns as JSON: two
 * copies of the views (live and rebuilt) are equal when these maps are.
 */
export async function derivedRows(pool: Pool): Promise<Map<string, string>> {
  const rows = new Map<string, string>();
  for (const [table, { key, columns }] of Object.entries(DERIVED_TABLES)) {
    const result = await pool.query<{ key: string }>(`SELECT ${key} AS key, ${columns} FROM ${table}`);
    for (const { key: id, ...values } of result.rows) rows.set(`${table} ${id}`, JSON.stringify(values));
  }
  return rows;
}

/** How two sets of derived rows differ, one line per row; empty when they are equal. */
export function derivedRowDifferences(live: Map<string, string>, copy: Map<string, string>): string[] {
  const differences: string[] = [];
  for (const [row, value] of live)
    if (copy.get(row) !== value) differences.push(`${row}: ${copy.has(row) ? 'differs' : 'missing from the rebuild'}`);
  for (const row of copy.keys()) if (!live.has(row)) differences.push(`${row}: only in the rebuild`);
  return differences;
}
