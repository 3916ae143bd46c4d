#!/bin/sh
# Entry point of `postgres` in docker-compose.yml, as root, before the image's own:
# 1. PostgreSQL wants its TLS key owned by the postgres user and 0600, which a volume written
#    by the `pki` service cannot promise: copy key, certificate, CA and pg_hba.conf to where
#    the command line (ssl_*_file, hba_file) names them.
# 2. POSTGRES_PASSWORD_FILE only applies to an empty data directory: on one initialised before
#    (the old plaintext stack's, or before the pki volume was recreated), set the role's
#    password in single-user mode, with the statement kept out of the log.
set -eu
DEST=/var/lib/postgresql/rotor
install -d -m 700 -o postgres -g postgres "$DEST"
install -m 600 -o postgres -g postgres /etc/rotor/tls/server.key "$DEST/server.key"
install -m 644 -o postgres -g postgres /etc/rotor/tls/server.crt "$DEST/server.crt"
install -m 644 -o postgres -g postgres /etc/rotor/tls/ca.crt "$DEST/ca.crt"
install -m 600 -o postgres -g postgres /etc/rotor/compose/pg_hba.conf "$DEST/pg_hba.conf"
if [ -s "$PGDATA/PG_VERSION" ]; then
  printf 'ALTER ROLE "%s" PASSWORD '\''%s'\'';\n' "$POSTGRES_USER" "$(cat "$POSTGRES_PASSWORD_FILE")" |
    gosu postgres postgres --single -D "$PGDATA" -c log_min_error_statement=panic postgres >/dev/null
fi
exec docker-entrypoint.sh "$@"
