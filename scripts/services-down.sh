#!/usr/bin/env bash
# Stops the services scripts/services-up.sh started (found through .rotor/run/*.pid and the
# PostgreSQL data dir recorded in .rotor/pg.datadir). Never touches services it did not
# start. Idempotent. Data stays in place unless --purge is given, which also deletes
# .rotor/kafka/data, .rotor/redis, .rotor/redis-acl and the PostgreSQL cluster (downloaded jars stay).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Real paths: a worktree may share another checkout's stack through a .rotor symlink.
STATE="$(realpath -m "$ROOT/.rotor")"
RUN="$STATE/run"
REDIS_PORT=6379

PURGE=0
for arg in "$@"; do
  case "$arg" in
    --purge) PURGE=1 ;;
    -h | --help)
      sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "usage: $0 [--purge]" >&2
      exit 2
      ;;
  esac
done

now_ms() { date +%s%3N; }
secs_since() { awk -v a="$1" -v b="$(now_ms)" 'BEGIN { printf "%.1f", (b - a) / 1000 }'; }
say() { printf '[%-8s] %s\n' "$1" "$2"; }

# running PID: the process exists and is not a zombie. (PID 1 on these machines reaps
# orphans only about once a second, so `kill -0` alone would see a stopped service as alive.)
running() {
  local state
  state="$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" || return 1
  [[ -n "$state" && "$state" != Z ]]
}

# live_pid PIDFILE PATTERN: prints the pid when it runs and its command line has PATTERN.
live_pid() {
  local file="$1" pattern="$2" pid
  [[ -s "$file" ]] || return 1
  pid="$(head -n 1 "$file" | tr -dc '0-9')"
  [[ -n "$pid" ]] && running "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$pattern" || return 1
  echo "$pid"
}

# stop_pid SVC PID GRACE_SECONDS: SIGTERM, wait, then SIGKILL.
stop_pid() {
  local svc="$1" pid="$2" grace="$3" deadline
  kill -TERM "$pid" 2>/dev/null || return 0
  deadline=$((SECONDS + grace))
  while running "$pid"; do
    if ((SECONDS >= deadline)); then
      say "$svc" "still running after ${grace}s, sending SIGKILL to $pid"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
      break
    fi
    sleep 0.2
  done
}

stop_by_pidfile() { # SVC PIDFILE PATTERN GRACE
  local svc="$1" file="$2" pattern="$3" grace="$4" pid t0
  if pid="$(live_pid "$file" "$pattern")"; then
    t0="$(now_ms)"
    stop_pid "$svc" "$pid" "$grace"
    say "$svc" "stopped (pid $pid) in $(secs_since "$t0") s"
  else
    say "$svc" "not running"
  fi
  rm -f "$file"
}

stop_redis() { # stop_redis [NAME]: redis (rotor's own) or redis-acl (the redis-acl backend's)
  local name="${1:-redis}" file pid t0 deadline
  file="$RUN/$name.pid"
  if pid="$(live_pid "$file" redis-server)"; then
    t0="$(now_ms)"
    # SIGTERM is Redis's SHUTDOWN (the append-only file is flushed), and needs no TLS or ACL user.
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 20))
    while running "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
    running "$pid" && stop_pid "$name" "$pid" 5
    say "$name" "stopped (pid $pid) in $(secs_since "$t0") s"
  else
    say "$name" "not running"
  fi
  rm -f "$file"
}

stop_postgres() {
  local pgdata pgbin t0
  if [[ -s "$STATE/pg.datadir" ]]; then
    pgdata="$(cat "$STATE/pg.datadir")"
  elif [[ -f "$STATE/pg/data/PG_VERSION" ]]; then
    pgdata="$STATE/pg/data" # the record was lost; the cluster is where services-up.sh puts it
  else
    say postgres "not running (no cluster recorded)"
    return 0
  fi
  if [[ -f "$pgdata/postmaster.pid" ]]; then
    pgbin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
    t0="$(now_ms)"
    if runuser -u postgres -- "$pgbin/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
      (cd / && runuser -u postgres -- "$pgbin/pg_ctl" -D "$pgdata" -m fast -w -t 60 stop >/dev/null)
      say postgres "stopped ($pgdata) in $(secs_since "$t0") s"
    else
      say postgres "not running (stale postmaster.pid left for postgres to clean up)"
    fi
  else
    say postgres "not running"
  fi
}

purge() {
  local pgdata=""
  [[ -s "$STATE/pg.datadir" ]] && pgdata="$(cat "$STATE/pg.datadir")"
  [[ -z "$pgdata" && -f "$STATE/pg/data/PG_VERSION" ]] && pgdata="$STATE/pg/data"
  rm -rf "$STATE/kafka/data" "$STATE/kafka/cluster.id" "$STATE/redis" "$STATE/redis-acl"
  if [[ -n "$pgdata" ]]; then
    rm -rf "$(dirname "$pgdata")" # the pg root: data/ and run/
    rm -f "$STATE/pg.datadir"
  fi
  rm -f "$STATE/env"
  say purge "deleted Kafka, Redis and PostgreSQL data${pgdata:+ ($pgdata)}"
}

main() {
  [[ -d "$STATE" ]] || {
    say all "nothing to stop (.rotor does not exist)"
    exit 0
  }
  local t0
  t0="$(now_ms)"
  stop_by_pidfile jaeger "$RUN/jaeger.pid" go-tools/bin/jaeger 5
  stop_by_pidfile gsm "$RUN/gsm.pid" gsm-emulator 5 # tools/gsm-emulator/main.ts, or the older scripts/gsm-emulator.js
  stop_by_pidfile kafka "$RUN/kafka.pid" kafka.Kafka 45
  stop_redis
  stop_redis redis-acl
  stop_postgres
  ((PURGE)) && purge
  say all "done in $(secs_since "$t0") s"
}

main
