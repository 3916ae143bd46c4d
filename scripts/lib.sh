# Shared by scripts/up.sh and scripts/test.sh: source it, don't run it.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Installs node_modules when missing or older than the lockfile. The project runs on the
# Node.js 24 that `npm ci` puts in node_modules/.bin (package `node`), whatever the machine has.
ensure_node_modules() {
  if [[ ! -x "$ROOT/node_modules/.bin/node" || "$ROOT/package-lock.json" -nt "$ROOT/node_modules/.package-lock.json" ]]; then
    echo "[deps ] npm ci (first run, or package-lock.json changed)"
    (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error)
  fi
  export PATH="$ROOT/node_modules/.bin:$PATH"
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  if [[ "$major" != 24 ]]; then
    echo "rotor supports Node.js 24 only (package.json engines); node_modules/.bin/node is $(node --version)" >&2
    exit 1
  fi
}

# Development keys (audit HMAC, token hash), generated once per checkout and kept in
# .rotor/dev-keys.env so the audit chain written by one run verifies in the next.
ensure_dev_keys() {
  local file="$ROOT/.rotor/dev-keys.env" name
  mkdir -p "$ROOT/.rotor"
  [[ -s "$file" ]] || echo "# Development-only keys for this checkout (never used outside it). Written by scripts/lib.sh." >"$file"
  # Keys added in later versions are appended to an existing file; existing keys are kept.
  # No webhook key: each webhook target names a keyring of its own (ROTOR_WEBHOOK_KEY_<RECEIVER>).
  for name in ROTOR_AUDIT_KEY ROTOR_TOKEN_HASH_KEY ROTOR_CONTENT_HASH_KEY; do
    grep -q "^export $name=" "$file" ||
      (umask 077 && echo "export $name=$(node -e 'process.stdout.write(require("crypto").randomBytes(32).toString("hex"))')" >>"$file")
  done
  # The audit checkpoint signing key (Ed25519, PKCS#8 PEM) and its public half (JWKS), for verifiers.
  # Real paths: a worktree may share another checkout's .rotor through a symlink.
  local state signing public
  state="$(realpath -m "$ROOT/.rotor")"
  signing="$state/audit-signing-key.pem" public="$state/audit-public-keys.json"
  if [[ ! -s "$signing" ]]; then
    (umask 077 && node -e '
      const { generateKeyPairSync } = require("crypto");
      const { privateKey } = generateKeyPairSync("ed25519");
      process.stdout.write(privateKey.export({ type: "pkcs8", format: "pem" }));' >"$signing")
  fi
  node -e '
    const crypto = require("crypto");
    const jwk = crypto.createPublicKey(require("fs").readFileSync(process.argv[1], "utf8")).export({ format: "jwk" });
    const kid = crypto.createHash("sha256").update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x })).digest("base64url");
    process.stdout.write(JSON.stringify({ keys: [{ ...jwk, kid, use: "sig", alg: "EdDSA" }] }, null, 2) + "\n");' "$signing" >"$public"
  grep -q "^export ROTOR_AUDIT_SIGNING_KEY_FILE=" "$file" || echo "export ROTOR_AUDIT_SIGNING_KEY_FILE=$signing" >>"$file"
  grep -q "^export ROTOR_AUDIT_PUBLIC_KEYS_FILE=" "$file" || echo "export ROTOR_AUDIT_PUBLIC_KEYS_FILE=$public" >>"$file"
  chmod 600 "$file"
  # shellcheck disable=SC1090
  . "$file"
}

load_services_env() {
  # shellcheck disable=SC1091
  . "$ROOT/.rotor/env"
}

# The compiled services (scripts/build.sh → dist/), rebuilt only when a source changed since the
# last build: `npm start`, the tests and the benches run what ships (node dist/apps/<app>/main.js),
# not TypeScript through a runtime transpiler. A few seconds when it builds; a hash when it does not.
ensure_build() {
  local stamp="$ROOT/dist/.source-hash" hash
  mkdir -p "$ROOT/.rotor"
  (
    flock 9 # one build at a time (a focused run and `npm start` may ask at once)
    hash="$(cd "$ROOT" && { git ls-files -co --exclude-standard -- apps libs tools/cli-build tools/agent-build \
      .swcrc tsconfig.base.json package-lock.json scripts/build.sh | LC_ALL=C sort | xargs -d '\n' sha1sum 2>/dev/null; } | sha1sum | cut -c1-40)"
    if [[ "$(cat "$stamp" 2>/dev/null)" != "$hash" ]]; then
      echo "[build] compiling the services into dist/ (sources changed since the last build)" >&2
      bash "$ROOT/scripts/build.sh" >"$ROOT/.rotor/build.log" 2>&1 || { cat "$ROOT/.rotor/build.log" >&2; exit 1; }
      echo "$hash" >"$stamp"
    fi
  ) 9>"$ROOT/.rotor/build.lock"
}
