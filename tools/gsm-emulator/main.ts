/**
 * Local, in-memory emulator of the Google Cloud Secret Manager v1 gRPC API.
 *
 *   node -r @swc-node/register tools/gsm-emulator/main.ts [--host 127.0.0.1] [--port 9090] [--verbose]
 *     [--writes-per-minute N] [--accesses-per-minute N] [--reads-per-minute N]
 *     [--version-writes-per-second-per-secret N]
 *   (or GSM_EMULATOR_HOST / GSM_EMULATOR_PORT / GSM_EMULATOR_WRITES_PER_MINUTE /
 *    GSM_EMULATOR_ACCESSES_PER_MINUTE / GSM_EMULATOR_READS_PER_MINUTE /
 *    GSM_EMULATOR_VERSION_WRITES_PER_SECOND_PER_SECRET; a flag wins over its variable)
 *
 * Why it exists: the Go emulator INFRA.md suggested
 * (github.com/blackwell-systems/gcp-secret-manager-emulator) is refused by the Go module
 * proxy this project can reach (403 "This module version is not available" for every
 * version), and no other GSM emulator is published on the registries we reach. See
 * docs/infra.md.
 *
 * It serves the official google.cloud.secretmanager.v1.SecretManagerService proto, loaded
 * from the .proto files shipped inside @google-cloud/secret-manager (so the wire format is
 * exactly what the real client speaks), over plaintext gRPC. State lives in memory: every
 * start is empty. Connect the Node client with
 *   new SecretManagerServiceClient({ apiEndpoint: '127.0.0.1', port: 9090,
 *     sslCreds: grpc.credentials.createInsecure(), universeDomain: 'googleapis.com' })
 * and METADATA_SERVER_DETECTION=none.
 *
 * Implemented (semantics follow the proto's documentation; secret-manager.ts):
 *   CreateSecret, GetSecret, ListSecrets, UpdateSecret, DeleteSecret,
 *   AddSecretVersion, GetSecretVersion, AccessSecretVersion, ListSecretVersions,
 *   EnableSecretVersion, DisableSecretVersion, DestroySecretVersion.
 *   - global (projects/P/secrets/S) and regional (projects/P/locations/L/secrets/S) names;
 *   - `latest` = the most recently created version, whatever its state (as the proto
 *     documents), plus version aliases (Secret.version_aliases);
 *   - etags on secrets and versions (checked when the request carries one: mismatch is
 *     FAILED_PRECONDITION);
 *   - payload.data_crc32c checked when given (INVALID_ARGUMENT on mismatch), and returned
 *     on access; payload limit 64 KiB;
 *   - a DISABLED or DESTROYED version cannot be accessed (FAILED_PRECONDITION);
 *   - UpdateSecret needs update_mask; replication and secret_type are immutable;
 *   - ttl / expire_time: an expired secret disappears (checked lazily);
 *   - ListSecrets / ListSecretVersions: page_size, page_token, total_size, and a small
 *     filter subset: space/AND separated terms `labels.K=V`, `labels.K:*`, `labels.K:V`,
 *     `name:TEXT`, `state:ENABLED|DISABLED|DESTROYED` (other filters: INVALID_ARGUMENT).
 * Not implemented (UNIMPLEMENTED): IAM RPCs, EnableManagedRotation, RotateSecret.
 *
 * Quota simulation (quotas.ts; off by default: every limit is unlimited unless set; 0 also
 * means unlimited). Like real GSM's per-project-per-minute quotas, each limit is a sliding
 * one-minute window per project (the `projects/P` of the request's resource name; real GSM
 * charges the caller's quota project, which the emulator cannot know):
 *   writes   (--writes-per-minute; real default 600): CreateSecret, UpdateSecret,
 *            DeleteSecret, AddSecretVersion, Enable/Disable/DestroySecretVersion;
 *   accesses (--accesses-per-minute; real default 90,000): AccessSecretVersion;
 *   reads    (--reads-per-minute; real default 600): GetSecret, ListSecrets,
 *            GetSecretVersion, ListSecretVersions.
 * --version-writes-per-second-per-secret limits AddSecretVersion per secret over a sliding
 * one-second window (real GSM: about 2/s per global secret, soft-enforced, and it also
 * counts UpdateSecret there; the emulator counts AddSecretVersion only).
 * A request over a limit is answered RESOURCE_EXHAUSTED (8) with a message shaped like
 * Google's ("Quota exceeded for quota metric 'Write requests' and limit ...") and a
 * google.rpc.ErrorInfo detail (reason RATE_LIMIT_EXCEEDED); a refused request is not
 * counted. The project quota is checked before anything else, so requests that then fail
 * (NOT_FOUND, INVALID_ARGUMENT, the per-secret limit) still count, as at Google's front
 * door. Note: @google-cloud/secret-manager itself retries AccessSecretVersion on
 * RESOURCE_EXHAUSTED (random delays up to 2 s, doubling) until its 60 s timeout, and then
 * fails with DEADLINE_EXCEEDED (4), not 8; it does not retry the other RPCs. See
 * docs/fakes.md.
 */
import { dirname, resolve } from 'node:path';

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

import { parseOptions, USAGE } from './options';
import { makeQuotas } from './quotas';
import { RpcError } from './rpc-error';
import { InMemorySecretManager, type SecretManagerRequest } from './secret-manager';

const S = grpc.status;

function loadService(): grpc.ServiceDefinition {
  const smDir = resolve(dirname(require.resolve('@google-cloud/secret-manager')), '../../build/protos');
  const gaxDir = resolve(dirname(require.resolve('google-gax', { paths: [smDir] })), '../../build/protos');
  const def = protoLoader.loadSync('google/cloud/secretmanager/v1/service.proto', {
    includeDirs: [smDir, gaxDir],
    keepCase: false,
    longs: String,
    enums: String,
    defaults: false,
    oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    google: { cloud: { secretmanager: { v1: { SecretManagerService: grpc.ServiceClientConstructor } } } };
  };
  return pkg.google.cloud.secretmanager.v1.SecretManagerService.service;
}

function main(): void {
  const opts = parseOptions(process.argv.slice(2));
  if (opts === 'help') {
    console.log(USAGE);
    process.exit(0);
  }
  const quotas = makeQuotas(opts);
  const serviceDef = loadService();
  const { handlers } = new InMemorySecretManager();
  const impl: grpc.UntypedServiceImplementation = {};
  for (const method of Object.keys(serviceDef)) {
    const fn = handlers[method];
    impl[method] = (call: grpc.ServerUnaryCall<SecretManagerRequest, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      const started = Date.now();
      if (!fn) {
        console.log(`${new Date().toISOString()} ${method} -> UNIMPLEMENTED`);
        callback({ code: S.UNIMPLEMENTED, details: `${method} is not implemented by the rotor GSM emulator.` });
        return;
      }
      try {
        quotas.admit(method, call.request);
        const res = fn(call.request);
        if (opts.verbose) console.log(`${new Date().toISOString()} ${method} OK ${Date.now() - started}ms`);
        callback(null, res);
      } catch (err) {
        if (err instanceof RpcError) {
          if (opts.verbose || err.code !== S.NOT_FOUND) {
            console.log(`${new Date().toISOString()} ${method} -> ${S[err.code]}: ${err.message}`);
          }
          callback({ code: err.code, details: err.message, ...(err.metadata ? { metadata: err.metadata } : {}) });
        } else {
          console.error(`${new Date().toISOString()} ${method} -> INTERNAL`, err);
          callback({ code: S.INTERNAL, details: String((err as Error | undefined)?.message) });
        }
      }
    };
  }

  const server = new grpc.Server();
  server.addService(serviceDef, impl);
  server.bindAsync(`${opts.host}:${opts.port}`, grpc.ServerCredentials.createInsecure(), (err, port) => {
    if (err) {
      console.error(`gsm-emulator: cannot listen on ${opts.host}:${opts.port}: ${err.message}`);
      process.exit(1);
    }
    console.log(
      `gsm-emulator: google.cloud.secretmanager.v1 listening on ${opts.host}:${port} ` +
        `(pid ${process.pid}, in-memory, ${quotas.summary})`,
    );
  });

  const stop = (sig: string) => {
    console.log(`gsm-emulator: ${sig}, shutting down`);
    // State is in memory and dies with the process anyway: no graceful drain needed.
    server.forceShutdown();
    process.exit(0);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main();
