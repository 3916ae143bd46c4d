import { escapeIdentifier, type Pool } from 'pg';

const BATCH = 100;

export interface DropReport {
  /** Names asked for that existed and were dropped. */
  dropped: number;
  /** Names that did not exist (never created, or already dropped). */
  absent: number;
  /** Names still present afterwards, with the last error. */
  failed: { role: string; error: string }[];
}

const existing = async (pool: Pool, names: readonly string[]): Promise<string[]> =>
  names.length === 0
    ? []
    : (await pool.query<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE rolname = ANY($1)', [names])).rows.map(
        (row) => row.rolname,
      );

/**
 * Drops exactly the named roles that exist: `DROP OWNED BY` (which also revokes their
 * privileges on shared objects such as the database) and `DROP ROLE`, in batches, one
 * statement at a time. GRANT/REVOKE on one database row from concurrent sessions can fail
 * with "tuple concurrently updated", so a failed batch is retried, then done role by role.
 */
export async function dropRoles(pool: Pool, names: readonly string[]): Promise<DropReport> {
  const unique = [...new Set(names)];
  const present: string[] = [];
  for (let i = 0; i < unique.length; i += 1000) present.push(...(await existing(pool, unique.slice(i, i + 1000))));
  const report: DropReport = { dropped: 0, absent: unique.length - present.length, failed: [] };

  const dropBatch = async (batch: string[]): Promise<void> => {
    const list = batch.map(escapeIdentifier).join(', ');
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`DROP OWNED BY ${list}`);
      await client.query(`DROP ROLE ${list}`);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  };

  const withRetries = async (batch: string[]): Promise<string | undefined> => {
    let last = '';
    for (let attempt = 0; attempt < 4; attempt++) {
      try {
        await dropBatch(batch);
        return undefined;
      } catch (error) {
        last = (error as Error).message;
        await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt));
      }
    }
    return last;
  };

  for (let i = 0; i < present.length; i += BATCH) {
    const batch = present.slice(i, i + BATCH);
    if ((await withRetries(batch)) === undefined) {
      report.dropped += batch.length;
      continue;
    }
    // One by one: a role someone else dropped meanwhile must not keep the others alive.
    const stillThere = await existing(pool, batch);
    report.absent += batch.length - stillThere.length;
    for (const role of stillThere) {
      const error = await withRetries([role]);
      if (error === undefined) report.dropped++;
      else report.failed.push({ role, error });
    }
  }
  return report;
}

/** How many of the named roles still exist. */
export async function countExisting(pool: Pool, names: readonly string[]): Promise<number> {
  let count = 0;
  const unique = [...new Set(names)];
  for (let i = 0; i < unique.length; i += 1000) count += (await existing(pool, unique.slice(i, i + 1000))).length;
  return count;
}
