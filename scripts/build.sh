#!/usr/bin/env bash
# Compiles every app (apps/<app>/src/main.ts) and the libs they use to CommonJS under dist/,
# runnable with plain `node dist/apps/<app>/main.js` (no TypeScript runtime, no tsconfig-paths).
#
# How:
#   1. swc compiles apps/ and libs/ (specs excluded) into dist/, keeping the repository layout
#      (dist/apps/issuer/src/…, dist/libs/kafka/src/…). The root .swcrc supplies legacy
#      decorators + decorator metadata, which Nest's dependency injection needs.
#   2. The `@rotor/*` aliases of tsconfig.base.json are rewritten at compile time to relative
#      requires (swc jsc.baseUrl + jsc.paths). swc wants an absolute baseUrl, so a temporary
#      config is generated from .swcrc and the current aliases on every build.
#   3. dist/apps/<app>/main.js is a one-line entry point that requires ./src/main.js.
#   4. Every compiled file is checked for a leftover `@rotor/` require: the build fails rather
#      than ship an image that dies with "Cannot find module".
#   5. The operators' CLI is also bundled into one self-contained file, dist/cli/rotor.js
#      (tools/cli-build/build.ts, `npm run build:cli`; a couple of seconds).
#   6. So is the workload agent, dist/agent/rotor-agent.js (tools/agent-build/build.ts,
#      `npm run build:agent`): the one file the Dockerfile's `agent` image runs.
#
# Type checking is not part of the build (swc only strips types): `npm run typecheck` does it.
set -euo pipefail

started=$(date +%s%N)
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bin="$root/node_modules/.bin"
node="$bin/node"
[[ -x "$node" ]] || node="$(command -v node)"

out=dist
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
swcrc="$tmp/swcrc.json"

# 2. .swcrc + absolute baseUrl + the aliases of tsconfig.base.json.
"$node" - "$root" "$swcrc" <<'EOF'
const { readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const [root, target] = process.argv.slice(2);
const swcrc = JSON.parse(readFileSync(join(root, '.swcrc'), 'utf8'));
const { compilerOptions } = JSON.parse(readFileSync(join(root, 'tsconfig.base.json'), 'utf8'));
delete swcrc.$schema;
swcrc.jsc = { ...swcrc.jsc, baseUrl: join(root, compilerOptions.baseUrl ?? '.'), paths: compilerOptions.paths ?? {} };
writeFileSync(target, JSON.stringify(swcrc, null, 2));
EOF

# 1. Compile. Specs and test suites never ship.
rm -rf "$out/apps" "$out/libs"
"$bin/swc" apps libs \
  --out-dir "$out" \
  --config-file "$swcrc" \
  --no-swcrc \
  --ignore '**/*.spec.ts,**/*.int-spec.ts,**/*.e2e-spec.ts,apps/*/test/**,libs/*/test/**' \
  --quiet

# 3. One entry point per app that has a main.ts.
built=()
for main in apps/*/src/main.ts; do
  [[ -e "$main" ]] || continue
  app="$(basename "$(dirname "$(dirname "$main")")")"
  if [[ ! -f "$out/apps/$app/src/main.js" ]]; then
    echo "build: $main was not compiled to $out/apps/$app/src/main.js" >&2
    exit 1
  fi
  cat >"$out/apps/$app/main.js" <<EOF
'use strict';
// Entry point of the $app service. The compiled sources keep the repository layout under dist/.
require('./src/main.js');
EOF
  built+=("$app")
done
for dir in apps/*/; do
  app="$(basename "$dir")"
  [[ -f "apps/$app/src/main.ts" ]] || echo "build: skipped apps/$app (no src/main.ts yet)" >&2
done

# 4. No alias may survive compilation.
if leftovers="$(grep -rlE "require\\([\"']@rotor/" "$out/apps" "$out/libs" --include='*.js')"; then
  echo "build: unresolved @rotor/* imports in:" >&2
  echo "$leftovers" >&2
  exit 1
fi

# 4b. Files the compiled code reads at run time beside itself: the auditor's SQL migrations
#     (libs/audit-store/src/audit-database.ts reads ../migrations).
for migrations in libs/*/migrations; do
  [[ -d "$migrations" ]] || continue
  mkdir -p "$out/$(dirname "$migrations")"
  cp -R "$migrations" "$out/$migrations"
done

# 5. The installable CLI (dist/cli: rotor.js, package.json, README.md).
"$node" -r @swc-node/register tools/cli-build/build.ts --out "$out/cli"

# 6. The agent's bundle (dist/agent/rotor-agent.js).
"$node" -r @swc-node/register tools/agent-build/build.ts --out "$out/agent"

elapsed_ms=$(( ($(date +%s%N) - started) / 1000000 ))
printf 'build: %s → %s/apps/<app>/main.js in %d.%03ds\n' "${built[*]:-no apps}" "$out" $((elapsed_ms / 1000)) $((elapsed_ms % 1000))
