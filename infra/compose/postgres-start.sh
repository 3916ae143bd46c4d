#!/bin/sh
# Entry point of `postgres` in docker-compose.yml, as root, before the image's own:
# 1. PostgreSQL wants its TLS key owned by the postgres user and 0600, which a volume written
#    by the `pki` service cannot promise: copy key, certificate, CA and pg_hba.conf to where
#    the command line (ssl_*_file, hba_file) names them.
# 2. POSTGRES_PASSWORD_FILE only applies to an empty data directory: on one initialised before
#    (the old plaintext stack's, or before the pki volume was recreated), set the role's
#    password in single-user mode, with the statement kept out of the log.
# 3. The auditor's own role and database, as scripts/services-up.sh's pg_ensure_auditor, on
#    every start: rotor_auditor (LOGIN; no SUPERUSER, CREATEDB or CREATEROLE) with the password
#    in ROTOR_AUDITOR_PASSWORD_FILE, owning rotor_audit. On an initialised data directory in
#    single-user mode with step 2; on an empty one through the image's first-start scripts
#    (INITDB_DIR), which run before the server listens on TCP. Either way the role exists
#    before the healthcheck passes, so the auditor never starts ahead of it.
set -eu
DEST=/var/lib/postgresql/rotor
INITDB_DIR="${INITDB_DIR:-/docker-entrypoint-initdb.d}" # the static test points it elsewhere
install -d -m 700 -o postgres -g postgres "$DEST"
install -m 600 -o postgres -g postgres /etc/rotor/tls/server.key "$DEST/server.key"
install -m 644 -o postgres -g postgres /etc/rotor/tls/server.crt "$DEST/server.crt"
install -m 644 -o postgres -g postgres /etc/rotor/tls/ca.crt "$DEST/ca.crt"
install -m 600 -o postgres -g postgres /etc/rotor/compose/pg_hba.conf "$DEST/pg_hba.conf"

# SQL, one statement a line (single-user mode ends a statement at the newline). The role's
# attributes are set again on every start, so a role widened by hand is narrowed back.
auditor_role_sql() {
  printf '%s\n' "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rotor_auditor') THEN CREATE ROLE rotor_auditor LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE; END IF; END \$\$;"
  printf 'ALTER ROLE rotor_auditor LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '\''%s'\'';\n' "$(cat "$ROTOR_AUDITOR_PASSWORD_FILE")"
}
# Its database is its own: only the owner (and the superuser) may connect, not the lease roles
# the postgres backend creates on this server.
auditor_database_sql() {
  printf '%s\n' 'ALTER DATABASE rotor_audit OWNER TO rotor_auditor;' 'REVOKE CONNECT ON DATABASE rotor_audit FROM PUBLIC;'
}
single() { gosu postgres postgres --single -D "$PGDATA" -c log_min_error_statement=panic postgres; }

if [ -s "$PGDATA/PG_VERSION" ]; then
  rm -f "$INITDB_DIR/rotor-auditor.sql"
  # Single-user mode has no \gexec: look for the database first, then create it if missing.
  found="$(echo "SELECT 'rotor_audit exists' FROM pg_database WHERE datname = 'rotor_audit';" | single | grep -c '= "rotor_audit exists"' || true)"
  {
    printf 'ALTER ROLE "%s" PASSWORD '\''%s'\'';\n' "$POSTGRES_USER" "$(cat "$POSTGRES_PASSWORD_FILE")"
    auditor_role_sql
    [ "$found" -gt 0 ] || echo 'CREATE DATABASE rotor_audit OWNER rotor_auditor;'
    auditor_database_sql
  } | single >/dev/null
else
  # Run by the image's entry point (psql as POSTGRES_USER) once it has initialised the directory.
  (
    umask 077
    {
      auditor_role_sql
      echo 'CREATE DATABASE rotor_audit OWNER rotor_auditor;'
      auditor_database_sql
    } >"$INITDB_DIR/rotor-auditor.sql"
  )
  chown postgres:postgres "$INITDB_DIR/rotor-auditor.sql"
fi
exec docker-entrypoint.sh "$@"
