#!/bin/sh
# docker-compose.yml's one-shot `pki` service: the keys and passwords of the compose stack, as
# scripts/local-pki.sh makes them for the local one. Runs on every `docker compose up` (as
# root, without network): creates what is missing, renews certificates with fewer than 30
# days left, then hands each container a copy of only what it needs, owned by the uid it
# runs as. PKI_ROOT (default /pki) holds one directory per named volume:
#
#   ca/           pki-ca, mounted here only: the CA key, every password (secrets/), the originals
#   services/     tls-services -> the four rotor services: ca.crt, server.{crt,key} (uid 10001)
#   redis/        tls-redis    -> redis: ca.crt, server.{crt,key}, users.acl, redis-admin.password (uid 999)
#   postgres/     tls-postgres -> postgres: ca.crt, server.{crt,key}, postgres-rotor.password,
#                                 postgres-auditor.password (root; postgres-start.sh copies the
#                                 key for the postgres user and sets both roles' passwords)
#   kafka/        tls-kafka    -> kafka, kafka-users: ca.crt, kafka-broker.pem (uid 1000)
#   kafka-admin/  secrets-kafka-admin -> kafka-users, kafka-setup: ca.crt, kafka-<user>.password (uid 1000)
#   <service>/    secrets-<service> -> that service only: kafka-<service>.password,
#                 redis-<service>.password; issuer and revoker also redis-acl-admin.password
#                 and database-url; the auditor also audit-signing-key.pem and
#                 audit-database-url, its own database, never database-url (uid 10001)
#
# Keys and passwords are 0600. Run as non-root (the static test), files keep the caller's owner.
set -eu
umask 077

ROOT="${PKI_ROOT:-/pki}"
HERE="$(cd "$(dirname "$0")" && pwd)"
CA="$ROOT/ca"
SECRETS="$CA/secrets"
SERVER_SANS='IP:127.0.0.1,DNS:localhost,DNS:issuer,DNS:revoker,DNS:distributor,DNS:auditor,DNS:kafka,DNS:redis,DNS:redis-acl,DNS:postgres'
KAFKA_USERS='admin issuer revoker distributor auditor cli-audit'
REDIS_USERS='default admin issuer revoker distributor auditor acl-admin'
SERVICES='issuer revoker distributor auditor'
ROTOR_UID=10001 # Dockerfile USER
KAFKA_UID=1000  # apache/kafka's appuser, and node in the rotor build stage (kafka-setup)
REDIS_UID=999   # redis:7-bookworm's redis
ROOT_UID=0

fresh() { [ -s "$1" ] && openssl x509 -checkend $((30 * 86400)) -noout -in "$1" >/dev/null 2>&1; }

# issue NAME SUBJECT SANS: a P-256 key (PKCS#8) and a CA-signed certificate for server and client auth.
issue() {
  fresh "$CA/$1.crt" && return 0
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=critical,digitalSignature\nbasicConstraints=critical,CA:FALSE\n' "$3" >"$CA/$1.ext"
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$CA/$1.key.tmp" -out "$CA/$1.csr" -subj "$2" 2>/dev/null
  openssl pkcs8 -topk8 -nocrypt -in "$CA/$1.key.tmp" -out "$CA/$1.key"
  openssl x509 -req -in "$CA/$1.csr" -CA "$CA/ca.crt" -CAkey "$CA/ca.key" -CAcreateserial \
    -out "$CA/$1.crt" -days 397 -sha256 -extfile "$CA/$1.ext" 2>/dev/null
  rm -f "$CA/$1.key.tmp" "$CA/$1.csr" "$CA/$1.ext"
  echo "pki: issued $1.crt ($2, valid 397 days)"
}

password() { [ -s "$SECRETS/$1.password" ] || openssl rand -hex 24 >"$SECRETS/$1.password"; }

# put SOURCE DEST UID MODE: DEST becomes a copy of SOURCE (replaced atomically when it changed,
# so a service polling its certificate never reads half a file), owned by UID, with MODE.
put() {
  if ! cmp -s "$1" "$2" 2>/dev/null; then
    cp "$1" "$2.tmp"
    mv -f "$2.tmp" "$2"
  fi
  chmod "$4" "$2"
  if [ "$(id -u)" = 0 ]; then chown "$3:$3" "$2"; fi
}

mkdir -p "$CA" "$SECRETS"
chmod 700 "$CA" "$SECRETS"

if ! fresh "$CA/ca.crt" || [ ! -s "$CA/ca.key" ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$CA/ca.key" -out "$CA/ca.crt" \
    -days 3650 -sha256 -subj "/CN=rotor compose CA $(openssl rand -hex 4)" \
    -addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign' 2>/dev/null
  rm -f "$CA/server.crt" "$CA/kafka-broker.crt" # signed by the old CA
  echo 'pki: created the CA (ca.crt, valid 10 years)'
fi
issue server '/CN=rotor compose services' "$SERVER_SANS"
issue kafka-broker '/CN=rotor-kafka-broker' 'IP:127.0.0.1,DNS:localhost,DNS:kafka'
cat "$CA/kafka-broker.key" "$CA/kafka-broker.crt" >"$CA/kafka-broker.pem"

for user in $KAFKA_USERS; do password "kafka-$user"; done
for user in $REDIS_USERS; do password "redis-$user"; done
password postgres-rotor
password postgres-auditor
# What rotor-entrypoint.sh exports as DATABASE_URL (hex passwords need no URL escaping).
printf 'postgres://rotor:%s@postgres:5432/rotor?sslmode=verify-full&sslrootcert=/etc/rotor/tls/ca.crt\n' \
  "$(cat "$SECRETS/postgres-rotor.password")" >"$CA/database-url"
# The auditor's ROTOR_AUDIT_DATABASE_URL_FILE: its own role and database (postgres-start.sh
# creates them), as scripts/services-up.sh's pg_ensure_auditor writes audit-database.url.
printf 'postgres://rotor_auditor:%s@postgres:5432/rotor_audit?sslmode=verify-full&sslrootcert=/etc/rotor/tls/ca.crt\n' \
  "$(cat "$SECRETS/postgres-auditor.password")" >"$CA/audit-database-url"
sh "$HERE/redis-acl.sh" "$SECRETS" "$CA/users.acl"

# TLS: every consumer trusts the CA; the key goes to whoever serves with it.
for dir in services redis postgres kafka kafka-admin $SERVICES; do mkdir -p "$ROOT/$dir"; done
for dir in services redis postgres kafka kafka-admin; do put "$CA/ca.crt" "$ROOT/$dir/ca.crt" "$ROOT_UID" 644; done
put "$CA/server.crt" "$ROOT/services/server.crt" "$ROTOR_UID" 644
put "$CA/server.key" "$ROOT/services/server.key" "$ROTOR_UID" 600
put "$CA/server.crt" "$ROOT/redis/server.crt" "$REDIS_UID" 644
put "$CA/server.key" "$ROOT/redis/server.key" "$REDIS_UID" 600
put "$CA/users.acl" "$ROOT/redis/users.acl" "$REDIS_UID" 600
put "$SECRETS/redis-admin.password" "$ROOT/redis/redis-admin.password" "$REDIS_UID" 600 # its healthcheck
put "$CA/server.crt" "$ROOT/postgres/server.crt" "$ROOT_UID" 644
put "$CA/server.key" "$ROOT/postgres/server.key" "$ROOT_UID" 600
put "$SECRETS/postgres-rotor.password" "$ROOT/postgres/postgres-rotor.password" "$ROOT_UID" 600
put "$SECRETS/postgres-auditor.password" "$ROOT/postgres/postgres-auditor.password" "$ROOT_UID" 600
put "$CA/kafka-broker.pem" "$ROOT/kafka/kafka-broker.pem" "$KAFKA_UID" 600

# Passwords: Kafka's to the setup steps; each service only its own principals'.
for user in $KAFKA_USERS; do put "$SECRETS/kafka-$user.password" "$ROOT/kafka-admin/kafka-$user.password" "$KAFKA_UID" 600; done
for svc in $SERVICES; do
  put "$SECRETS/kafka-$svc.password" "$ROOT/$svc/kafka-$svc.password" "$ROTOR_UID" 600
  put "$SECRETS/redis-$svc.password" "$ROOT/$svc/redis-$svc.password" "$ROTOR_UID" 600
done
# The auditor's checkpoint signing key (Ed25519): verifiers need only its public half (GET /v1/audit/keys).
[ -s "$SECRETS/audit-signing-key.pem" ] || openssl genpkey -algorithm ed25519 -out "$SECRETS/audit-signing-key.pem" 2>/dev/null
put "$SECRETS/audit-signing-key.pem" "$ROOT/auditor/audit-signing-key.pem" "$ROTOR_UID" 600
put "$CA/audit-database-url" "$ROOT/auditor/audit-database-url" "$ROTOR_UID" 600
for svc in issuer revoker; do # the credential backends: PostgreSQL roles and Redis ACL users
  put "$SECRETS/redis-acl-admin.password" "$ROOT/$svc/redis-acl-admin.password" "$ROTOR_UID" 600
  put "$CA/database-url" "$ROOT/$svc/database-url" "$ROTOR_UID" 600
done
echo "pki: CA $(openssl x509 -noout -subject -in "$CA/ca.crt" | sed 's/^subject=//'), server certificate until $(openssl x509 -noout -enddate -in "$CA/server.crt" | cut -d= -f2)"
