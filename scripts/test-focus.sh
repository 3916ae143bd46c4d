#!/usr/bin/env bash
# Runs chosen integration or e2e suites against the real services (started if they are not up):
#   npm run test:focus -- test/integration/revoker.int-spec.ts [more paths or jest flags]
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
ensure_node_modules
export NX_DAEMON=false NX_NO_CLOUD=true KAFKAJS_NO_PARTITIONER_WARNING=1
bash scripts/services-up.sh >/dev/null
load_services_env
ensure_dev_keys
# The upper test namespaces (tools/jest/worker-environment.js), so a focused run and a full one can share the stack.
export ROTOR_TEST_WORKER_OFFSET="${ROTOR_TEST_WORKER_OFFSET:-3}"
exec jest --selectProjects integration --runInBand --forceExit "$@"
