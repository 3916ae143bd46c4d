#!/usr/bin/env bash
# Starts rotor's backing services on loopback, without Docker, installing what is missing:
#
#   Kafka 3.9.1 (KRaft, one combined broker+controller)  127.0.0.1:9092 (controller :9093)
#   Redis (Debian redis-server)                          127.0.0.1:6379
#   a second Redis for the redis-acl backend's users      127.0.0.1:6380  (ROTOR_REDIS_ACL_URL)
#   PostgreSQL (Debian postgresql, cluster in .rotor/pg)  127.0.0.1:5432  rotor/rotor, db rotor
#   GSM emulator (tools/gsm-emulator, gRPC)              127.0.0.1:9090
#   Jaeger v2 (traces: OTLP/HTTP in, UI and query API)   127.0.0.1:4318, UI https://127.0.0.1:16686
#     built once per machine by scripts/go-tools.sh (with promtool), in parallel with the rest;
#     not started when OTEL_SDK_DISABLED=true (tracing off)
#
# Idempotent: a service of ours that is already up (pid alive and answering) is left alone,
# and a service named by KAFKA_BROKERS / REDIS_URL / DATABASE_URL /
# SECRET_MANAGER_EMULATOR_HOST that answers is used instead of starting ours.
# Writes .rotor/env (source it) and prints what runs where. Stop with services-down.sh.
# State: .rotor/{kafka,redis,pg,logs,run} (git-ignored). See docs/infra.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Real paths: a worktree may share another checkout's stack through a .rotor symlink.
STATE="$(realpath -m "$ROOT/.rotor")"
RUN="$STATE/run"
LOGS="$STATE/logs"

KAFKA_PORT=9092
KAFKA_CONTROLLER_PORT=9093
REDIS_PORT=6379
REDIS_ACL_PORT=6380 # the redis-acl backend's Redis: never the one holding rotor's own keys
PG_PORT=5432
GSM_PORT=9090
GSM_PROJECT=rotor-local
JAEGER_OTLP_PORT=4318
JAEGER_UI_PORT=16686
JAEGER_QUERY_GRPC_PORT=16685
JAEGER_HEALTH_PORT=13133
TRACING=1
[[ "${OTEL_SDK_DISABLED:-}" == true ]] && TRACING=0
# Kafka namespaces prepared (topics + the same ACLs) for the test suite's parallel workers: each
# worker is its own rotor installation on this stack (test/support/worker-env.ts).
TEST_KAFKA_NAMESPACES=test1.,test2.,test3.,test4.,test5.,test6.

KAFKA_HOME="$STATE/kafka"
KAFKA_LIBS="$KAFKA_HOME/libs"
KAFKA_DATA="$KAFKA_HOME/data"
KAFKA_JAR="kafka_2.13-3.9.1.jar" # present in KAFKA_LIBS once the pom's jars are copied
REDIS_DIR="$STATE/redis"
PG_DATA_FILE="$STATE/pg.datadir" # remembers where the cluster lives, for services-down.sh

KAFKA_INTERNAL_PORT=9094 # mTLS only: inter-broker traffic and the scripts' SCRAM user management

# Secure by default (DESIGN §14): TLS, SCRAM/ACL users and ACLs on every link. A stack
# started with ROTOR_INSECURE_LOCAL=1 is a separate, explicitly insecure one; switching
# restarts our services in the other mode (data is kept).
INSECURE=0
[[ "${ROTOR_INSECURE_LOCAL:-0}" == 1 || "${ROTOR_INSECURE_LOCAL:-}" == true ]] && INSECURE=1
MODE=secure
((INSECURE)) && MODE=insecure
# shellcheck source=scripts/local-pki.sh
. "$ROOT/scripts/local-pki.sh"

# Our own values; what .rotor/env gets unless an external service is used.
OWN_KAFKA_BROKERS="127.0.0.1:$KAFKA_PORT"
OWN_GSM_HOST="127.0.0.1:$GSM_PORT"
if ((INSECURE)); then
  OWN_REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
  OWN_REDIS_ACL_URL="redis://127.0.0.1:$REDIS_ACL_PORT"
  OWN_DATABASE_URL="postgres://rotor:rotor@127.0.0.1:$PG_PORT/rotor"
else
  OWN_REDIS_URL="rediss://127.0.0.1:$REDIS_PORT"
  OWN_REDIS_ACL_URL="rediss://127.0.0.1:$REDIS_ACL_PORT"
  OWN_DATABASE_URL="" # set in main once the password exists (ensure_pki)
fi

# Values handed in by the caller (possibly pointing at services someone else runs).
IN_KAFKA_BROKERS="${KAFKA_BROKERS:-}"
IN_REDIS_URL="${REDIS_URL:-}"
IN_REDIS_ACL_URL="${ROTOR_REDIS_ACL_URL:-}"
IN_DATABASE_URL="${DATABASE_URL:-}"
IN_GSM_HOST="${SECRET_MANAGER_EMULATOR_HOST:-}"

NODE="$ROOT/node_modules/.bin/node"
[[ -x "$NODE" ]] || NODE="$(command -v node || true)"

# ---------------------------------------------------------------------------------------
# helpers

now_ms() { date +%s%3N; }
secs_since() { awk -v a="$1" -v b="$(now_ms)" 'BEGIN { printf "%.1f", (b - a) / 1000 }'; }
say() { printf '[%-5s] %s\n' "$1" "$2"; }

declare -A SUMMARY_WHERE=() SUMMARY_HOW=() SUMMARY_TIME=()
SETUP_NOTES=() # one-time installs done by this run, for the summary
record() { SUMMARY_WHERE[$1]="$2"; SUMMARY_HOW[$1]="$3"; SUMMARY_TIME[$1]="$4"; }

# fail SERVICE LOGFILE MESSAGE: print the message and the log's tail, exit 1.
fail() {
  local svc="$1" log="$2" msg="$3"
  say "$svc" "FAILED: $msg" >&2
  if [[ -n "$log" && -f "$log" ]]; then
    echo "----- last 40 lines of $log -----" >&2
    tail -n 40 "$log" >&2 || true
    echo "-----" >&2
  fi
  exit 1
}

# pid_alive PIDFILE PATTERN: the pid in PIDFILE runs and its command line contains PATTERN.
pid_alive() {
  local file="$1" pattern="$2" pid
  [[ -s "$file" ]] || return 1
  pid="$(head -n 1 "$file" | tr -dc '0-9')"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$pattern"
}

# mode_matches SVC: our running SVC was started in this run's mode (secure or insecure).
mode_matches() { [[ "$(cat "$RUN/$1.mode" 2>/dev/null || echo insecure)" == "$MODE" ]]; }

# stop_other_mode SVC PIDFILE PATTERN PORT: our SVC runs in the other mode: stop it (data stays).
stop_other_mode() {
  local svc="$1" pidfile="$2" pattern="$3" port="$4" pid deadline
  pid_alive "$pidfile" "$pattern" || return 0
  mode_matches "$svc" && return 0
  pid="$(head -n 1 "$pidfile" | tr -dc '0-9')"
  say "$svc" "running $(cat "$RUN/$svc.mode" 2>/dev/null || echo insecure); restarting it $MODE"
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + 45))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
  kill -KILL "$pid" 2>/dev/null || true
  deadline=$((SECONDS + 30))
  while port_busy "$port" && ((SECONDS < deadline)); do sleep 0.2; done
}

# port_busy PORT: something listens on 127.0.0.1/any address at PORT.
port_busy() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

require_free_port() {
  local svc="$1" port="$2" var="$3"
  if port_busy "$port"; then
    fail "$svc" "" "port $port is in use by a process we did not start ($(ss -Hltnp "sport = :$port" | head -n 1)). Stop it, or point $var at it if it is a usable $svc."
  fi
}

# wait_for SVC PIDFILE PATTERN LOG CMD...: run the readiness CMD, but give up as soon as the
# service's process dies (no point waiting out the timeout).
wait_for() {
  local svc="$1" pidfile="$2" pattern="$3" log="$4"
  shift 4
  local out="$RUN/$svc.wait.$$.out" # per run: two services-up at once must not share it
  "$@" >"$out" 2>&1 &
  local waiter=$!
  while kill -0 "$waiter" 2>/dev/null; do
    if ! pid_alive "$pidfile" "$pattern"; then
      kill "$waiter" 2>/dev/null || true
      wait "$waiter" 2>/dev/null || true
      fail "$svc" "$log" "the process exited while starting"
    fi
    sleep 0.2
  done
  if ! wait "$waiter"; then
    cat "$out" >&2
    rm -f "$out"
    fail "$svc" "$log" "did not become ready"
  fi
  cat "$out"
  rm -f "$out"
}

# ---------------------------------------------------------------------------------------
# external services (handed in through the environment)

node_check() { # node_check SCRIPT: runs a small readiness probe with a 5 s overall limit
  timeout 8 "$NODE" -e "$1" >/dev/null 2>&1
}
# tcp_open HOST:PORT: something accepts TCP connections there (fails fast when refused).
tcp_open() { timeout 2 bash -c ': </dev/tcp/${1%:*}/${1##*:}' 2>/dev/null; }
external_kafka_ok() {
  tcp_open "${1%%,*}" && timeout 10 "$NODE" "$ROOT/scripts/wait-for-kafka.js" 3 "$1" >/dev/null 2>&1
}
external_gsm_ok() {
  tcp_open "$1" && timeout 10 "$NODE" "$ROOT/scripts/wait-for-gsm.js" 3 "$1" >/dev/null 2>&1
}
external_redis_ok() {
  REDIS_URL_TO_CHECK="$1" node_check "
    const Redis = require('ioredis');
    const r = new Redis(process.env.REDIS_URL_TO_CHECK, { lazyConnect: true, connectTimeout: 2000,
      maxRetriesPerRequest: 0, retryStrategy: () => null });
    r.connect().then(() => r.ping()).then((p) => { r.disconnect(); process.exit(p === 'PONG' ? 0 : 1); },
      () => process.exit(1));"
}
external_pg_ok() {
  DATABASE_URL_TO_CHECK="$1" node_check "
    const { Client } = require('pg');
    const c = new Client({ connectionString: process.env.DATABASE_URL_TO_CHECK, connectionTimeoutMillis: 3000 });
    c.connect().then(() => c.query('select 1')).then(() => c.end()).then(() => process.exit(0),
      () => process.exit(1));"
}

# use_external SVC VAR VALUE CHECKFN: 0 when VALUE names a service that answers (it is then
# used as is), 1 otherwise. Only asked when our own instance is not running, so a VALUE equal
# to our default endpoint (a sourced .rotor/env) that answers is someone else's service.
use_external() {
  local svc="$1" var="$2" value="$3" check="$4" t0
  [[ -n "$value" ]] || return 1
  t0="$(now_ms)"
  if "$check" "$value"; then
    say "$svc" "using the service from $var=$value (answers; not starting ours)"
    record "$svc" "$value" "external ($var)" "$(secs_since "$t0")"
    return 0
  fi
  say "$svc" "$var=$value does not answer; starting our own instead"
  return 1
}

# ---------------------------------------------------------------------------------------
# packages

pg_bin_dir() { # newest installed Debian PostgreSQL server
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  [[ -n "$d" && -x "$d/postgres" ]] && echo "$d"
}

ensure_packages() { # ensure_packages NEED_REDIS NEED_PG NEED_KAFKA
  local need_redis="$1" need_pg="$2" need_kafka="$3" t0 pkgs=() created_policy=0
  [[ "$need_redis" == 1 ]] && ! command -v redis-server >/dev/null && pkgs+=(redis-server)
  ((INSECURE)) || command -v openssl >/dev/null || pkgs+=(openssl) # the local CA and certificates
  [[ "$need_pg" == 1 && -z "$(pg_bin_dir)" ]] && pkgs+=(postgresql)
  if [[ "$need_kafka" == 1 && ! -f "$KAFKA_LIBS/$KAFKA_JAR" ]]; then
    command -v java >/dev/null || pkgs+=(openjdk-17-jre-headless)
    command -v mvn >/dev/null || pkgs+=(maven)
  elif [[ "$need_kafka" == 1 ]]; then
    command -v java >/dev/null || pkgs+=(openjdk-17-jre-headless)
  fi
  [[ -n "$NODE" ]] || fail setup "" "no node found (expected $ROOT/node_modules/.bin/node: run npm ci)"
  ((${#pkgs[@]})) || return 0
  t0="$(now_ms)"
  say apt "installing ${pkgs[*]} (apt-get update first)"
  # Debian's postinst scripts would start redis/postgres system services: forbid that
  # (policy-rc.d exit 101) so that only the instances below, on our data dirs, run.
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    created_policy=1
  fi
  local log="$LOGS/apt.log"
  if ! { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${pkgs[@]}"; } >"$log" 2>&1; then
    [[ "$created_policy" == 1 ]] && rm -f /usr/sbin/policy-rc.d
    fail apt "$log" "apt-get install ${pkgs[*]} failed"
  fi
  [[ "$created_policy" == 1 ]] && rm -f /usr/sbin/policy-rc.d
  say apt "installed ${pkgs[*]} in $(secs_since "$t0") s"
  SETUP_NOTES+=("apt-get install ${pkgs[*]}: $(secs_since "$t0") s")
}

# ---------------------------------------------------------------------------------------
# Kafka (KRaft, combined node) from Maven Central jars

KAFKA_PIDFILE="$RUN/kafka.pid"
KAFKA_PATTERN="kafka.Kafka"
KAFKA_LOG="$LOGS/kafka.log"
KAFKA_T0=""

kafka_fetch_jars() {
  [[ -f "$KAFKA_LIBS/$KAFKA_JAR" ]] && return 0
  local t0 log="$LOGS/kafka-mvn.log"
  t0="$(now_ms)"
  say kafka "copying Kafka 3.9.1 jars from Maven Central into .rotor/kafka/libs"
  rm -rf "$KAFKA_LIBS"
  mkdir -p "$KAFKA_LIBS"
  if ! mvn -B -q -f "$ROOT/infra/kafka/pom.xml" \
    org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies \
    -DoutputDirectory="$KAFKA_LIBS" >"$log" 2>&1 || [[ ! -f "$KAFKA_LIBS/$KAFKA_JAR" ]]; then
    rm -rf "$KAFKA_LIBS"
    fail kafka "$log" "mvn copy-dependencies failed"
  fi
  say kafka "jars ready ($(ls "$KAFKA_LIBS" | wc -l) files, $(du -sh "$KAFKA_LIBS" | cut -f1)) in $(secs_since "$t0") s"
  SETUP_NOTES+=("Kafka jars (mvn copy-dependencies): $(secs_since "$t0") s")
}

kafka_write_config() {
  local cluster_id=""
  mkdir -p "$KAFKA_DATA"
  if [[ -f "$KAFKA_DATA/meta.properties" ]]; then
    cluster_id="$(sed -n 's/^cluster\.id=//p' "$KAFKA_DATA/meta.properties")"
  elif [[ -s "$KAFKA_HOME/cluster.id" ]]; then
    cluster_id="$(cat "$KAFKA_HOME/cluster.id")"
  fi
  # None yet (or an unreadable leftover of a broker stopped mid-write): a new one, 16 random
  # bytes in base64url without padding, Kafka's Uuid text form (22 chars). Never one starting
  # with '-' (1 in 64): kafka-storage would read `-t -…` as an option (Kafka's own Uuid
  # generator redraws those too).
  if [[ ! "$cluster_id" =~ ^[A-Za-z0-9_][A-Za-z0-9_-]{21}$ ]]; then
    cluster_id="$("$NODE" -e "let id; do id = require('crypto').randomBytes(16).toString('base64url'); while (id.startsWith('-')); process.stdout.write(id)")"
    rm -f "$KAFKA_DATA/meta.properties"
  fi
  echo "$cluster_id" >"$KAFKA_HOME/cluster.id"
  KAFKA_CLUSTER_ID="$cluster_id"
  (
    umask 077
    {
      echo "# Generated by scripts/services-up.sh ($MODE stack); edits are overwritten on the next start."
      kafka_listener_config
      cat <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
controller.listener.names=CONTROLLER
log.dirs=$KAFKA_DATA
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
group.initial.rebalance.delay.ms=0
# the services create their own topics
auto.create.topics.enable=false
delete.topic.enable=true
log.retention.hours=24
log.segment.bytes=16777216
EOF
    } >"$KAFKA_HOME/server.properties"
  )
}

# The listeners. Secure: clients reach only the SASL_SSL listener (SCRAM-SHA-512); the
# controller and inter-broker listeners take TLS client certificates signed by the local CA,
# and the broker's own certificate is the only one that is a super user there.
kafka_listener_config() {
  if ((INSECURE)); then
    cat <<EOF
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
EOF
    return 0
  fi
  kafka_secure_listeners "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT" "$KAFKA_INTERNAL_PORT"
  # The scripts' mTLS identity on the internal listener (SCRAM user management).
  cat >"$KAFKA_HOME/internal-client.properties" <<EOF
security.protocol=SSL
ssl.keystore.type=PEM
ssl.keystore.location=$PKI/kafka-broker.pem
ssl.truststore.type=PEM
ssl.truststore.location=$PKI/ca.crt
EOF
}

# scram_fingerprint: which passwords the broker should have (never the passwords themselves).
scram_fingerprint() {
  local user
  for user in "${KAFKA_USERS[@]}"; do printf '%s:%s\n' "$user" "$(secret "kafka-$user" | sha256sum | cut -c1-16)"; done
}

# The SCRAM users, one per principal, with this checkout's passwords. A data dir formatted
# by an insecure stack (or before a password changed) gets them through the mTLS internal
# listener; .rotor/kafka/scram.users remembers which passwords the broker has.
kafka_ensure_users() {
  local want user t0
  want="$(scram_fingerprint)"
  [[ "$(cat "$KAFKA_HOME/scram.users" 2>/dev/null)" == "$want" ]] && return 0
  t0="$(now_ms)"
  for user in "${KAFKA_USERS[@]}"; do
    java -Xmx128m -Dlog4j.configuration="file:$ROOT/infra/kafka/log4j.properties" -cp "$KAFKA_LIBS/*" kafka.admin.ConfigCommand \
      --bootstrap-server "127.0.0.1:$KAFKA_INTERNAL_PORT" --command-config "$KAFKA_HOME/internal-client.properties" \
      --alter --entity-type users --entity-name "$user" \
      --add-config "SCRAM-SHA-512=[iterations=8192,password=$(secret "kafka-$user")]" >>"$KAFKA_LOG" 2>&1 ||
      fail kafka "$KAFKA_LOG" "could not set the SCRAM credentials of $user"
  done
  echo "$want" >"$KAFKA_HOME/scram.users"
  say kafka "SCRAM users ${KAFKA_USERS[*]} set in $(secs_since "$t0") s"
}

# Topics and ACLs from libs/contracts' access table, as the admin principal.
kafka_setup_acls() {
  local out
  out="$(cd "$ROOT" && KAFKA_BROKERS="$OWN_KAFKA_BROKERS" ROTOR_KAFKA_SETUP_NAMESPACES="$TEST_KAFKA_NAMESPACES" \
    "$NODE" -r @swc-node/register tools/security/kafka-setup.ts 2>&1)" ||
    fail kafka "" "topics/ACLs: $out"
  say kafka "$out"
}

kafka_format() {
  [[ -f "$KAFKA_DATA/meta.properties" ]] && return 0
  local t0
  t0="$(now_ms)"
  local scram=() user
  if ((!INSECURE)); then
    for user in "${KAFKA_USERS[@]}"; do scram+=(--add-scram "SCRAM-SHA-512=[name=$user,iterations=8192,password=$(secret "kafka-$user")]"); done
  fi
  if ! java -Xmx256m -Dlog4j.configuration="file:$ROOT/infra/kafka/log4j.properties" \
    -cp "$KAFKA_LIBS/*" kafka.tools.StorageTool format \
    -t "$KAFKA_CLUSTER_ID" -c "$KAFKA_HOME/server.properties" --ignore-formatted "${scram[@]}" >>"$KAFKA_LOG" 2>&1; then
    fail kafka "$KAFKA_LOG" "kafka-storage format failed"
  fi
  ((INSECURE)) || scram_fingerprint >"$KAFKA_HOME/scram.users"
  say kafka "formatted $KAFKA_DATA (cluster $KAFKA_CLUSTER_ID) in $(secs_since "$t0") s"
}

# Phase 1: make sure it is running (may return before it is ready).
kafka_start() {
  KAFKA_T0="$(now_ms)"
  KAFKA_MODE=""
  stop_other_mode kafka "$KAFKA_PIDFILE" "$KAFKA_PATTERN" "$KAFKA_PORT"
  if pid_alive "$KAFKA_PIDFILE" "$KAFKA_PATTERN"; then
    KAFKA_MODE=ours-running
    return 0
  fi
  if use_external kafka KAFKA_BROKERS "$IN_KAFKA_BROKERS" external_kafka_ok; then
    KAFKA_MODE=external
    KAFKA_ENV="$IN_KAFKA_BROKERS"
    return 0
  fi
  require_free_port kafka "$KAFKA_PORT" KAFKA_BROKERS
  require_free_port kafka "$KAFKA_CONTROLLER_PORT" KAFKA_BROKERS
  kafka_fetch_jars
  kafka_write_config
  kafka_format
  echo "===== $(date -Is) starting Kafka =====" >>"$KAFKA_LOG"
  setsid nohup java -Xmx512m -Xms256m -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$ROOT/infra/kafka/log4j.properties" \
    -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_HOME/server.properties" \
    >>"$KAFKA_LOG" 2>&1 </dev/null &
  echo $! >"$KAFKA_PIDFILE"
  echo "$MODE" >"$RUN/kafka.mode"
  KAFKA_MODE=started
  say kafka "starting (pid $(cat "$KAFKA_PIDFILE")), log .rotor/logs/kafka.log"
}

# Phase 2: wait until it answers.
kafka_ready() {
  [[ "$KAFKA_MODE" == external ]] && return 0
  local msg
  if ((!INSECURE)); then
    # Users first (an upgraded data dir has none yet), through the mTLS internal listener.
    wait_for kafka "$KAFKA_PIDFILE" "$KAFKA_PATTERN" "$KAFKA_LOG" bash -c \
      "for _ in \$(seq 1 450); do (: </dev/tcp/127.0.0.1/$KAFKA_INTERNAL_PORT) 2>/dev/null && exit 0; sleep 0.2; done; exit 1" >/dev/null
    kafka_ensure_users
    export KAFKA_SSL_CA_FILE="$PKI/ca.crt" KAFKA_SASL_USERNAME=admin KAFKA_SASL_PASSWORD_FILE="$SECRETS/kafka-admin.password"
  fi
  msg="$(wait_for kafka "$KAFKA_PIDFILE" "$KAFKA_PATTERN" "$KAFKA_LOG" \
    "$NODE" "$ROOT/scripts/wait-for-kafka.js" 90 "$OWN_KAFKA_BROKERS")"
  ((INSECURE)) || kafka_setup_acls
  KAFKA_ENV="$OWN_KAFKA_BROKERS"
  if [[ "$KAFKA_MODE" == ours-running ]]; then
    say kafka "already running (pid $(cat "$KAFKA_PIDFILE")), answers on $OWN_KAFKA_BROKERS"
    record kafka "$OWN_KAFKA_BROKERS" "already running" "$(secs_since "$KAFKA_T0")"
  else
    say kafka "$msg"
    record kafka "$OWN_KAFKA_BROKERS" "started (3.9.1, KRaft)" "$(secs_since "$KAFKA_T0")"
  fi
}

# ---------------------------------------------------------------------------------------
# Redis

REDIS_PIDFILE="$RUN/redis.pid"
REDIS_PATTERN="redis-server"
REDIS_LOG="$LOGS/redis.log"

REDIS_ACL_FILE="$REDIS_DIR/users.acl"

# redis_cli ARGS...: redis-cli against our server, as admin over TLS on the secure stack.
redis_cli() {
  if ((INSECURE)); then
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"
  else
    REDISCLI_AUTH="$(secret redis-admin)" redis-cli --tls --cacert "$PKI/ca.crt" --user admin -h 127.0.0.1 -p "$REDIS_PORT" "$@"
  fi
}
redis_ping() { [[ "$(redis_cli ping 2>/dev/null)" == PONG ]]; }

redis_up() {
  local t0 deadline
  t0="$(now_ms)"
  REDIS_ENV="$OWN_REDIS_URL"
  mkdir -p "$REDIS_DIR"
  ((INSECURE)) || (cd "$ROOT" && "$NODE" -r @swc-node/register tools/security/redis-acl-file.ts "$SECRETS" "$REDIS_ACL_FILE") ||
    fail redis "" "could not write the Redis ACL file"
  stop_other_mode redis "$REDIS_PIDFILE" "$REDIS_PATTERN" "$REDIS_PORT"
  if pid_alive "$REDIS_PIDFILE" "$REDIS_PATTERN" && redis_ping; then
    ((INSECURE)) || redis_cli acl load >/dev/null # the table may have changed since it started
    say redis "already running (pid $(cat "$REDIS_PIDFILE")), PONG on 127.0.0.1:$REDIS_PORT"
    record redis "$OWN_REDIS_URL" "already running" "$(secs_since "$t0")"
    return 0
  fi
  require_free_port redis "$REDIS_PORT" REDIS_URL
  local listen=(--port "$REDIS_PORT")
  if ((!INSECURE)); then
    # TLS only (no plaintext port), ACL users from the access table, `default` off.
    listen=(--port 0 --tls-port "$REDIS_PORT" --tls-cert-file "$PKI/server.crt" --tls-key-file "$PKI/server.key"
      --tls-ca-cert-file "$PKI/ca.crt" --tls-auth-clients optional --aclfile "$REDIS_ACL_FILE")
  fi
  redis-server --daemonize yes --bind 127.0.0.1 "${listen[@]}" --appendonly yes \
    --dir "$REDIS_DIR" --pidfile "$REDIS_PIDFILE" --logfile "$REDIS_LOG" \
    || fail redis "$REDIS_LOG" "redis-server did not start"
  echo "$MODE" >"$RUN/redis.mode"
  deadline=$((SECONDS + 30))
  until redis_ping; do
    ((SECONDS < deadline)) || fail redis "$REDIS_LOG" "no PONG within 30 s"
    sleep 0.1
  done
  say redis "ready: PONG on 127.0.0.1:$REDIS_PORT ($(redis-server --version | grep -o 'v=[0-9.]*'), pid $(cat "$REDIS_PIDFILE"))"
  record redis "$OWN_REDIS_URL" "started" "$(secs_since "$t0")"
}

# ---------------------------------------------------------------------------------------
# The redis-acl backend's Redis: a second redis-server, TLS + ACL like the first, holding
# only the ACL users rotor mints for leases. A lease's rules can then never reach rotor's own
# keys. No persistence: ACL users are not written to RDB/AOF anyway, and a restart that drops
# them fails closed (the lease stops working; the revoker's DELUSER of a missing user succeeds).

REDIS_ACL_PIDFILE="$RUN/redis-acl.pid"
REDIS_ACL_LOG="$LOGS/redis-acl.log"
REDIS_ACL_DIR="$STATE/redis-acl"
REDIS_ACL_USERS_FILE="$REDIS_ACL_DIR/users.acl"

redis_acl_cli() {
  if ((INSECURE)); then
    redis-cli -h 127.0.0.1 -p "$REDIS_ACL_PORT" "$@"
  else
    REDISCLI_AUTH="$(secret redis-admin)" redis-cli --tls --cacert "$PKI/ca.crt" --user admin -h 127.0.0.1 -p "$REDIS_ACL_PORT" "$@"
  fi
}
redis_acl_ping() { [[ "$(redis_acl_cli ping 2>/dev/null)" == PONG ]]; }

# The file's users, applied with ACL SETUSER: ACL LOAD would delete the lease users minted since.
redis_acl_apply_users() {
  local line
  while read -r -a line; do
    [[ "${line[0]:-}" == user ]] || continue
    redis_acl_cli acl setuser "${line[1]}" reset "${line[@]:2}" >/dev/null || return 1
  done <"$REDIS_ACL_USERS_FILE"
}

redis_acl_up() {
  local t0 deadline
  t0="$(now_ms)"
  REDIS_ACL_ENV="$OWN_REDIS_ACL_URL"
  mkdir -p "$REDIS_ACL_DIR"
  ((INSECURE)) || (cd "$ROOT" && "$NODE" -r @swc-node/register tools/security/redis-acl-file.ts "$SECRETS" "$REDIS_ACL_USERS_FILE" --credential-backend) ||
    fail redis-acl "" "could not write the ACL file of the redis-acl backend's Redis"
  stop_other_mode redis-acl "$REDIS_ACL_PIDFILE" "$REDIS_PATTERN" "$REDIS_ACL_PORT"
  if pid_alive "$REDIS_ACL_PIDFILE" "$REDIS_PATTERN" && redis_acl_ping; then
    ((INSECURE)) || redis_acl_apply_users || fail redis-acl "$REDIS_ACL_LOG" "could not update its users"
    say redis-acl "already running (pid $(cat "$REDIS_ACL_PIDFILE")), PONG on 127.0.0.1:$REDIS_ACL_PORT"
    record redis-acl "$OWN_REDIS_ACL_URL" "already running" "$(secs_since "$t0")"
    return 0
  fi
  require_free_port redis-acl "$REDIS_ACL_PORT" ROTOR_REDIS_ACL_URL
  local listen=(--port "$REDIS_ACL_PORT")
  if ((!INSECURE)); then
    listen=(--port 0 --tls-port "$REDIS_ACL_PORT" --tls-cert-file "$PKI/server.crt" --tls-key-file "$PKI/server.key"
      --tls-ca-cert-file "$PKI/ca.crt" --tls-auth-clients optional --aclfile "$REDIS_ACL_USERS_FILE")
  fi
  redis-server --daemonize yes --bind 127.0.0.1 "${listen[@]}" --save '' --appendonly no \
    --dir "$REDIS_ACL_DIR" --pidfile "$REDIS_ACL_PIDFILE" --logfile "$REDIS_ACL_LOG" \
    || fail redis-acl "$REDIS_ACL_LOG" "redis-server did not start"
  echo "$MODE" >"$RUN/redis-acl.mode"
  deadline=$((SECONDS + 30))
  until redis_acl_ping; do
    ((SECONDS < deadline)) || fail redis-acl "$REDIS_ACL_LOG" "no PONG within 30 s"
    sleep 0.1
  done
  say redis-acl "ready: PONG on 127.0.0.1:$REDIS_ACL_PORT (pid $(cat "$REDIS_ACL_PIDFILE"))"
  record redis-acl "$OWN_REDIS_ACL_URL" "started" "$(secs_since "$t0")"
}

# ---------------------------------------------------------------------------------------
# PostgreSQL: a private cluster owned by the postgres system user (postgres refuses to run
# as root). Data in .rotor/pg/data when the postgres user can reach it, which it can when
# every parent directory of the repo is world-searchable (true for /work/...). Otherwise
# the data goes to /var/lib/rotor-pg/<hash of the repo path>; .rotor/pg.datadir records
# which one is in use.

PG_LOG="$LOGS/postgres.log"

pg_locate() {
  PG_BIN="$(pg_bin_dir)" || fail postgres "" "no PostgreSQL server under /usr/lib/postgresql"
  if runuser -u postgres -- test -x "$STATE" 2>/dev/null; then
    PG_ROOT="$STATE/pg"
  else
    PG_ROOT="/var/lib/rotor-pg/$(printf '%s' "$ROOT" | md5sum | cut -c1-12)"
  fi
  PGDATA="$PG_ROOT/data"
  # The server writes its own log as the postgres user: next to its data when it cannot
  # reach the repo (a checkout in a 0700 directory), linked from .rotor/logs.
  if [[ "$PG_ROOT" != "$STATE/pg" ]]; then
    PG_LOG="$PG_ROOT/postgres.log"
    ln -sfn "$PG_LOG" "$LOGS/postgres.log"
  fi
  PG_SOCKDIR="$PG_ROOT/run"
  # unix socket paths are limited to 107 bytes
  if ((${#PG_SOCKDIR} > 90)); then
    PG_SOCKDIR="/tmp/rotor-pg-$(printf '%s' "$ROOT" | md5sum | cut -c1-12)"
  fi
  echo "$PGDATA" >"$PG_DATA_FILE"
}

# redacted_url URL: the URL without its password and query, for the summary.
redacted_url() { sed -E 's#://([^:/@]+):[^@]*@#://\1:***@#; s#\?.*##' <<<"$1"; }

pg_ready() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 2; }
pg_running_ours() {
  [[ -f "$PGDATA/postmaster.pid" ]] && runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1
}
pg_psql_admin() { # SQL as the postgres superuser over the private unix socket
  runuser -u postgres -- "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 \
    -h "$PG_SOCKDIR" -p "$PG_PORT" -U postgres -d postgres "$@"
}

# Unix socket: peer (the scripts, as postgres). TCP: TLS with scram-sha-256 on the secure
# stack, and nothing else; the insecure stack also takes plain TCP.
pg_write_hba() {
  local hba="$PGDATA/pg_hba.conf"
  {
    echo "# Written by scripts/services-up.sh ($MODE stack)."
    echo "local all all peer"
    if ((INSECURE)); then
      echo "host all all 127.0.0.1/32 scram-sha-256"
    else
      echo "hostssl all all 127.0.0.1/32 scram-sha-256"
      echo "host all all 0.0.0.0/0 reject"
    fi
  } >"$hba.tmp"
  chown postgres:postgres "$hba.tmp"
  mv "$hba.tmp" "$hba"
}

pg_ensure_auditor() {
  # The auditor's own role and database (its chain state and views): never the backend's admin role.
  local auditor_password=rotor_auditor
  ((INSECURE)) || auditor_password="$(secret postgres-auditor)"
  pg_psql_admin <<SQL >/dev/null || fail postgres "$PG_LOG" "creating role/database rotor_auditor/rotor_audit failed"
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rotor_auditor') THEN
    CREATE ROLE rotor_auditor LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
  END IF;
END
\$\$;
ALTER ROLE rotor_auditor PASSWORD '$auditor_password';
SELECT 'CREATE DATABASE rotor_audit OWNER rotor_auditor'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'rotor_audit')\gexec
-- Only its owner connects: not the lease roles the postgres backend mints (PUBLIC has CONNECT by default).
REVOKE CONNECT, TEMPORARY ON DATABASE rotor_audit FROM PUBLIC;
SQL
  if ((!INSECURE)); then
    (umask 077 && printf 'postgres://rotor_auditor:%s@127.0.0.1:%s/rotor_audit?sslmode=verify-full&sslrootcert=%s\n' \
      "$auditor_password" "$PG_PORT" "$PKI/ca.crt" >"$SECRETS/audit-database.url")
  fi
}

pg_up() {
  local t0
  t0="$(now_ms)"
  pg_locate
  PG_ENV="$OWN_DATABASE_URL"
  if pg_running_ours && ! mode_matches postgres; then
    say postgres "running $(cat "$RUN/postgres.mode" 2>/dev/null || echo insecure); restarting it $MODE"
    (cd / && runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PGDATA" -m fast -w -t 60 stop >/dev/null) || true
  fi
  if pg_running_ours && pg_ready; then
    pg_ensure_auditor
    say postgres "already running (data $PGDATA), ready on 127.0.0.1:$PG_PORT"
    record postgres "$(redacted_url "$OWN_DATABASE_URL")" "already running" "$(secs_since "$t0")"
    return 0
  fi
  require_free_port postgres "$PG_PORT" DATABASE_URL
  mkdir -p "$PG_ROOT" "$PG_SOCKDIR"
  chown postgres:postgres "$PG_ROOT" "$PG_SOCKDIR"
  chmod 700 "$PG_ROOT"
  touch "$PG_LOG"
  chown postgres:postgres "$PG_LOG"
  if [[ ! -f "$PGDATA/PG_VERSION" ]]; then
    local t1
    t1="$(now_ms)"
    (cd / && runuser -u postgres -- "$PG_BIN/initdb" -D "$PGDATA" -U postgres -E UTF8 --locale=C \
      --auth-local=peer --auth-host=scram-sha-256 --no-sync) >>"$PG_LOG" 2>&1 \
      || fail postgres "$PG_LOG" "initdb failed"
    say postgres "initdb $PGDATA ($("$PG_BIN/postgres" --version)) in $(secs_since "$t1") s"
  fi
  local tls_opts=""
  pg_write_hba
  if ((!INSECURE)); then
    # The server's key must belong to postgres and be private: a copy inside PGDATA.
    install -m 600 -o postgres -g postgres "$PKI/server.key" "$PGDATA/rotor-server.key"
    install -m 644 -o postgres -g postgres "$PKI/server.crt" "$PGDATA/rotor-server.crt"
    install -m 644 -o postgres -g postgres "$PKI/ca.crt" "$PGDATA/rotor-ca.crt"
    tls_opts="-c ssl=on -c ssl_cert_file=rotor-server.crt -c ssl_key_file=rotor-server.key -c ssl_ca_file=rotor-ca.crt -c ssl_min_protocol_version=TLSv1.2 -c password_encryption=scram-sha-256"
  fi
  (cd / && runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$PG_LOG" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_SOCKDIR $tls_opts" start >/dev/null) \
    || fail postgres "$PG_LOG" "pg_ctl start failed"
  echo "$MODE" >"$RUN/postgres.mode"
  pg_ready || fail postgres "$PG_LOG" "pg_isready says no after pg_ctl start"
  # role rotor (superuser: it creates the roles rotor hands out) and database rotor
  pg_psql_admin <<'SQL' || fail postgres "$PG_LOG" "creating role/database rotor failed"
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rotor') THEN
    CREATE ROLE rotor LOGIN SUPERUSER PASSWORD 'rotor';
  END IF;
END
$$;
SELECT 'CREATE DATABASE rotor OWNER rotor'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'rotor')\gexec
SQL
  # The secure stack's rotor password is this checkout's secret, not the well-known 'rotor'.
  if ((!INSECURE)); then
    pg_psql_admin -c "ALTER ROLE rotor PASSWORD '$(secret postgres-rotor)'" >/dev/null || fail postgres "$PG_LOG" "setting rotor's password failed"
  else
    pg_psql_admin -c "ALTER ROLE rotor PASSWORD 'rotor'" >/dev/null || fail postgres "$PG_LOG" "setting rotor's password failed"
  fi
  pg_ensure_auditor
  say postgres "ready on 127.0.0.1:$PG_PORT (data $PGDATA, role/db rotor; auditor role/db rotor_auditor/rotor_audit)"
  record postgres "$(redacted_url "$OWN_DATABASE_URL")" "started ($("$PG_BIN/postgres" --version | grep -oE '[0-9]+\.[0-9]+' | head -n 1))" "$(secs_since "$t0")"
}

# ---------------------------------------------------------------------------------------
# GSM emulator (tools/gsm-emulator/main.ts, run through @swc-node/register like every TS tool)

GSM_PIDFILE="$RUN/gsm.pid"
# Matches tools/gsm-emulator/main.ts and the scripts/gsm-emulator.js it replaced (a stack started before).
GSM_PATTERN="gsm-emulator"
GSM_LOG="$LOGS/gsm.log"

gsm_up() {
  local t0 msg
  t0="$(now_ms)"
  GSM_ENV="$OWN_GSM_HOST"
  if pid_alive "$GSM_PIDFILE" "$GSM_PATTERN"; then
    wait_for gsm "$GSM_PIDFILE" "$GSM_PATTERN" "$GSM_LOG" \
      "$NODE" "$ROOT/scripts/wait-for-gsm.js" 30 "$OWN_GSM_HOST" >/dev/null
    say gsm "already running (pid $(cat "$GSM_PIDFILE")), answers on $OWN_GSM_HOST"
    record gsm "$OWN_GSM_HOST" "already running" "$(secs_since "$t0")"
    return 0
  fi
  require_free_port gsm "$GSM_PORT" SECRET_MANAGER_EMULATOR_HOST
  echo "===== $(date -Is) starting GSM emulator =====" >>"$GSM_LOG"
  setsid nohup "$NODE" -r @swc-node/register "$ROOT/tools/gsm-emulator/main.ts" --host 127.0.0.1 --port "$GSM_PORT" \
    >>"$GSM_LOG" 2>&1 </dev/null &
  echo $! >"$GSM_PIDFILE"
  msg="$(wait_for gsm "$GSM_PIDFILE" "$GSM_PATTERN" "$GSM_LOG" \
    "$NODE" "$ROOT/scripts/wait-for-gsm.js" 30 "$OWN_GSM_HOST")"
  say gsm "$msg (pid $(cat "$GSM_PIDFILE"))"
  record gsm "$OWN_GSM_HOST" "started" "$(secs_since "$t0")"
}

# ---------------------------------------------------------------------------------------
# Jaeger v2 all-in-one: the local trace backend (in memory, the last 50,000 traces). The
# services export to its OTLP/HTTP receiver over TLS with a client certificate (mTLS); its UI
# and query API answer over TLS, on loopback only. The binary is built by scripts/go-tools.sh.

JAEGER_PIDFILE="$RUN/jaeger.pid"
JAEGER_PATTERN="go-tools/bin/jaeger"
JAEGER_LOG="$LOGS/jaeger.log"
GO_TOOLS_LOG="$LOGS/go-tools.log"
GO_TOOLS_PID=""

# Starts the Go tools' build in the background when a binary is missing (minutes, once per machine).
go_tools_start() {
  bash "$ROOT/scripts/go-tools.sh" --check >/dev/null 2>&1 && return 0
  say go "building Jaeger and promtool once for this machine, in the background (log: $GO_TOOLS_LOG)"
  bash "$ROOT/scripts/go-tools.sh" >"$GO_TOOLS_LOG" 2>&1 &
  GO_TOOLS_PID=$!
}

go_tools_wait() {
  [[ -n "$GO_TOOLS_PID" ]] || return 0
  local t0
  t0="$(now_ms)"
  wait "$GO_TOOLS_PID" || fail go "$GO_TOOLS_LOG" "building the Go tools failed"
  say go "Jaeger and promtool built (waited $(secs_since "$t0") s for them here)"
  SETUP_NOTES+=("Go tools built (Jaeger, promtool), waited $(secs_since "$t0") s after the rest was up")
}

# jaeger_tls [CLIENT_CA]: the tls block of a listener, indented under it (nothing on an insecure stack).
jaeger_tls() {
  ((INSECURE)) && return 0
  printf '%s\n' "        tls:" "          cert_file: $PKI/server.crt" "          key_file: $PKI/server.key"
  [[ -z "${1:-}" ]] || printf '%s\n' "          client_ca_file: $1"
}

jaeger_config() {
  cat <<YAML
# Written by scripts/services-up.sh.
service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    resource:
      service.name: jaeger
    metrics:
      level: none
    logs:
      level: warn
extensions:
  healthcheckv2:
    use_v2: true
    http:
      endpoint: 127.0.0.1:$JAEGER_HEALTH_PORT
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 50000
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:$JAEGER_UI_PORT
$(jaeger_tls | sed 's/^  //')
    grpc:
      endpoint: 127.0.0.1:$JAEGER_QUERY_GRPC_PORT
$(jaeger_tls | sed 's/^  //')
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:$JAEGER_OTLP_PORT
$(jaeger_tls "$PKI/ca.crt")
processors:
  batch:
    timeout: 200ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
YAML
}

jaeger_answers() { curl -fsS --max-time 2 "http://127.0.0.1:$JAEGER_HEALTH_PORT/status" >/dev/null 2>&1; }

jaeger_up() {
  local t0 bin config deadline ui
  t0="$(now_ms)"
  bin="$STATE/cache/go-tools/bin/jaeger"
  ui="https://127.0.0.1:$JAEGER_UI_PORT"
  ((INSECURE)) && ui="http://127.0.0.1:$JAEGER_UI_PORT"
  mkdir -p "$STATE/jaeger"
  config="$STATE/jaeger/config.yaml"
  if pid_alive "$JAEGER_PIDFILE" "$JAEGER_PATTERN" && jaeger_answers && [[ "$(jaeger_config)" == "$(cat "$config" 2>/dev/null)" ]]; then
    say jaeger "already running (pid $(cat "$JAEGER_PIDFILE")), UI $ui"
    record jaeger "127.0.0.1:$JAEGER_OTLP_PORT, UI $ui" "already running" "$(secs_since "$t0")"
    return 0
  fi
  # Running in the other mode (secure/insecure) or with an older configuration: start it again.
  if pid_alive "$JAEGER_PIDFILE" "$JAEGER_PATTERN"; then
    kill "$(cat "$JAEGER_PIDFILE")" 2>/dev/null || true
    sleep 1
  fi
  [[ -x "$bin" ]] || fail jaeger "$GO_TOOLS_LOG" "no Jaeger binary at $bin (bash scripts/go-tools.sh jaeger builds it)"
  require_free_port jaeger "$JAEGER_OTLP_PORT" OTEL_EXPORTER_OTLP_ENDPOINT
  require_free_port jaeger "$JAEGER_UI_PORT" OTEL_EXPORTER_OTLP_ENDPOINT
  jaeger_config >"$config"
  echo "===== $(date -Is) starting Jaeger =====" >>"$JAEGER_LOG"
  setsid nohup "$bin" --config "$config" >>"$JAEGER_LOG" 2>&1 </dev/null &
  echo $! >"$JAEGER_PIDFILE"
  deadline=$((SECONDS + 30))
  until jaeger_answers; do
    pid_alive "$JAEGER_PIDFILE" "$JAEGER_PATTERN" || fail jaeger "$JAEGER_LOG" "Jaeger exited during start-up"
    ((SECONDS < deadline)) || fail jaeger "$JAEGER_LOG" "Jaeger did not answer within 30 s"
    sleep 0.2
  done
  say jaeger "ready: OTLP 127.0.0.1:$JAEGER_OTLP_PORT, UI $ui (pid $(cat "$JAEGER_PIDFILE"))"
  record jaeger "127.0.0.1:$JAEGER_OTLP_PORT, UI $ui" "started" "$(secs_since "$t0")"
}

# ---------------------------------------------------------------------------------------

write_env() {
  local tmp="$STATE/env.tmp" svc
  (
    umask 077
    cat >"$tmp" <<EOF
# Written by scripts/services-up.sh on $(date -Is) ($MODE stack). Source it: . .rotor/env
# Connects as the stack's admin principals (scripts, tests); each service gets its own
# principals from .rotor/service-env/<service>.env on top of this.
export KAFKA_BROKERS=$KAFKA_ENV
export REDIS_URL=$REDIS_ENV
export ROTOR_REDIS_ACL_URL=$REDIS_ACL_ENV
export DATABASE_URL='$PG_ENV'
export SECRET_MANAGER_EMULATOR_HOST=$GSM_ENV
export GSM_PROJECT=$GSM_PROJECT
export METADATA_SERVER_DETECTION=none
export ROTOR_TEST_KAFKA_NAMESPACES=$TEST_KAFKA_NAMESPACES
EOF
    if ((INSECURE)); then
      echo "export ROTOR_INSECURE_LOCAL=1" >>"$tmp"
    else
      cat >>"$tmp" <<EOF
export ROTOR_CA_FILE=$PKI/ca.crt
export NODE_EXTRA_CA_CERTS=$PKI/ca.crt
export KAFKA_SSL_CA_FILE=$PKI/ca.crt
export KAFKA_SASL_MECHANISM=scram-sha-512
export KAFKA_SASL_USERNAME=admin
export KAFKA_SASL_PASSWORD_FILE=$SECRETS/kafka-admin.password
export REDIS_CA_FILE=$PKI/ca.crt
export REDIS_USERNAME=admin
export REDIS_PASSWORD_FILE=$SECRETS/redis-admin.password
export ROTOR_TLS_CERT_FILE=$PKI/server.crt
export ROTOR_TLS_KEY_FILE=$PKI/server.key
EOF
    fi
    if ((TRACING && !INSECURE)); then
      # The standard OpenTelemetry variables (libs/tracing): every service exports its spans to Jaeger.
      cat >>"$tmp" <<EOF
export OTEL_EXPORTER_OTLP_ENDPOINT=https://127.0.0.1:$JAEGER_OTLP_PORT
export OTEL_EXPORTER_OTLP_CERTIFICATE=$PKI/ca.crt
export OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE=$PKI/otel-exporter.crt
export OTEL_EXPORTER_OTLP_CLIENT_KEY=$PKI/otel-exporter.key
export ROTOR_JAEGER_QUERY_URL=https://127.0.0.1:$JAEGER_UI_PORT
EOF
    elif ((TRACING)); then
      cat >>"$tmp" <<EOF
export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$JAEGER_OTLP_PORT
export ROTOR_JAEGER_QUERY_URL=http://127.0.0.1:$JAEGER_UI_PORT
EOF
    else
      echo "export OTEL_SDK_DISABLED=true" >>"$tmp"
    fi

    mkdir -p "$STATE/service-env"
    for svc in issuer revoker distributor auditor cli; do
      if ((INSECURE)); then : >"$STATE/service-env/$svc.env"; else service_env "$svc" >"$STATE/service-env/$svc.env"; fi
    done
  )
  mv "$tmp" "$STATE/env"
}

print_summary() {
  local total="$1" svc
  echo
  echo "rotor services (total $total s):"
  for svc in kafka redis redis-acl postgres gsm jaeger; do
    [[ -n "${SUMMARY_WHERE[$svc]:-}" ]] || continue
    printf '  %-9s %-46s %-26s %6s s\n' "$svc" "${SUMMARY_WHERE[$svc]}" "${SUMMARY_HOW[$svc]}" "${SUMMARY_TIME[$svc]}"
  done
  local note
  for note in "${SETUP_NOTES[@]}"; do echo "  setup:    $note (included above)"; done
  echo "  env:      . .rotor/env   (logs in .rotor/logs, stop with scripts/services-down.sh)"
}

main() {
  if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
  fi
  local t0 need_redis=1 need_pg=1 need_kafka=1
  t0="$(now_ms)"
  mkdir -p "$RUN" "$LOGS" "$KAFKA_HOME"
  cd "$ROOT"

  # Decide what we must run ourselves before installing anything.
  REDIS_EXTERNAL=0 REDIS_ACL_EXTERNAL=0 PG_EXTERNAL=0 GSM_EXTERNAL=0
  if ! pid_alive "$REDIS_PIDFILE" "$REDIS_PATTERN" &&
    use_external redis REDIS_URL "$IN_REDIS_URL" external_redis_ok; then
    REDIS_EXTERNAL=1 need_redis=0 REDIS_ENV="$IN_REDIS_URL"
  fi
  if ! pid_alive "$REDIS_ACL_PIDFILE" "$REDIS_PATTERN" &&
    use_external redis-acl ROTOR_REDIS_ACL_URL "$IN_REDIS_ACL_URL" external_redis_ok; then
    REDIS_ACL_EXTERNAL=1 REDIS_ACL_ENV="$IN_REDIS_ACL_URL"
  fi
  ((REDIS_EXTERNAL && REDIS_ACL_EXTERNAL)) || need_redis=1
  local pg_ours=0
  if [[ -n "$(pg_bin_dir)" ]]; then
    pg_locate
    pg_running_ours && pg_ready && pg_ours=1
  fi
  if [[ "$pg_ours" == 0 ]] && use_external postgres DATABASE_URL "$IN_DATABASE_URL" external_pg_ok; then
    PG_EXTERNAL=1 need_pg=0 PG_ENV="$IN_DATABASE_URL"
  fi
  if ! pid_alive "$GSM_PIDFILE" "$GSM_PATTERN" &&
    use_external gsm SECRET_MANAGER_EMULATOR_HOST "$IN_GSM_HOST" external_gsm_ok; then
    GSM_EXTERNAL=1 GSM_ENV="$IN_GSM_HOST"
  fi
  if pid_alive "$KAFKA_PIDFILE" "$KAFKA_PATTERN" || [[ -n "$IN_KAFKA_BROKERS" ]]; then
    need_kafka=0 # running, or maybe external: kafka_start decides (it still fetches the jars)
  fi
  ((TRACING)) && go_tools_start # compiles while the rest installs and starts
  ensure_packages "$need_redis" "$need_pg" "$need_kafka"
  if ((!INSECURE)); then
    ensure_pki
    OWN_DATABASE_URL="postgres://rotor:$(secret postgres-rotor)@127.0.0.1:$PG_PORT/rotor?sslmode=verify-full&sslrootcert=$PKI/ca.crt"
  else
    say warn "ROTOR_INSECURE_LOCAL=1: starting an INSECURE stack (plaintext Kafka without ACLs, Redis without password, PostgreSQL without TLS)"
  fi

  kafka_start # Kafka boots in the background while the others start
  [[ "$REDIS_EXTERNAL" == 1 ]] || redis_up
  [[ "$REDIS_ACL_EXTERNAL" == 1 ]] || redis_acl_up
  [[ "$PG_EXTERNAL" == 1 ]] || pg_up
  [[ "$GSM_EXTERNAL" == 1 ]] || gsm_up
  kafka_ready
  if ((TRACING)); then
    go_tools_wait
    jaeger_up
  fi

  write_env
  print_summary "$(secs_since "$t0")"
}

main "$@"
