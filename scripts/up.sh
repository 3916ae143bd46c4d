#!/usr/bin/env bash
# Runs the whole system locally on its defaults: the backing services (Kafka, Redis,
# PostgreSQL, GSM emulator) and the four rotor services, in the background.
# Logs: .rotor/logs/apps/<service>.log. Stop with `npm stop`.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

ensure_node_modules
bash scripts/services-up.sh
load_services_env
ensure_dev_keys
export ROTOR_CATALOG="${ROTOR_CATALOG:-$ROOT/config/catalog.yaml}" ROTOR_JWKS="${ROTOR_JWKS:-$ROOT/config/jwks.json}" KAFKAJS_NO_PARTITIONER_WARNING=1
# The example catalog's file target is under /tmp/rotor-local; the distributor writes nowhere else.
export ROTOR_FILE_TARGET_ROOTS="${ROTOR_FILE_TARGET_ROOTS:-/tmp/rotor-local}"

APP_LOGS="$ROOT/.rotor/logs/apps"
RUN="$ROOT/.rotor/run"
mkdir -p "$APP_LOGS" "$RUN"
declare -A PORTS=([issuer]=8080 [revoker]=8081 [distributor]=8082 [auditor]=8083)

SCHEME=https
CURL=(curl -fsS --cacert "$ROOT/.rotor/tls/ca.crt")
if [[ "${ROTOR_INSECURE_LOCAL:-}" == 1 ]]; then
  SCHEME=http CURL=(curl -fsS)
  echo "[warn ] ROTOR_INSECURE_LOCAL=1: the services run WITHOUT TLS, Kafka/Redis authentication or ACLs" >&2
fi

running() { [[ -s "$RUN/$1.pid" ]] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null && [[ -d "/proc/$(cat "$RUN/$1.pid")" ]]; }

# No kube-apiserver can run here: unless KUBECONFIG points at a real cluster, the distributor's
# kubernetes-secret targets go to the fake API server (tools/fake-kube-api, the one the tests use).
if [[ -z "${KUBECONFIG:-}" ]]; then
  export KUBECONFIG="$ROOT/.rotor/kubeconfig"
  if ! running kube-api; then
    setsid nohup node -r @swc-node/register tools/fake-kube-api/main.ts --port 6443 --kubeconfig-out "$KUBECONFIG" \
      >>"$APP_LOGS/kube-api.log" 2>&1 </dev/null &
    echo $! >"$RUN/kube-api.pid"
    for _ in $(seq 1 60); do [[ -s "$KUBECONFIG" ]] && curl -fsS http://127.0.0.1:6443/healthz >/dev/null 2>&1 && break; sleep 0.25; done
  fi
  echo "[kube-api] fake API server on http://127.0.0.1:6443 (kubeconfig: .rotor/kubeconfig)"
fi

for svc in issuer revoker distributor auditor; do
  if running "$svc"; then
    echo "[$svc] already running (pid $(cat "$RUN/$svc.pid"))"
    continue
  fi
  # Each service as its own Kafka and Redis principal (.rotor/service-env/<svc>.env).
  (
    # shellcheck disable=SC1090
    [[ -f "$ROOT/.rotor/service-env/$svc.env" ]] && . "$ROOT/.rotor/service-env/$svc.env"
    PORT="${PORTS[$svc]}" exec setsid nohup node -r @swc-node/register "apps/$svc/src/main.ts" >>"$APP_LOGS/$svc.log" 2>&1 </dev/null
  ) &
  echo $! >"$RUN/$svc.pid"
done

for svc in issuer revoker distributor auditor; do
  deadline=$((SECONDS + 90))
  until "${CURL[@]}" "$SCHEME://127.0.0.1:${PORTS[$svc]}/readyz" >/dev/null 2>&1; do
    if ! running "$svc" || ((SECONDS > deadline)); then
      echo "[$svc] did not become ready; last log lines:" >&2
      tail -n 30 "$APP_LOGS/$svc.log" >&2
      exit 1
    fi
    sleep 0.5
  done
  echo "[$svc] ready on $SCHEME://127.0.0.1:${PORTS[$svc]}  (OpenAPI: /docs, metrics: /metrics)"
done

cat <<'EOT'

rotor is up, secure by default: HTTPS with certificates from the local CA (.rotor/tls/ca.crt),
Kafka over SASL_SSL with one principal per service, Redis and PostgreSQL over TLS with users.
A first request: a workload in namespace "demo" asks for a 2-minute token.

  . .rotor/env   # ROTOR_CA_FILE and friends, for the CLI
  TOKEN=$(npm run -s rotor -- dev token --namespace demo --service-account app)
  curl -s --cacert .rotor/tls/ca.crt -X POST https://127.0.0.1:8080/v1/credentials \
       -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
       -d '{"role":"demo-token","ttl":"2m"}'

Then follow it: `npm run -s rotor -- audit events --lease <leaseId> --dev` (--dev mints an auditor dev token).
The managed secret demo-api-key is delivered to a Secret on the fake API server and to /tmp/rotor-local/demo-api-key:
  npm run -s rotor -- deliveries list --secret demo-api-key --dev
`npm stop` when done. Logs: .rotor/logs/apps/.
EOT
