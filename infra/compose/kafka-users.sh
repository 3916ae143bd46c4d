#!/bin/sh
# docker-compose.yml's one-shot `kafka-users` (apache/kafka image): the SCRAM-SHA-512
# credential of every Kafka principal, with the passwords of the `pki` service, as
# scripts/services-up.sh's kafka_ensure_users. The image formats its storage without
# --add-scram, so the users are set here, through the broker's mTLS INTERNAL listener with
# the broker's own certificate (the only super user there). Idempotent: a data volume
# formatted earlier, or a password the pki service made anew, is brought up to date.
set -eu
for user in admin issuer revoker distributor auditor cli-audit; do
  /opt/kafka/bin/kafka-configs.sh --bootstrap-server kafka:9094 \
    --command-config /etc/kafka/rotor/internal-client.properties \
    --alter --entity-type users --entity-name "$user" \
    --add-config "SCRAM-SHA-512=[iterations=8192,password=$(cat "/etc/kafka/rotor-secrets/kafka-$user.password")]" >/dev/null
  echo "kafka-users: SCRAM-SHA-512 credential of $user set"
done
