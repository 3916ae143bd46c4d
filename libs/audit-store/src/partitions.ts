import type { Pool, PoolClient } from 'pg';

/** The time-partitioned tables: one partition per UTC month of the records' event time. */
export const PARTITIONED_TABLES = ['records', 'record_keys'] as const;

const monthStart = (ms: number): Date => {
  const d = new Date(ms);
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1));
};
const nextMonth = (d: Date): Date => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1));
const suffix = (d: Date): string => `y${d.getUTCFullYear()}m${String(d.getUTCMonth() + 1).padStart(2, '0')}`;

/** Serializes partition DDL across auditor replicas (pg_advisory_xact_lock key). */
const PARTITION_LOCK = 0x61756474; // "audt"

/**
 * Creates the monthly partitions that records at these times need, before they are written (a
 * record with no partition is refused, never put in a catch-all that later blocks new months).
 * Months known to exist are remembered per process.
 */
export class MonthlyPartitions {
  private readonly known = new Set<string>();

  constructor(private readonly pool: Pool) {}

  async ensureFor(times: readonly number[]): Promise<void> {
    const months = [...new Set(times.map((ms) => monthStart(ms).getTime()))].filter((month) => !this.known.has(suffix(new Date(month))));
    if (months.length === 0) return;
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1)', [PARTITION_LOCK]);
      for (const month of months) await createMonth(client, new Date(month));
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
    for (const month of months) this.known.add(suffix(new Date(month)));
  }

  /**
   * Detaches every month that ended before `before` from the live tables: its records leave the
   * online views but stay in the schema, as `<table>_y<year>m<month>`, for an operator to archive
   * (pg_dump) and drop. The audit topic itself keeps everything.
   */
  async detachBefore(before: number): Promise<string[]> {
    const cutoff = monthStart(before);
    const detached: string[] = [];
    for (const table of PARTITIONED_TABLES) {
      const { rows } = await this.pool.query<{ name: string }>(
        `SELECT c.relname AS name FROM pg_inherits i
           JOIN pg_class c ON c.oid = i.inhrelid
           JOIN pg_class p ON p.oid = i.inhparent
           JOIN pg_namespace n ON n.oid = p.relnamespace
          WHERE p.relname = $1 AND n.nspname = current_schema()
          ORDER BY c.relname`,
        [table],
      );
      for (const { name } of rows) {
        const match = /_y(\d{4})m(\d{2})$/.exec(name);
        if (!match) continue;
        const start = Date.UTC(Number(match[1]), Number(match[2]) - 1, 1);
        if (nextMonth(new Date(start)).getTime() > cutoff.getTime()) continue;
        await this.pool.query(`ALTER TABLE ${table} DETACH PARTITION ${name}`);
        this.known.delete(name.slice(table.length + 1));
        detached.push(name);
      }
    }
    return detached;
  }
}

async function createMonth(client: PoolClient, start: Date): Promise<void> {
  const end = nextMonth(start);
  for (const table of PARTITIONED_TABLES) {
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${table}_${suffix(start)} PARTITION OF ${table}
         FOR VALUES FROM ('${start.toISOString()}') TO ('${end.toISOString()}')`,
    );
  }
}
