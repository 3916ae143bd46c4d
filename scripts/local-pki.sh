# The local stack's keys and passwords, sourced by scripts/services-up.sh (don't run it).
#
#   .rotor/tls/ca.{crt,key}          a local CA (10 years), trusted by every client of the stack
#   .rotor/tls/server.{crt,key}      127.0.0.1 / localhost / the service names: services, Redis, PostgreSQL
#   .rotor/tls/otel-exporter.{crt,key}  the services' client certificate at Jaeger's OTLP receiver (mTLS)
#   .rotor/tls/kafka-broker.pem      the broker's key + certificate (CN=rotor-kafka-broker): its
#                                    SASL_SSL listener, and the mTLS identity of its controller and
#                                    inter-broker listeners (a super user only it holds)
#   .rotor/secrets/<link>-<user>.password   one random password per Kafka/Redis principal and PostgreSQL
#
# Nothing here is in git (.rotor/ is ignored); files are 0600. Certificates are renewed when
# fewer than 30 days remain. Needs openssl (Debian's).

PKI="$STATE/tls"
SECRETS="$STATE/secrets"
KAFKA_USERS=(admin issuer revoker distributor auditor cli-audit)
REDIS_USERS=(default admin issuer revoker distributor auditor acl-admin) # default: see tools/security/redis-acl-file.ts
SERVER_SANS="IP:127.0.0.1,DNS:localhost,DNS:issuer,DNS:revoker,DNS:distributor,DNS:auditor,DNS:kafka,DNS:redis,DNS:postgres"

# issue_cert NAME SUBJECT SANS: a P-256 key and a CA-signed certificate for server and client auth.
issue_cert() {
  local name="$1" subject="$2" sans="$3"
  if [[ -s "$PKI/$name.crt" ]] && openssl x509 -checkend $((30 * 86400)) -noout -in "$PKI/$name.crt" >/dev/null 2>&1; then
    return 0
  fi
  (
    umask 077
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$PKI/$name.key.tmp" \
      -out "$PKI/$name.csr" -subj "$subject" 2>/dev/null
    openssl pkcs8 -topk8 -nocrypt -in "$PKI/$name.key.tmp" -out "$PKI/$name.key"
    rm -f "$PKI/$name.key.tmp"
    openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
      -out "$PKI/$name.crt" -days 397 -sha256 -extfile <(printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=critical,digitalSignature\nbasicConstraints=critical,CA:FALSE\n' "$sans") 2>/dev/null
    rm -f "$PKI/$name.csr"
  ) || fail tls "" "openssl could not issue $name"
  say tls "issued .rotor/tls/$name.crt ($subject, valid 397 days)"
}

ensure_pki() {
  mkdir -p "$PKI" "$SECRETS"
  chmod 700 "$PKI" "$SECRETS"
  command -v openssl >/dev/null || fail tls "" "openssl is required (apt-get install openssl)"
  if [[ ! -s "$PKI/ca.crt" ]] || ! openssl x509 -checkend $((30 * 86400)) -noout -in "$PKI/ca.crt" >/dev/null 2>&1; then
    (
      umask 077
      openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$PKI/ca.key" -out "$PKI/ca.crt" \
        -days 3650 -sha256 -subj "/CN=rotor local CA $(hostname -s 2>/dev/null || echo local)" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    ) || fail tls "" "openssl could not create the local CA"
    rm -f "$PKI"/server.crt "$PKI"/kafka-broker.crt # signed by the old CA
    say tls "created the local CA .rotor/tls/ca.crt"
  fi
  chmod 644 "$PKI/ca.crt"
  issue_cert server "/CN=rotor local services" "$SERVER_SANS"
  issue_cert kafka-broker "/CN=rotor-kafka-broker" "IP:127.0.0.1,DNS:localhost,DNS:kafka"
  issue_cert otel-exporter "/CN=rotor-otel-exporter" "DNS:rotor-otel-exporter"
  (umask 077 && cat "$PKI/kafka-broker.key" "$PKI/kafka-broker.crt" >"$PKI/kafka-broker.pem")
  local user
  for user in "${KAFKA_USERS[@]}"; do ensure_password "kafka-$user"; done
  for user in "${REDIS_USERS[@]}"; do ensure_password "redis-$user"; done
  ensure_password postgres-rotor
  ensure_password postgres-auditor
}

ensure_password() {
  local file="$SECRETS/$1.password"
  [[ -s "$file" ]] && return 0
  (umask 077 && openssl rand -hex 24 >"$file")
}

secret() { cat "$SECRETS/$1.password"; }

# service_env SVC: the variables a service (or the CLI: `cli`) needs for its own principals.
# Written to .rotor/service-env/<svc>.env by write_env; scripts/up.sh and the tests load it.
service_env() {
  local svc="$1" kafka_user="$1" redis_user="$1"
  [[ "$svc" == cli ]] && kafka_user=cli-audit redis_user=auditor # `rotor audit replay --rebuild` writes the auditor's views
  cat <<EOF
export KAFKA_SASL_USERNAME=$kafka_user
export KAFKA_SASL_PASSWORD_FILE=$SECRETS/kafka-$kafka_user.password
export REDIS_USERNAME=$redis_user
export REDIS_PASSWORD_FILE=$SECRETS/redis-$redis_user.password
EOF
  if [[ "$svc" == auditor || "$svc" == cli ]]; then # the CLI's `audit replay --rebuild` writes the auditor's views
    echo "export ROTOR_AUDIT_DATABASE_URL_FILE=$SECRETS/audit-database.url"
  fi
  if [[ "$svc" == issuer || "$svc" == revoker ]]; then
    cat <<EOF
export ROTOR_REDIS_ACL_USERNAME=acl-admin
export ROTOR_REDIS_ACL_PASSWORD_FILE=$SECRETS/redis-acl-admin.password
EOF
  fi
}

# kafka_secure_listeners CLIENT_PORT CONTROLLER_PORT INTERNAL_PORT: a broker's listener and
# security properties on the secure stack (the single broker and each cluster node): clients on
# SASL_SSL (SCRAM), the controller and inter-broker listeners mTLS with the local CA, the
# broker's own certificate the only super user there besides admin.
kafka_secure_listeners() {
  cat <<EOF
listeners=CLIENT://127.0.0.1:$1,CONTROLLER://127.0.0.1:$2,INTERNAL://127.0.0.1:$3
advertised.listeners=CLIENT://127.0.0.1:$1,INTERNAL://127.0.0.1:$3
inter.broker.listener.name=INTERNAL
listener.security.protocol.map=CLIENT:SASL_SSL,CONTROLLER:SSL,INTERNAL:SSL
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.client.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PEM
ssl.keystore.location=$PKI/kafka-broker.pem
ssl.truststore.type=PEM
ssl.truststore.location=$PKI/ca.crt
ssl.endpoint.identification.algorithm=https
listener.name.controller.ssl.client.auth=required
listener.name.internal.ssl.client.auth=required
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:admin;User:CN=rotor-kafka-broker
EOF
}
