#!/bin/sh
# redis-acl.sh SECRETS_DIR OUT: the Redis ACL file of the compose stack (run by pki.sh).
#
# The same file tools/security/redis-acl-file.ts writes for the local stack from
# libs/contracts/src/access-policy.ts (REDIS_ACCESS, REDIS_ACL_ADMIN, redisAclLine): the
# `pki` image has no Node.js and the rotor runtime image has no tools/, so the rules are
# repeated here, and test/static/compose-secure.spec.ts runs both and requires identical
# output. Passwords are read from SECRETS_DIR/redis-<user>.password and stored as SHA-256.
set -eu
set -f # the key patterns contain '*': never expand them against files
umask 077
[ "$#" -eq 2 ] || { echo 'usage: redis-acl.sh <secrets dir> <out file>' >&2; exit 2; }
SECRETS="$1"
OUT="$2"

# DATA_COMMANDS and REDIS_ACL_ADMIN.commands of the access table.
DATA='+@read +@write +@keyspace +@scripting +@transaction +@connection -@dangerous +info +time +cluster|slots +cluster|info'
ACL_ADMIN='+acl|setuser +acl|deluser +acl|getuser +acl|users +client|kill +client|list +client|setname +ping +info +hello +auth'
QUOTA='rotor:quota:*' # SHARED_REDIS_PREFIXES.gsmQuota

hash() { printf '%s' "$(cat "$SECRETS/redis-$1.password")" | sha256sum | cut -d' ' -f1; }

# line USER KEYS COMMANDS: redisAclLine(user, { keys, commands }, sha256(password))
line() {
  printf 'user %s on #%s resetkeys' "$1" "$(hash "$1")"
  for key in $2; do printf ' ~%s' "$key"; done
  printf ' resetchannels -@all'
  for rule in $3; do printf ' %s' "$rule"; done
  printf '\n'
}

{
  # Not `off`: Redis 7.0 replays MULTI/EXEC from the AOF as the default user (see
  # tools/security/redis-acl-file.ts); a password nobody is given keeps clients out.
  echo "user default on #$(hash default) ~* &* +@all"
  echo "user admin on #$(hash admin) ~* &* +@all"
  line issuer "issuer:* {issuer:* $QUOTA" "$DATA"
  line revoker "revoker:* {revoker:* $QUOTA" "$DATA"
  line distributor "distributor:* {distributor:* $QUOTA" "$DATA"
  line auditor 'auditor:* {auditor:*' "$DATA"
  line acl-admin '' "$ACL_ADMIN"
} >"$OUT.tmp"
mv -f "$OUT.tmp" "$OUT"
