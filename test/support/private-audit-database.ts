import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Client } from 'pg';

import { AuditDatabase } from '@rotor/audit-store';

import { insecureStack, principalEnv } from './principals';
import { requiredEnv } from './services-env';

/**
 * A database of the suite's own on the stack's PostgreSQL, owned by the auditor's role
 * (rotor_auditor), so that suites running at once never share chain heads or views. Created as
 * the stack's admin (DATABASE_URL), reached as the auditor, as in production.
 */
export class PrivateAuditDatabase {
  readonly name = `rotor_audit_t${randomBytes(5).toString('hex')}`;
  private file?: string;
  private databases: AuditDatabase[] = [];

  /** The auditor's URL for this database. */
  get url(): string {
    const base = new URL(auditorBaseUrl());
    base.pathname = `/${this.name}`;
    return base.toString();
  }

  async create(): Promise<this> {
    await adminQuery(`CREATE DATABASE ${this.name} OWNER rotor_auditor`);
    await adminQuery(`REVOKE CONNECT, TEMPORARY ON DATABASE ${this.name} FROM PUBLIC`);
    this.file = join(mkdtempSync(join(tmpdir(), 'rotor-audit-db-')), 'audit-database.url');
    writeFileSync(this.file, `${this.url}\n`, { mode: 0o600 });
    return this;
  }

  /** What a ServiceProcess (or the CLI) needs to use it. */
  env(): Record<string, string> {
    return { ROTOR_AUDIT_DATABASE_URL_FILE: this.file! };
  }

  /** A connection of the test's own, in the live schema (or another), migrated. */
  async open(schema?: string): Promise<AuditDatabase> {
    const db = AuditDatabase.open({ url: this.url, schema, max: 4 });
    this.databases.push(db);
    await db.migrate();
    return db;
  }

  async drop(): Promise<void> {
    await Promise.all(this.databases.map((db) => db.close().catch(() => undefined)));
    await adminQuery(`DROP DATABASE IF EXISTS ${this.name} WITH (FORCE)`);
  }
}

function auditorBaseUrl(): string {
  if (insecureStack()) return 'postgres://rotor_auditor:rotor_auditor@127.0.0.1:5432/rotor_audit';
  const file = principalEnv('auditor')['ROTOR_AUDIT_DATABASE_URL_FILE'];
  if (!file) throw new Error('.rotor/service-env/auditor.env names no ROTOR_AUDIT_DATABASE_URL_FILE: run scripts/services-up.sh');
  return readFileSync(file, 'utf8').trim();
}

async function adminQuery(sql: string): Promise<void> {
  const client = new Client({ connectionString: requiredEnv('DATABASE_URL') });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
