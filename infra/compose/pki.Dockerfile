# The image of docker-compose.yml's one-shot `pki` service: Debian's openssl (and sh,
# sha256sum, cmp), the tools scripts/local-pki.sh uses for the local stack. The scripts it
# runs (pki.sh, redis-acl.sh) are mounted from this directory, not copied in.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends openssl \
 && rm -rf /var/lib/apt/lists/*
