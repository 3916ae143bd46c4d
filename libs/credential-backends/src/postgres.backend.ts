import { createHash, randomBytes } from 'node:crypto';

import { Pool, escapeIdentifier, escapeLiteral } from 'pg';

import type { RevocationHandle } from '@rotor/contracts';
import { DomainError } from '@rotor/errors';

import type { CredentialBackend, HandleOf, SettingsOf, IssuedCredential, IssueRequest, MintedCredential } from './credential-backend';
import { scramSha256Verifier } from './scram-verifier';

/** What went wrong in PostgreSQL, for the operators' log: SQLSTATE and message with every quoted literal masked. */
export interface PostgresFailure {
  operation: 'issue' | 'renew' | 'revoke' | 'ping' | 'group' | 'list';
  code?: string;
  message: string;
}

export interface PostgresBackendSettings {
  /** Admin connection: a role with CREATEROLE and the grants it hands out. */
  databaseUrl: string;
  /** Told every PostgreSQL failure: callers get a generic problem, the detail goes to the log. */
  onFailure?: (failure: PostgresFailure) => void;
  /**
   * Fail fast (the issuer's ROTOR_DEPENDENCY_TIMEOUT_MS): each statement is bounded on the server
   * (statement_timeout, rolled back) and on the client (a frozen server answers nothing), and so
   * is connecting. Unset: no statement bound, 3 s to connect (the revoker's patient retries).
   */
  queryTimeoutMs?: number;
}

function adminPool(databaseUrl: string, queryTimeoutMs?: number): Pool {
  const bounds = queryTimeoutMs
    ? { connectionTimeoutMillis: queryTimeoutMs, statement_timeout: queryTimeoutMs, query_timeout: queryTimeoutMs }
    : { connectionTimeoutMillis: 3_000 };
  const pool = new Pool({ connectionString: databaseUrl, max: 8, ...bounds });
  // A dropped connection surfaces as the failure of the query in flight (→ retried); its
  // 'error' event, idle or checked out, must not crash the process.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

function targetOf(databaseUrl: string): { host: string; port: number; database: string } {
  const url = new URL(databaseUrl);
  return { host: url.hostname, port: Number(url.port || 5432), database: decodeURIComponent(url.pathname.slice(1)) };
}

/** Role names are generated from the lease id only: nothing from a catalog or a request reaches them. */
export const postgresRoleName = (leaseId: string): string => `rotor_${leaseId.replace(/-/g, '')}`;

/** The lease id a lease role's name carries (the inverse of postgresRoleName). */
export const leaseIdOfPostgresRole = (role: string): string | undefined => {
  const hex = /^rotor_([0-9a-f]{32})$/.exec(role)?.[1];
  return hex && `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
};

/**
 * The NOLOGIN group role holding one grant template's privileges, named by the template's
 * hash: a changed template gets a new group. Leases join it instead of being granted
 * privileges themselves, because concurrent GRANTs on one object fail in PostgreSQL
 * ("tuple concurrently updated") while concurrent memberships do not.
 */
export const postgresGroupName = (grants: string[]): string =>
  `rotor_grants_${createHash('sha256').update(JSON.stringify(grants)).digest('hex').slice(0, 16)}`;

/** Serializes group creation across issuer replicas (pg_advisory_xact_lock key). */
const GROUP_LOCK = 0x726f746f72; // "rotor"

const ROLE_NAME = /^rotor_[0-9a-f]{32}$/;

/**
 * Real PostgreSQL roles: `CREATE ROLE … LOGIN PASSWORD '<SCRAM verifier>' VALID UNTIL …` plus the role's
 * grant template, in one transaction (all or nothing). Revocation terminates the role's
 * sessions, drops what it owns and drops it.
 */
export class PostgresBackend implements CredentialBackend<'postgres'> {
  readonly kind = 'postgres' as const;
  private pool: Pool;
  private target: { host: string; port: number; database: string };
  private readonly knownGroups = new Set<string>();
  private readonly onFailure: (failure: PostgresFailure) => void;
  private readonly queryTimeoutMs: number | undefined;

  constructor(settings: PostgresBackendSettings) {
    this.onFailure = settings.onFailure ?? (() => undefined);
    this.queryTimeoutMs = settings.queryTimeoutMs;
    this.pool = adminPool(settings.databaseUrl, settings.queryTimeoutMs);
    this.target = targetOf(settings.databaseUrl);
  }

  /**
   * Connects with a new admin URL (its file changed: a rotated admin password): new work uses it
   * at once, and the previous pool closes once its queries finish.
   */
  useDatabaseUrl(databaseUrl: string): void {
    const previous = this.pool;
    this.pool = adminPool(databaseUrl, this.queryTimeoutMs);
    this.target = targetOf(databaseUrl);
    previous.end().catch(() => undefined);
  }

  leaseHandle(leaseId: string): HandleOf<'postgres'> {
    return { backend: 'postgres', roleName: postgresRoleName(leaseId) };
  }

  async issue({ leaseId, settings, expiresAt }: IssueRequest<SettingsOf<'postgres'>>): Promise<IssuedCredential<HandleOf<'postgres'>>> {
    const group = await this.ensureGroup(settings.grants);
    const role = postgresRoleName(leaseId);
    const password = randomBytes(24).toString('base64url');
    // The verifier, never the password: DDL text can land in the server log (log_statement)
    // and pg_stat_activity, and PostgreSQL stores a SCRAM verifier as it is given.
    const verifier = await scramSha256Verifier(password);
    await this.run(
      'issue',
      `CREATE ROLE ${escapeIdentifier(role)} LOGIN PASSWORD ${escapeLiteral(verifier)} VALID UNTIL ${escapeLiteral(expiresAt.toISOString())} IN ROLE ${escapeIdentifier(group)}`,
    );
    return {
      credential: { username: role, password, host: this.target.host, port: String(this.target.port), database: this.target.database },
      handle: { backend: 'postgres', roleName: role },
    };
  }

  /** Creates the template's group role once (all grants or none), under a lock shared by every replica. */
  private async ensureGroup(grants: string[]): Promise<string> {
    const group = postgresGroupName(grants);
    if (this.knownGroups.has(group)) return group;
    await this.transaction('group', async (query) => {
      await query('SELECT pg_advisory_xact_lock($1)', [GROUP_LOCK]);
      const exists = await query('SELECT 1 FROM pg_roles WHERE rolname = $1', [group]);
      if (exists.rowCount === 1) return;
      const quotedGroup = escapeIdentifier(group);
      await query(`CREATE ROLE ${quotedGroup} NOLOGIN`);
      for (const grant of grants) await query(grant.replaceAll('{{role}}', quotedGroup));
    });
    this.knownGroups.add(group);
    return group;
  }

  async renew(handle: RevocationHandle, expiresAt: Date): Promise<void> {
    const role = roleOf(handle);
    await this.run('renew', `ALTER ROLE ${escapeIdentifier(role)} VALID UNTIL ${escapeLiteral(expiresAt.toISOString())}`);
  }

  /** Idempotent: a role that no longer exists is already revoked. */
  async revoke(handle: RevocationHandle): Promise<void> {
    const role = roleOf(handle);
    const quotedRole = escapeIdentifier(role);
    // NOLOGIN first, so no new session starts while the existing ones are terminated.
    await this.transaction('revoke', async (query) => {
      const exists = await query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
      if (exists.rowCount === 0) return;
      await query(`ALTER ROLE ${quotedRole} NOLOGIN`);
    });
    await this.run('revoke', 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [role]);
    await this.transaction('revoke', async (query) => {
      const exists = await query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
      if (exists.rowCount === 0) return;
      await query(`DROP OWNED BY ${quotedRole}`);
      await query(`DROP ROLE ${quotedRole}`);
    });
  }

  /** Lease roles only: `rotor_` and 32 hex digits (group roles are `rotor_grants_…`, the admin is `rotor`). */
  async listMinted(): Promise<MintedCredential<HandleOf<'postgres'>>[]> {
    let rows: { rolname: string }[];
    try {
      rows = (await this.pool.query<{ rolname: string }>("SELECT rolname FROM pg_roles WHERE rolname ~ '^rotor_[0-9a-f]{32}$'")).rows;
    } catch (error) {
      throw this.failed('list', error);
    }
    return rows.flatMap(({ rolname }) => {
      const leaseId = leaseIdOfPostgresRole(rolname);
      return leaseId ? [{ leaseId, handle: { backend: 'postgres' as const, roleName: rolname } }] : [];
    });
  }

  async ping(): Promise<void> {
    await this.run('ping', 'SELECT 1');
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  /** Logs the detail and gives the caller nothing PostgreSQL said. */
  private failed(operation: PostgresFailure['operation'], error: unknown): DomainError {
    const message = `PostgreSQL failed (${operation}); retry later`;
    // A ping serves only the readiness probe: it classifies the cause (authentication, tls…),
    // shows /readyz the class alone and logs the change, not every probe.
    if (operation === 'ping') return new DomainError('unavailable', 'postgres-unavailable', message, { cause: error });
    this.onFailure(failureOf(operation, error));
    return new DomainError('unavailable', 'postgres-unavailable', message, { retryAfterSeconds: 5 });
  }

  private async run(operation: PostgresFailure['operation'], sql: string, params: unknown[] = []): Promise<void> {
    try {
      await this.pool.query(sql, params);
    } catch (error) {
      throw this.failed(operation, error);
    }
  }

  private async transaction(
    operation: PostgresFailure['operation'],
    work: (query: (sql: string, params?: unknown[]) => Promise<{ rowCount: number | null }>) => Promise<void>,
  ): Promise<void> {
    let client;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw this.failed(operation, error);
    }
    try {
      await client.query('BEGIN');
      await work((sql, params) => client.query(sql, params));
      await client.query('COMMIT');
      client.release();
    } catch (error) {
      // The connection is closed, not rolled back and reused: after a client-side timeout it may
      // still be busy, and a ROLLBACK would wait as long again. The server rolls back on close.
      client.release(true);
      throw this.failed(operation, error);
    }
  }
}

const roleOf = (handle: RevocationHandle): string => {
  if (handle.backend !== 'postgres' || !ROLE_NAME.test(handle.roleName)) {
    throw new DomainError('invalid', 'bad-revocation-handle', 'not a rotor PostgreSQL role handle');
  }
  return handle.roleName;
};

/**
 * PostgreSQL's error text can quote what it was given (a grant template's names, a literal);
 * the caller gets a generic problem, the log the SQLSTATE and the message with everything
 * quoted masked. The pg error itself is not attached: it travels into logs and events.
 */
const failureOf = (operation: PostgresFailure['operation'], error: unknown): PostgresFailure => {
  const pgError = error as { code?: unknown; message?: unknown };
  const code = typeof pgError.code === 'string' && /^[0-9A-Z]{5}$/.test(pgError.code) ? pgError.code : undefined;
  // Both quote kinds: PostgreSQL shows rejected values in double quotes too (invalid input syntax for type integer: "…").
  const message = (typeof pgError.message === 'string' ? pgError.message : 'unknown error')
    .replace(/'(?:[^']|'')*'?/g, "'…'")
    .replace(/"(?:[^"]|"")*"?/g, '"…"');
  return { operation, ...(code ? { code } : {}), message };
};
