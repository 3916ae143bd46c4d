/**
 * Variables read outside the services' env schemas, kept by hand: the CLI's, a few a service
 * reads by name (libs/service-kit's start-up bound, the catalog-named webhook keyrings), and the
 * scripts'. test/static/config-reference.spec.ts checks that every variable the code reads by
 * name appears in the reference, so a new one cannot go unlisted for long.
 */
export interface OtherVariable {
  name: string;
  readBy: string;
  /** As it should print, without backticks; undefined: unset. */
  default?: string;
  meaning: string;
}

export const serviceExtras: OtherVariable[] = [
  {
    name: 'ROTOR_AGENT_CONFIG',
    readBy: 'the agent, set by the injector',
    meaning:
      "The agent's configuration as JSON text (issuer URL, CA and token files, output directory, credentials), written into each injected pod; see docs/injector.md.",
  },
  {
    name: 'ROTOR_STARTUP_TIMEOUT_MS',
    readBy: 'every service (libs/service-kit)',
    default: '90000',
    meaning:
      'A start-up that has not finished by then (a broker that accepted a connection and never answered) exits 1, for its supervisor to start it again.',
  },
  {
    name: 'ROTOR_WEBHOOK_KEY_<RECEIVER>',
    readBy: 'distributor',
    meaning:
      'The signing keyring (<key id>:<key>[,…], newest first) of a webhook receiver; the name is the one its catalog target gives in signingKeyEnv, required for each.',
  },
  {
    name: 'ROTOR_WEBHOOK_KEY_<RECEIVER>_FILE',
    readBy: 'distributor',
    meaning: 'The same keyring in a mounted file, re-read when it changes; setting both forms is refused.',
  },
  // OpenTelemetry's standard variables, read by libs/tracing (the OTLP exporter reads the rest of its own).
  {
    name: 'OTEL_EXPORTER_OTLP_ENDPOINT',
    readBy: 'every service (libs/tracing)',
    meaning:
      'Where spans go (OTLP/HTTP; /v1/traces is appended). Without it, or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, tracing is off: a service never sends spans to a default address. The local stack sets https://127.0.0.1:4318 (its Jaeger).',
  },
  {
    name: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
    readBy: 'every service (libs/tracing)',
    meaning: 'The full traces URL, instead of OTEL_EXPORTER_OTLP_ENDPOINT.',
  },
  {
    name: 'OTEL_EXPORTER_OTLP_CERTIFICATE, OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE, OTEL_EXPORTER_OTLP_CLIENT_KEY',
    readBy: 'every service (the OTLP exporter)',
    meaning:
      "The CA that signs the collector's certificate, and the client certificate and key the service presents to it (mTLS); PEM files.",
  },
  {
    name: 'OTEL_SDK_DISABLED',
    readBy: 'every service (libs/tracing); scripts/services-up.sh',
    default: 'false',
    meaning: 'true: no tracing at all (the API stays a no-op). services-up.sh then starts no Jaeger and writes it into .rotor/env.',
  },
  {
    name: 'OTEL_TRACES_EXPORTER',
    readBy: 'every service (libs/tracing)',
    default: 'otlp',
    meaning: 'none turns tracing off; otlp is the only exporter.',
  },
  {
    name: 'OTEL_TRACES_SAMPLER',
    readBy: 'every service (libs/tracing)',
    default: 'parentbased_always_on',
    meaning:
      'always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio; another value stops the start.',
  },
  {
    name: 'OTEL_TRACES_SAMPLER_ARG',
    readBy: 'every service (libs/tracing)',
    default: '1',
    meaning: 'The ratio (0 to 1) of the ratio samplers: 0.1 traces a tenth of the requests that come without a sampled parent.',
  },
  {
    name: 'OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES',
    readBy: 'every service (libs/tracing)',
    default: 'rotor-<service>',
    meaning: "The spans' service.name and other resource attributes.",
  },
  {
    name: 'KUBERNETES_SERVICE_HOST',
    readBy: 'distributor',
    meaning:
      'Set by Kubernetes in every pod: without KUBECONFIG, its presence turns on kubernetes-secret targets and the copy scan with the in-cluster configuration.',
  },
];

export const agentVariables: OtherVariable[] = [
  {
    name: 'ROTOR_AGENT_MODE',
    readBy: 'agent',
    meaning: 'init or sidecar, when not given as the first argument (the image runs it with SERVICE=agent).',
  },
  {
    name: 'ROTOR_AGENT_CONFIG',
    readBy: 'agent',
    default: '/etc/rotor-agent/config.yaml',
    meaning: 'Its configuration file (YAML or JSON), when --config is not given.',
  },
  {
    name: 'POD_NAMESPACE',
    readBy: 'agent',
    meaning: 'From the downward API: names the pod in the task of every lease (pod:<namespace>/<name>/<credential>).',
  },
  {
    name: 'POD_NAME',
    readBy: 'agent',
    default: 'the host name',
    meaning: 'From the downward API: the pod named in the task of every lease.',
  },
  {
    name: 'ROTOR_AGENT_CHANGED',
    readBy: 'the notify command',
    meaning: 'Set by the agent for its notify command: the names of the credentials whose files changed (never a value).',
  },
];

export const cliVariables: OtherVariable[] = [
  { name: 'ROTOR_ISSUER_URL', readBy: 'CLI', default: 'https://127.0.0.1:8080', meaning: "The issuer's address." },
  { name: 'ROTOR_REVOKER_URL', readBy: 'CLI', default: 'https://127.0.0.1:8081', meaning: "The revoker's address." },
  { name: 'ROTOR_DISTRIBUTOR_URL', readBy: 'CLI', default: 'https://127.0.0.1:8082', meaning: "The distributor's address." },
  { name: 'ROTOR_AUDITOR_URL', readBy: 'CLI', default: 'https://127.0.0.1:8083', meaning: "The auditor's address." },
  {
    name: 'ROTOR_JAEGER_QUERY_URL',
    readBy: 'CLI (`trace show`); the tests',
    default: 'https://127.0.0.1:16686',
    meaning: "The trace backend's query API (Jaeger's); scripts/services-up.sh writes the local one into .rotor/env.",
  },
  {
    name: 'ROTOR_CA_FILE',
    readBy: 'CLI',
    meaning: "The CA the CLI trusts for the services' HTTPS instead of the system's (like curl --cacert).",
  },
  {
    name: 'ROTOR_CLIENT_CERT_FILE',
    readBy: 'CLI',
    meaning: "The CLI's own certificate, for services that require mTLS (ROTOR_TLS_CLIENT_CA_FILE); with ROTOR_CLIENT_KEY_FILE.",
  },
  { name: 'ROTOR_CLIENT_KEY_FILE', readBy: 'CLI', meaning: 'The private key of ROTOR_CLIENT_CERT_FILE.' },
  {
    name: 'ROTOR_TOKEN',
    readBy: 'CLI',
    meaning: 'A bearer token to use instead of the rotor login sign-in, for scripts and CI jobs.',
  },
  {
    name: 'ROTOR_OPERATOR_ISSUER',
    readBy: 'CLI',
    default: 'https://127.0.0.1:5556',
    meaning: 'The OpenID Provider rotor login signs in at (--issuer wins); also the issuer of --dev operator tokens.',
  },
  {
    name: 'ROTOR_OPERATOR_CLIENT_ID',
    readBy: 'CLI',
    default: 'rotor-cli',
    meaning: "The CLI's client id at the provider (--client-id wins): a public client, no secret, PKCE.",
  },
  {
    name: 'ROTOR_OPERATOR_AUDIENCE',
    readBy: 'CLI',
    default: 'rotor-cli',
    meaning: 'The audience of --dev operator tokens (local stack only).',
  },
  {
    name: 'ROTOR_TOKEN_ISSUER, ROTOR_TOKEN_AUDIENCE',
    readBy: 'CLI',
    meaning: 'The issuer and audience of --dev workload tokens, as the services read them (local stack only).',
  },
  { name: 'USER', readBy: 'CLI', meaning: 'The subject of --dev operator tokens (<user>@localhost).' },
  {
    name: 'ROTOR_CONFIG_DIR',
    readBy: 'CLI',
    default: '$XDG_CONFIG_HOME/rotor, else ~/.config/rotor',
    meaning: 'Where rotor login keeps the sign-in (login.json, mode 0600 in a 0700 directory).',
  },
  {
    name: 'ROTOR_CHECKOUT',
    readBy: 'CLI',
    default: 'the nearest directory above the working directory holding config/dev-signing-key.jwk.json',
    meaning: 'The rotor checkout whose local stack --dev tokens are for (an installed CLI has none of its own).',
  },
  {
    name: 'NO_COLOR',
    readBy: 'CLI',
    meaning: 'Any value: no colour in tables, even on a terminal (https://no-color.org; --no-color does the same).',
  },
  {
    name: 'FORCE_COLOR',
    readBy: 'CLI',
    meaning: 'Any value but 0: colour even when the output is not a terminal (NO_COLOR and --no-color win).',
  },
  {
    name: 'XDG_CONFIG_HOME',
    readBy: 'CLI',
    default: '~/.config',
    meaning: 'The base of the sign-in directory when ROTOR_CONFIG_DIR is unset.',
  },
  {
    name: 'KAFKA_BROKERS, ROTOR_KAFKA_NAMESPACE, ROTOR_AUDIT_TOPIC',
    readBy: 'CLI (rotor audit)',
    meaning: 'Where rotor audit events, verify, replay and tail read the audit log from Kafka, as the services read them.',
  },
  {
    name: 'KAFKA_SSL, KAFKA_SSL_CA_FILE, KAFKA_SSL_CERT_FILE, KAFKA_SSL_KEY_FILE, KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD, KAFKA_SASL_PASSWORD_FILE',
    readBy: 'CLI (rotor audit)',
    meaning:
      "The Kafka link, checked as the services check theirs; the operators' principal is cli-audit, which may only read audit topics.",
  },
  {
    name: 'ROTOR_INSECURE_LOCAL',
    readBy: 'CLI (rotor audit)',
    default: '0',
    meaning: 'Accepts plaintext Kafka and a PostgreSQL URL without verified TLS, on an explicitly insecure local stack only.',
  },
  {
    name: 'ROTOR_AUDIT_KEY',
    readBy: 'CLI (rotor audit)',
    meaning: 'With it, audit verify also checks records chained by HMAC before signed checkpoints; without it they are counted unchecked.',
  },
  {
    name: 'ROTOR_AUDIT_PUBLIC_KEYS_FILE',
    readBy: 'CLI (rotor audit replay)',
    meaning: 'Public keys to verify checkpoints with instead of fetching /v1/audit/keys (--public-key wins).',
  },
  {
    name: 'GSM_PROJECT, SECRET_MANAGER_EMULATOR_HOST, ROTOR_AUDIT_CHECKPOINT_SECRET',
    readBy: 'CLI (rotor audit replay)',
    meaning: 'With GSM_PROJECT set, replay also compares the checkpoint kept in GSM outside Kafka.',
  },
  {
    name: 'ROTOR_AUDIT_DATABASE_URL_FILE, ROTOR_AUDIT_DATABASE_URL',
    readBy: 'CLI (rotor audit replay --rebuild)',
    meaning: "The auditor's database, which only --rebuild writes (it builds the views into a fresh schema, then switches it in).",
  },
];

export const scriptVariables: OtherVariable[] = [
  {
    name: 'ROTOR_TOPOLOGY',
    readBy: 'scripts/up.sh',
    default: 'single',
    meaning: 'cluster (or npm start -- --cluster) starts the clustered topology: three Kafka brokers, a second revoker and auditor.',
  },
  {
    name: 'ROTOR_REDIS_CLUSTER',
    readBy: 'scripts/up.sh',
    default: '1',
    meaning: 'With the cluster topology, 0 keeps the single Redis instead of starting a local six-node Redis Cluster.',
  },
  {
    name: 'ROTOR_KAFKA_SETUP_NAMESPACES',
    readBy: 'tools/security/kafka-setup.ts',
    meaning: 'Extra Kafka namespaces (comma list, e.g. staging.) to create topics and grant ACLs under, besides the empty one.',
  },
  {
    name: 'ROTOR_REDIS_CLUSTER_NAME, ROTOR_REDIS_CLUSTER_PORT',
    readBy: 'scripts/redis-cluster.sh',
    default: '(none), 7001',
    meaning: 'Runs another, independent local Redis Cluster (the chaos run uses chaos on 7101).',
  },
  {
    name: 'ROTOR_TEST_WORKER_OFFSET',
    readBy: 'scripts/test-focus.sh, the Jest worker environment',
    default: '3 in test:focus, else 0',
    meaning: 'Shifts the Kafka namespace, Redis database and GSM project of focused test runs, so that people sharing a stack stay apart.',
  },
  { name: 'ROTOR_TEST_WORKERS', readBy: 'scripts/test.sh', default: '2', meaning: 'Jest workers of the integration suites.' },
  {
    name: 'ROTOR_TEST_CHAOS, ROTOR_CHAOS_MINUTES, ROTOR_CHAOS_SEED',
    readBy: 'scripts/test.sh',
    default: '1, 4, 15',
    meaning: 'Whether npm test ends with the chaos run (0 leaves it out), how long it runs and its seed (docs/chaos.md).',
  },
];
