import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** The real server log scripts/services-up.sh starts PostgreSQL with (pg_ctl -l; a link when it lives elsewhere). */
export const POSTGRES_LOG = join(__dirname, '..', '..', '.rotor', 'logs', 'postgres.log');

/** Where the server log ends now: what a test reads from afterwards is what happened since. */
export const postgresLogOffset = (): number => statSync(POSTGRES_LOG).size;

/** The server log from `offset` on. */
export const postgresLogSince = (offset: number): string => {
  const length = statSync(POSTGRES_LOG).size - offset;
  if (length <= 0) return '';
  const buffer = Buffer.alloc(length);
  const fd = openSync(POSTGRES_LOG, 'r');
  try {
    readSync(fd, buffer, 0, length, offset);
  } finally {
    closeSync(fd);
  }
  return buffer.toString('utf8');
};

/** DATABASE_URL whose sessions log every DDL statement (libpq `options`): each CREATE ROLE shows in the server log. */
export const loggingDdl = (databaseUrl: string): string => {
  const url = new URL(databaseUrl);
  url.searchParams.set('options', '-c log_statement=ddl');
  return url.toString();
};
