import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { runner } from 'node-pg-migrate';
import { escapeIdentifier, Pool, type PoolClient } from 'pg';

/** The schema holding the live views; a rebuild fills another, then takes this name (see switchSchema). */

/** node-pg-migrate's refusal while another process holds its advisory lock. */
const MIGRATION_LOCKED = /Another migration is already running/;
/** Longer than any migration rotor ships takes on a small database. */
const MIGRATION_LOCK_WAIT_MS = 120_000;
export const LIVE_SCHEMA = 'audit';
const MIGRATIONS_DIR = join(__dirname, '..', 'migrations');

/**
 * Set by the bundled CLI (tools/cli-build) for `rotor audit replay --rebuild`: the migrations' SQL
 * by file name, since a single-file bundle has no migrations directory beside it.
 */
declare const ROTOR_AUDIT_MIGRATIONS: Record<string, string> | undefined;

/** Runs `run` on the migrations directory: this library's, or the bundle's written to a private temporary one. */
async function withMigrationsDir<T>(run: (dir: string) => Promise<T>): Promise<T> {
  if (typeof ROTOR_AUDIT_MIGRATIONS === 'undefined') return run(MIGRATIONS_DIR);
  const dir = await mkdtemp(join(tmpdir(), 'rotor-migrations-'));
  try {
    for (const [name, sql] of Object.entries(ROTOR_AUDIT_MIGRATIONS)) await writeFile(join(dir, name), sql, { mode: 0o600 });
    return await run(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface AuditDatabaseSettings {
  /** The auditor's own database and role (ROTOR_AUDIT_DATABASE_URL), never a credential backend's admin connection. */
  url: string;
  schema?: string;
  /** Bounds each statement (server side, and the client's wait for its answer). */
  statementTimeoutMs?: number;
  /** Bounds each wait for a connection (default: the statement bound). */
  connectTimeoutMs?: number;
  max?: number;
}

/** SQLSTATEs of a transaction that lost a race and may simply run again. */
const RETRYABLE = new Set(['40001', '40P01']);

/**
 * The auditor's PostgreSQL: a pool whose sessions resolve names in one schema. Statements are
 * unnamed (parsed each time), so a schema switched under a running auditor is seen at once.
 */
export class AuditDatabase {
  readonly schema: string;

  private constructor(
    readonly pool: Pool,
    schema: string,
  ) {
    this.schema = schema;
  }

  static open(settings: AuditDatabaseSettings): AuditDatabase {
    const schema = settings.schema ?? LIVE_SCHEMA;
    const timeout = settings.statementTimeoutMs ?? 30_000;
    const pool = new Pool({
      connectionString: settings.url,
      max: settings.max ?? 10,
      connectionTimeoutMillis: settings.connectTimeoutMs ?? timeout,
      statement_timeout: timeout,
      query_timeout: timeout + 1_000,
      options: `-c search_path=${escapeIdentifier(schema)}`,
      application_name: 'rotor-auditor',
    });
    // A dropped connection surfaces as the failure of the query in flight (retried by the caller).
    pool.on('error', () => undefined);
    pool.on('connect', (client) => client.on('error', () => undefined));
    return new AuditDatabase(pool, schema);
  }

  /** Creates the schema if needed and runs the migrations it lacks (versioned in libs/audit-store/migrations). */
  async migrate(log: (message: string) => void = () => undefined): Promise<string[]> {
    // The runner takes an advisory lock without waiting for it: a replica that starts while
    // another migrates waits for it here, then finds nothing left to apply.
    const deadline = Date.now() + MIGRATION_LOCK_WAIT_MS;
    for (let pause = 100; ; pause = Math.min(pause * 2, 2_000)) {
      try {
        return await this.migrateOnce(log);
      } catch (error) {
        if (!MIGRATION_LOCKED.test((error as Error).message) || Date.now() >= deadline) throw error;
        log(`another replica is migrating the audit database; trying again in ${pause} ms`);
        await new Promise((resolve) => setTimeout(resolve, pause));
      }
    }
  }

  private async migrateOnce(log: (message: string) => void): Promise<string[]> {
    const client = await this.pool.connect();
    try {
      const applied = await withMigrationsDir((dir) =>
        runner({
          dbClient: client,
          dir,
          direction: 'up',
          migrationsTable: 'schema_migrations',
          schema: this.schema,
          createSchema: true,
          checkOrder: true,
          noLock: false,
          log,
          logger: { debug: () => undefined, info: log, warn: log, error: log },
        }),
      );
      return applied.map((migration) => migration.name);
    } finally {
      client.release();
    }
  }

  /** Runs `work` in one transaction, again (up to 3 times) when it lost a deadlock or serialization race. */
  async transaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      let failed = false;
      try {
        await client.query('BEGIN');
        const result = await work(client);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        failed = true;
        await client.query('ROLLBACK').catch(() => undefined);
        if (attempt >= 3 || !RETRYABLE.has((error as { code?: string }).code ?? '')) throw error;
      } finally {
        // A connection that failed mid-transaction is not handed out again.
        client.release(failed);
      }
    }
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
