# syntax=docker/dockerfile:1
#
# Two images. `runtime` (the default target, last below): every rotor service, the injector
# (SERVICE=injector) and the operators' CLI. The service to run is chosen at start-up by SERVICE:
#   docker run -e SERVICE=issuer -e PORT=8080 ... rotor
#   docker run --rm rotor rotor --help
# `agent`: the workload agent alone (apps/agent, docs/agent.md), the image the injector puts
# into pods; one self-contained file (tools/agent-build), no node_modules:
#   docker build --target agent -t rotor-agent .
#   docker run -e ROTOR_AGENT_CONFIG=/etc/rotor-agent/config.yaml ... rotor-agent init
# The CLI is the self-contained bundle (tools/cli-build), on PATH as /usr/local/bin/rotor.
# Its `rotor version` names the commit given at build time:
#   docker build --build-arg ROTOR_BUILD_COMMIT="$(git rev-parse --short HEAD)" -t rotor .
#
# Node 24 only: the same major as `engines` in package.json.
ARG NODE_IMAGE=node:24-bookworm-slim

# ---------------------------------------------------------------------------
# build: full dependency tree (dev included), then `npm run build`, which writes
# dist/apps/<service>/main.js for every service and the bundles dist/cli/rotor.js (the CLI)
# and dist/agent/rotor-agent.js (the agent).
# ---------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
# No Nx daemon or remote cache inside a one-shot image build.
ENV NX_DAEMON=false \
    NX_NO_CLOUD=true \
    NX_SKIP_NX_CACHE=true
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# The context has no .git: the commit the CLI reports comes from here ("unknown" when not given).
ARG ROTOR_BUILD_COMMIT
RUN npm run build

# ---------------------------------------------------------------------------
# base: what both images share: Node.js, tini, the non-root user (not switched to yet).
# ---------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS base
ENV NODE_ENV=production

# tini as PID 1 forwards SIGTERM to node and reaps zombies, so a rolling update
# or `docker stop` shuts the consumers down cleanly instead of after a SIGKILL.
# Pinned to one Debian bookworm build: apt checks it against the signed archive's
# SHA-256, and a build fails rather than take another version. Raise it on purpose
# (`apt-cache policy tini` in the base image) when the base image moves.
ARG TINI_VERSION=0.19.0-1+b3
RUN apt-get update \
 && apt-get install -y --no-install-recommends "tini=${TINI_VERSION}" \
 && test "$(dpkg-query -W -f='${Version}' tini)" = "${TINI_VERSION}" \
 && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 rotor \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin rotor

# ---------------------------------------------------------------------------
# agent: the workload agent, an init container or native sidecar in application pods
# (docs/injector.md). The bundle and nothing else of rotor: no node_modules, no other
# service's code. Its mode is its argument (`init` or `sidecar`, what the injector passes)
# or ROTOR_AGENT_MODE; its configuration ROTOR_AGENT_CONFIG (a file, or the JSON itself).
# The shell stays: the injector's startup probe runs `/bin/sh -c 'test -f …'`.
# ---------------------------------------------------------------------------
FROM base AS agent
# With shareProcessNamespace (notify by signal) the pod's pause process is PID 1: tini then
# registers as a subreaper instead of warning.
ENV TINI_SUBREAPER=1
COPY --from=build --chmod=0755 /app/dist/agent/rotor-agent.js /usr/local/bin/rotor-agent
# A bundle that cannot start fails the image build, not a pod.
RUN rotor-agent --help >/dev/null
# Numeric ids, so Kubernetes can verify runAsNonRoot without resolving names.
USER 10001:10001
# tini: a sidecar gets SIGTERM and revokes its leases; an init container stops on it too
# (node as PID 1 would ignore a signal it has no handler for).
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/rotor-agent"]

# ---------------------------------------------------------------------------
# runtime: production dependencies only, compiled output, non-root user. Last, so it is what
# `docker build .` and docker-compose.yml build.
# ---------------------------------------------------------------------------
FROM base AS runtime
WORKDIR /app

# --ignore-scripts: no production dependency needs an install script to work
# (protobufjs only prints a version warning; @scarf/scarf is telemetry the
# project opts out of in package.json `allowScripts`).
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

COPY --from=build /app/dist ./dist
# The operators' CLI: one file with its dependencies inside, run by the image's node.
COPY --from=build --chmod=0755 /app/dist/cli/rotor.js /usr/local/bin/rotor
RUN rotor version >/dev/null

# Numeric ids, so Kubernetes can verify runAsNonRoot without resolving names.
USER 10001:10001

# issuer 8080, revoker 8081, distributor 8082, auditor 8083 (set PORT to match).
EXPOSE 8080 8081 8082 8083

ENTRYPOINT ["/usr/bin/tini", "--"]
# exec: node replaces the shell, so the signal tini forwards reaches it. SERVICE=agent still
# runs the agent (dist/apps/agent/main.js) for setups made before the `agent` image; the
# injector puts the `agent` image into pods.
CMD ["/bin/sh", "-c", "exec node \"dist/apps/${SERVICE:?set SERVICE to issuer, revoker, distributor, auditor or injector}/main.js\""]
