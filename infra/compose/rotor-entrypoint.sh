#!/bin/sh
# Entry point of the issuer and revoker in docker-compose.yml, after tini. DATABASE_URL holds
# the generated PostgreSQL password and compose cannot read a file into a variable, so the
# `pki` service writes the whole URL to a file and this exports it from DATABASE_URL_FILE.
# The auditor does not use it: it reads its own database's URL from ROTOR_AUDIT_DATABASE_URL_FILE
# itself and must never have DATABASE_URL, the postgres backend's admin connection.
# Then the image's usual command (Dockerfile CMD), or the arguments given.
set -eu
if [ -n "${DATABASE_URL_FILE:-}" ]; then
  DATABASE_URL="$(cat "$DATABASE_URL_FILE")"
  export DATABASE_URL
  unset DATABASE_URL_FILE
fi
[ "$#" -gt 0 ] || set -- node "dist/apps/${SERVICE:?set SERVICE to issuer, revoker, distributor or auditor}/main.js"
exec "$@"
