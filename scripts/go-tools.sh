#!/usr/bin/env bash
# Builds the Go tools rotor's local stack and tests use, once per machine, into
# .rotor/cache/go-tools/bin (kept across runs; `npm stop` leaves it):
#   jaeger    Jaeger v2 all-in-one (the local trace backend; `go install` is refused for it,
#             its go.mod has replace directives, so it is built inside a scratch module)
#   promtool  Prometheus' rule checker (`promtool check rules`, `promtool test rules`)
# Usage: scripts/go-tools.sh [jaeger|promtool ...]   (default: both, in parallel)
#        scripts/go-tools.sh --check                 exit 0 when both are built at their versions
# Prints the bin directory on success. Logs: .rotor/cache/go-tools/<tool>.log
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="$(realpath -m "$ROOT/.rotor")"
CACHE="$STATE/cache/go-tools"
BIN="$CACHE/bin"
JAEGER_VERSION=v1.75.0
PROMTOOL_VERSION=v0.316.0
mkdir -p "$BIN"
export GOPATH="$CACHE/gopath" GOMODCACHE="$CACHE/gopath/pkg/mod" GOCACHE="$CACHE/gocache" GOFLAGS=-modcacherw GOTOOLCHAIN=local
command -v go >/dev/null || PATH="/usr/local/go/bin:$PATH"
command -v go >/dev/null || { echo "go-tools: no Go toolchain (go) on this machine" >&2; exit 1; }

# A stamp names the version a binary was built from, so a version bump rebuilds it.
built() { [[ -x "$BIN/$1" && "$(cat "$BIN/$1.version" 2>/dev/null)" == "$2" ]]; }

build_jaeger() {
  built jaeger "$JAEGER_VERSION" && return 0
  local mod="$CACHE/jaeger-module"
  rm -rf "$mod" && mkdir -p "$mod"
  (cd "$mod" && go mod init rotor-jaeger >/dev/null 2>&1 &&
    go get -tool "github.com/jaegertracing/jaeger/cmd/jaeger@$JAEGER_VERSION" &&
    go build -trimpath -o "$BIN/jaeger.tmp" github.com/jaegertracing/jaeger/cmd/jaeger)
  mv "$BIN/jaeger.tmp" "$BIN/jaeger" && echo "$JAEGER_VERSION" >"$BIN/jaeger.version"
}

build_promtool() {
  built promtool "$PROMTOOL_VERSION" && return 0
  GOBIN="$BIN/.promtool" go install "github.com/prometheus/prometheus/cmd/promtool@$PROMTOOL_VERSION"
  mv "$BIN/.promtool/promtool" "$BIN/promtool" && rmdir "$BIN/.promtool"
  echo "$PROMTOOL_VERSION" >"$BIN/promtool.version"
}

if [[ "${1:-}" == --check ]]; then
  built jaeger "$JAEGER_VERSION" && built promtool "$PROMTOOL_VERSION"
  exit
fi

# One build at a time per machine: a second caller (npm test and services-up at once) waits here
# for the first, then finds the binaries built.
exec 9>"$CACHE/.lock"
flock 9

tools=("$@")
[[ ${#tools[@]} -gt 0 ]] || tools=(jaeger promtool)
pids=()
for tool in "${tools[@]}"; do
  case "$tool" in jaeger | promtool) ;; *) echo "go-tools: unknown tool $tool" >&2 && exit 2 ;; esac
  "build_$tool" >"$CACHE/$tool.log" 2>&1 &
  pids+=("$!:$tool")
done
status=0
for entry in "${pids[@]}"; do
  if ! wait "${entry%%:*}"; then
    echo "go-tools: building ${entry#*:} failed; see $CACHE/${entry#*:}.log" >&2
    tail -5 "$CACHE/${entry#*:}.log" >&2
    status=1
  fi
done
[[ $status -eq 0 ]] && echo "$BIN"
exit $status
