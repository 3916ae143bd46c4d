// The integration project's test environment. Each Jest worker is its own rotor installation on
// the shared local stack, so that suites can run in parallel without seeing each other's work:
//   - Kafka: its own namespace (ROTOR_KAFKA_NAMESPACE `test<N>.`), topics and ACLs that
//     scripts/services-up.sh prepared (ROTOR_TEST_KAFKA_NAMESPACES); consumer groups follow;
//   - Redis: its own logical database (REDIS_URL `/<N>`; the local stack's default is 0);
//   - GSM: its own project (`<GSM_PROJECT>-w<N>`);
//   - services: 5 s to wait for a dependency (ROTOR_DEPENDENCY_TIMEOUT_MS) unless a suite sets it,
//     consumer groups that drop a killed member after 10 s (ROTOR_KAFKA_SESSION_TIMEOUT_MS), and
//     V8's compile cache (NODE_COMPILE_CACHE under .rotor/cache).
// It is applied to the worker's real environment before the sandbox copies it, so every child
// process a suite starts (services, the CLI) inherits it, with or without an explicit env.
// ROTOR_TEST_WORKER_OFFSET shifts the numbers, for a second run on the same stack
// (scripts/test-focus.sh uses the upper half).
const { TestEnvironment } = require('jest-environment-node');

function isolateWorker(env) {
  if (env.ROTOR_TEST_WORKER) return; // applied by an earlier suite of this worker
  const worker = Number(env.JEST_WORKER_ID ?? 1) + Number(env.ROTOR_TEST_WORKER_OFFSET ?? 0);
  const namespaces = (env.ROTOR_TEST_KAFKA_NAMESPACES ?? '').split(',').filter(Boolean);
  const namespace = namespaces[worker - 1];
  if (!namespace) {
    throw new Error(
      `test worker ${worker} has no Kafka namespace: the stack prepared ${namespaces.length} (ROTOR_TEST_KAFKA_NAMESPACES in .rotor/env); ` +
        'run scripts/services-up.sh again, or run fewer workers',
    );
  }
  env.ROTOR_KAFKA_NAMESPACE = namespace;
  const redis = new URL(env.REDIS_URL ?? 'rediss://127.0.0.1:6379');
  redis.pathname = `/${worker}`;
  env.REDIS_URL = redis.toString();
  env.GSM_PROJECT = `${env.GSM_PROJECT ?? 'rotor-local'}-w${worker}`;
  // The services the suites start wait up to 5 s for a dependency, not 1.5 s: the workers and
  // their services share two cores, and a starved produce is not an outage. The fail-fast suites,
  // which test the bound itself, set the production default explicitly.
  env.ROTOR_DEPENDENCY_TIMEOUT_MS ??= '5000';
  // A suite that kills a service and starts it again waits for the group to drop the dead member
  // before the new one gets its partitions: 10 s, not kafkajs' 30 s, per restart.
  env.ROTOR_KAFKA_SESSION_TIMEOUT_MS ??= '10000';
  // V8's code cache on disk for every Node.js process a suite starts: a service boot spends
  // about a second loading modules, a quarter of it compiling them again each time.
  env.NODE_COMPILE_CACHE ??= require('node:path').join(__dirname, '..', '..', '.rotor', 'cache', 'node-compile');
  // The services the suites start trace a tenth of the requests that come without a sampled
  // parent: exporting every span of every suite cost the integration phase much of its CPU. A
  // suite about traces sends a sampled traceparent (followed whatever the ratio) or sets its own.
  env.OTEL_TRACES_SAMPLER ??= 'parentbased_traceidratio';
  env.OTEL_TRACES_SAMPLER_ARG ??= '0.1';
  env.ROTOR_TEST_WORKER = String(worker);
}

class WorkerEnvironment extends TestEnvironment {
  constructor(config, context) {
    isolateWorker(process.env);
    super(config, context);
  }
}

module.exports = WorkerEnvironment;
module.exports.isolateWorker = isolateWorker;
