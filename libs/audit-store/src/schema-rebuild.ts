import type { AuditRecord } from '@rotor/contracts';
import { Client } from 'pg';

import { AuditDatabase, LIVE_SCHEMA } from './audit-database';
import { ChainState, StateMarkers } from './chain-state';
import { ViewWriter } from './view-writer';

export const REBUILD_SCHEMA = 'audit_rebuild';

/**
 * `rotor audit replay --rebuild`: the views built again from the audit topic alone, into a fresh
 * schema while the auditor keeps appending to the live one, then switched in:
 * 1. `begin`: an empty schema, migrated; `write` fills it as the topic is read.
 * 2. `lockLive`: the live chain heads are locked, so the auditor's appends wait (a few seconds);
 *    the caller reads the topic's tail, what was appended meanwhile, into the new schema.
 * 3. `complete`: marks the new schema initialized with the checkpoint numbering, renames it to
 *    the live name in the same transaction, and drops the old one. An append that met the lock
 *    waited at its first statement (ViewWriter locks `chains` first) and then lands in the new
 *    schema, its records being in the topic and so in the tail too (written twice, idempotently).
 *    Were one to land in the old schema anyway, the appender's chain repair restores it from
 *    the topic.
 * `abandon` leaves the live schema as it was.
 */
export class SchemaRebuild {
  readonly writer: ViewWriter;
  private readonly chains: ChainState;
  private admin?: Client;
  private liveExists = false;

  private constructor(
    private readonly url: string,
    private readonly target: AuditDatabase,
  ) {
    this.writer = new ViewWriter(target);
    this.chains = new ChainState(target);
  }

  static async begin(url: string): Promise<SchemaRebuild> {
    const target = AuditDatabase.open({ url, schema: REBUILD_SCHEMA, statementTimeoutMs: 300_000, max: 4 });
    await target.pool.query(`DROP SCHEMA IF EXISTS ${REBUILD_SCHEMA} CASCADE`);
    await target.migrate();
    return new SchemaRebuild(url, target);
  }

  write(records: readonly AuditRecord[]): Promise<void> {
    return this.writer.write(records);
  }

  async lockLive(): Promise<void> {
    this.admin = new Client({ connectionString: this.url, application_name: 'rotor-audit-rebuild' });
    this.admin.on('error', () => undefined);
    await this.admin.connect();
    await this.admin.query('BEGIN');
    const { rowCount } = await this.admin.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [LIVE_SCHEMA]);
    this.liveExists = (rowCount ?? 0) > 0;
    if (this.liveExists) await this.admin.query(`LOCK TABLE ${LIVE_SCHEMA}.chains IN ACCESS EXCLUSIVE MODE`);
  }

  async complete(checkpointNumber: number): Promise<{ replacedLive: boolean }> {
    if (!this.admin) throw new Error('lockLive() first');
    if (checkpointNumber > 0) await this.chains.setCheckpointNumber(checkpointNumber);
    await this.chains.setMarker(StateMarkers.initialized);
    // Nothing of the previous layout remains to be moved: the topic held everything it held.
    await this.chains.setMarker(StateMarkers.redisLayoutCleared);
    await this.target.close();
    const replaced = `audit_replaced_${Date.now()}`;
    if (this.liveExists) await this.admin.query(`ALTER SCHEMA ${LIVE_SCHEMA} RENAME TO ${replaced}`);
    await this.admin.query(`ALTER SCHEMA ${REBUILD_SCHEMA} RENAME TO ${LIVE_SCHEMA}`);
    await this.admin.query('COMMIT');
    if (this.liveExists) await this.admin.query(`DROP SCHEMA ${replaced} CASCADE`);
    await this.admin.end();
    this.admin = undefined;
    return { replacedLive: this.liveExists };
  }

  async abandon(): Promise<void> {
    await this.admin?.query('ROLLBACK').catch(() => undefined);
    await this.admin?.end().catch(() => undefined);
    this.admin = undefined;
    await this.target.pool.query(`DROP SCHEMA IF EXISTS ${REBUILD_SCHEMA} CASCADE`).catch(() => undefined);
    await this.target.close().catch(() => undefined);
  }
}
