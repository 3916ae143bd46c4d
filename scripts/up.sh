#!/usr/bin/env bash
# Runs the whole system locally on its defaults: the backing services (Kafka, Redis,
# PostgreSQL, GSM emulator) and the four rotor services, in the background.
# `--cluster`: on a three-node Kafka cluster, with a second revoker and auditor.
# Logs: .rotor/logs/apps/<service>.log. Stop with `npm stop`.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

# `npm start -- --cluster` (or ROTOR_TOPOLOGY=cluster): the clustered topology of issue 15, a
# three-node Kafka cluster (scripts/kafka-cluster.sh) and a second revoker and auditor.
TOPOLOGY="${ROTOR_TOPOLOGY:-single}"
[[ "${1:-}" == --cluster ]] && TOPOLOGY=cluster
[[ "$TOPOLOGY" == single || "$TOPOLOGY" == cluster ]] || {
  echo "ROTOR_TOPOLOGY must be single or cluster, not $TOPOLOGY" >&2
  exit 2
}

ensure_node_modules
ensure_build # the services run compiled, as they ship (dist/apps/<app>/main.js)
bash scripts/services-up.sh
load_services_env
ensure_dev_keys
if [[ "$TOPOLOGY" == cluster ]]; then
  bash scripts/kafka-cluster.sh up
  # shellcheck disable=SC1091
  . "$ROOT/.rotor/kafka-cluster/env"
  # Another installation than the single-broker one: its own Redis database and GSM project, so
  # that neither reads the other's state (the auditor's chain heads name the other cluster's offsets).
  [[ "$REDIS_URL" =~ ^([a-z]+://[^/]+) ]] && export REDIS_URL="${BASH_REMATCH[1]}/9"
  export GSM_PROJECT=rotor-local-cluster
  if [[ -x "$ROOT/scripts/redis-cluster.sh" && "${ROTOR_REDIS_CLUSTER:-1}" == 1 ]]; then
    bash scripts/redis-cluster.sh up
    # shellcheck disable=SC1091
    . "$ROOT/.rotor/redis-cluster/env"
  fi
fi
export ROTOR_CATALOG="${ROTOR_CATALOG:-$ROOT/config/catalog.yaml}" ROTOR_JWKS="${ROTOR_JWKS:-$ROOT/config/jwks.json}" KAFKAJS_NO_PARTITIONER_WARNING=1
# The example catalog's file target is under /tmp/rotor-local; the distributor writes nowhere else.
export ROTOR_FILE_TARGET_ROOTS="${ROTOR_FILE_TARGET_ROOTS:-/tmp/rotor-local}"

APP_LOGS="$ROOT/.rotor/logs/apps"
RUN="$ROOT/.rotor/run"
mkdir -p "$APP_LOGS" "$RUN"
declare -A PORTS=([issuer]=8080 [revoker]=8081 [distributor]=8082 [auditor]=8083 [revoker-2]=8091 [auditor-2]=8093)
SERVICES=(issuer revoker distributor auditor)
[[ "$TOPOLOGY" == cluster ]] && SERVICES+=(revoker-2 auditor-2) # replicas: the same app, its own port

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
  # The fake holds no pods for local workloads' tokens: the revoker's pod sweep would end every
  # pod-bound lease. Off unless asked for (ROTOR_POD_SWEEP_MS=30000 npm start, with pods seeded).
  export ROTOR_POD_SWEEP_MS="${ROTOR_POD_SWEEP_MS:-0}"
fi

# The OpenID Provider operators sign in with (`npm run rotor -- login`): a stand-in for the
# organisation's IdP, with three people whose passwords are in .rotor/oidc/passwords.
OIDC_PORT=5556
if ! running oidc-provider; then
  rm -f "$RUN/oidc-provider.url"
  setsid nohup node -r @swc-node/register tools/oidc-provider/main.ts --port "$OIDC_PORT" --state-dir "$ROOT/.rotor/oidc" \
    --url-out "$RUN/oidc-provider.url" >>"$APP_LOGS/oidc-provider.log" 2>&1 </dev/null &
  echo $! >"$RUN/oidc-provider.pid"
  for _ in $(seq 1 80); do [[ -s "$RUN/oidc-provider.url" ]] && break; sleep 0.25; done
  [[ -s "$RUN/oidc-provider.url" ]] || { echo "[oidc-provider] did not start; see $APP_LOGS/oidc-provider.log" >&2; exit 1; }
fi
echo "[oidc-provider] $(cat "$RUN/oidc-provider.url") (people and passwords: .rotor/oidc/passwords)"
# Operators come only from that provider; its IdP groups map to rotor's. The rotor:* entries let
# `--dev` operator tokens (signed with the provider's key) name rotor's groups directly.
export ROTOR_OPERATOR_ISSUER="$SCHEME://127.0.0.1:$OIDC_PORT"
export ROTOR_OPERATOR_GROUP_MAP="${ROTOR_OPERATOR_GROUP_MAP:-platform-sre=rotor:sre,security-audit=rotor:auditor,security-audit=rotor:introspect,rotor:sre=rotor:sre,rotor:auditor=rotor:auditor,rotor:introspect=rotor:introspect}"

for svc in "${SERVICES[@]}"; do
  app="${svc%-2}"
  if running "$svc"; then
    echo "[$svc] already running (pid $(cat "$RUN/$svc.pid"))"
    continue
  fi
  # Each service as its own Kafka and Redis principal (.rotor/service-env/<app>.env).
  (
    # shellcheck disable=SC1090
    [[ -f "$ROOT/.rotor/service-env/$app.env" ]] && . "$ROOT/.rotor/service-env/$app.env"
    PORT="${PORTS[$svc]}" exec setsid nohup node "dist/apps/$app/main.js" >>"$APP_LOGS/$svc.log" 2>&1 </dev/null
  ) &
  echo $! >"$RUN/$svc.pid"
done

for svc in "${SERVICES[@]}"; do
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

Sign in as an operator (people and passwords: .rotor/oidc/passwords; `--browser` for a sign-in page):
  npm run -s rotor -- login && npm run -s rotor -- whoami
Then follow the lease: `npm run -s rotor -- audit events --lease <leaseId>` (or add --dev for a dev token).
The managed secret demo-api-key is delivered to a Secret on the fake API server and to /tmp/rotor-local/demo-api-key:
  npm run -s rotor -- deliveries list --secret demo-api-key --dev
Traces go to Jaeger (its UI page is a placeholder here); send your own traceparent, or take trace_id from a log line:
  npm run -s rotor -- trace show <32-hex trace id>
`npm stop` when done. Logs: .rotor/logs/apps/.
EOT
