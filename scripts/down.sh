#!/usr/bin/env bash
# Stops the four rotor services (and the fake API server) started by scripts/up.sh, then the backing services.
# `npm stop -- --purge` also deletes the services' data.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN="$ROOT/.rotor/run"
for svc in issuer revoker distributor auditor revoker-2 auditor-2 kube-api oidc-provider; do
  pidfile="$RUN/$svc.pid"
  [[ -s "$pidfile" ]] || continue
  pid="$(cat "$pidfile")"
  if kill -0 "$pid" 2>/dev/null && [[ -d "/proc/$pid" ]]; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do
      [[ -d "/proc/$pid" ]] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null || break
      sleep 0.25
    done
    echo "[$svc] stopped"
  fi
  rm -f "$pidfile"
done
# The clustered topology's engines, when they ran (npm start -- --cluster).
if [[ -d "$ROOT/.rotor/kafka-cluster" ]]; then
  bash "$ROOT/scripts/kafka-cluster.sh" down
  [[ " $* " == *" --purge "* ]] && rm -rf "$ROOT/.rotor/kafka-cluster"
fi
[[ -x "$ROOT/scripts/redis-cluster.sh" && -d "$ROOT/.rotor/redis-cluster" ]] && bash "$ROOT/scripts/redis-cluster.sh" down
# The chaos run's own Redis Cluster, should an interrupted run have left it up.
if [[ -d "$ROOT/.rotor/redis-cluster-chaos" ]]; then
  ROTOR_REDIS_CLUSTER_NAME=chaos ROTOR_REDIS_CLUSTER_PORT=7101 bash "$ROOT/scripts/redis-cluster.sh" down
fi
bash "$ROOT/scripts/services-down.sh" "$@"
