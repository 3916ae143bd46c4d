#!/usr/bin/env bash
# The whole test suite: lint, type-check, unit, then integration and e2e against the real
# Kafka, Redis, PostgreSQL, GSM emulator and Jaeger (started here if they are not up).
#   npm test            everything, ending with a 4-minute chaos run (docs/chaos.md; ROTOR_TEST_CHAOS=0 skips it)
#   npm test -- --unit  lint, type-check and unit tests only (no services needed)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

UNIT_ONLY=0
# Suites that run alone after the others: issuer-failfast freezes the shared Kafka broker (SIGSTOP);
# kafka-password-change changes the revoker principal's password on it; the cluster suites start three Kafka JVMs or six Redis servers, which starve the other workers.
SERIAL_SUITES=(
  test/integration/issuer-failfast.int-spec.ts
  test/integration/kafka-password-change.int-spec.ts
  test/integration/kafka-cluster.int-spec.ts
  test/integration/redis-cluster.int-spec.ts
)
[[ "${1:-}" == --unit ]] && UNIT_ONLY=1

ensure_node_modules
export NX_DAEMON=false NX_NO_CLOUD=true KAFKAJS_NO_PARTITIONER_WARNING=1
REPORTS="$ROOT/.rotor/test-reports"
mkdir -p "$REPORTS"
rm -f "$REPORTS"/*.json

declare -a TIMINGS=()
# The machine's busy and total CPU ticks (/proc/stat): a step at 100 % gains nothing from more
# workers, only from less work; one well below it is waiting on something.
cpu_ticks() { awk '/^cpu / { busy = $2 + $3 + $4 + $7 + $8; print busy, busy + $5 + $6 }' /proc/stat; }
step() {
  local name="$1" t0 b0 a0 b1 a1
  shift
  t0=$(date +%s%3N)
  read -r b0 a0 < <(cpu_ticks)
  echo
  echo "=== $name"
  "$@"
  read -r b1 a1 < <(cpu_ticks)
  TIMINGS+=("$(printf '%-12s %6.1f s  CPU %3d %% busy' "$name" "$(awk -v a="$t0" -v b="$(date +%s%3N)" 'BEGIN { print (b - a) / 1000 }')" \
    "$(awk -v b="$((b1 - b0))" -v a="$((a1 - a0))" 'BEGIN { print (a > 0 ? int(100 * b / a) : 0) }')")")
}

t_start=$(date +%s%3N)
# Jaeger and promtool (scripts/go-tools.sh): built once per machine, minutes on a fresh one, so
# the build starts now and overlaps lint, type-check and the services' start (which waits for it).
GO_TOOLS_PID=""
if ! bash scripts/go-tools.sh --check; then
  mkdir -p "$ROOT/.rotor/logs"
  echo "[go   ] building Jaeger and promtool in the background (.rotor/logs/go-tools-build.log)"
  bash scripts/go-tools.sh >"$ROOT/.rotor/logs/go-tools-build.log" 2>&1 &
  GO_TOOLS_PID=$!
fi
go_tools_built() {
  [[ -z "$GO_TOOLS_PID" ]] && return 0
  wait "$GO_TOOLS_PID" || { tail -20 "$ROOT/.rotor/logs/go-tools-build.log" >&2; return 1; }
}
# @nx/enforce-module-boundaries reads Nx's cached project graph and silently skips itself
# without one (a fresh clone): compute it first, so CI enforces the boundaries too.
step graph env NX_DAEMON=false nx show projects --json >/dev/null
step lint eslint . --max-warnings=0
step format prettier --check . --log-level warn
step typecheck tsc -p tsconfig.json --noEmit
if [[ "$UNIT_ONLY" == 0 ]]; then
  step services bash scripts/services-up.sh
fi
# The unit project checks the alert rules with promtool (test/static/observability.spec.ts).
step go-tools go_tools_built
step unit jest --selectProjects unit --ci --json --outputFile="$REPORTS/unit.json"
if [[ "$UNIT_ONLY" == 0 ]]; then
  load_services_env
  ensure_dev_keys
  # Suites run in parallel workers, each its own installation on the stack (tools/jest/worker-environment.js);
  # a suite that disturbs the shared services themselves runs alone afterwards.
  step integration jest --selectProjects integration --ci --maxWorkers="${ROTOR_TEST_WORKERS:-3}" --forceExit \
    --testPathIgnorePatterns "${SERIAL_SUITES[@]}" --json --outputFile="$REPORTS/integration.json"
  step serial jest --selectProjects integration --ci --runInBand --forceExit "${SERIAL_SUITES[@]}" \
    --json --outputFile="$REPORTS/integration-serial.json"
  # The chaos run (docs/chaos.md): load and a seeded fault schedule on the clustered topology,
  # then the invariants; 4 minutes with a fixed seed (ROTOR_CHAOS_SEED, ROTOR_CHAOS_MINUTES).
  # ROTOR_TEST_CHAOS=0 leaves it out (a quicker local run); CI always runs it.
  if [[ "${ROTOR_TEST_CHAOS:-1}" != 0 ]]; then
    step chaos node -r @swc-node/register tools/chaos/main.ts \
      --minutes "${ROTOR_CHAOS_MINUTES:-4}" --seed "${ROTOR_CHAOS_SEED:-15}"
  fi
fi

echo
echo "=== timings"
printf '  %s\n' "${TIMINGS[@]}"
printf '  %-12s %6.1f s\n' total "$(awk -v a="$t_start" -v b="$(date +%s%3N)" 'BEGIN { print (b - a) / 1000 }')"
# One plain closing line with the counts of every Jest run (failures stop the script earlier).
node -e '
  const fs = require("fs");
  let passed = 0, failed = 0, skipped = 0;
  for (const f of fs.readdirSync(process.argv[1])) {
    const r = JSON.parse(fs.readFileSync(process.argv[1] + "/" + f, "utf8"));
    passed += r.numPassedTests; failed += r.numFailedTests; skipped += r.numPendingTests + r.numTodoTests;
  }
  console.log(`tests: ${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ""));
  process.exit(failed > 0 ? 1 : 0);
' "$REPORTS"
