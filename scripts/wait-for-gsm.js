#!/usr/bin/env node
'use strict';
/*
 * Waits until a Secret Manager (emulator) endpoint answers listSecrets through the real
 * Node client over plaintext gRPC.
 *
 *   node scripts/wait-for-gsm.js [timeoutSeconds=30] [host:port]
 *
 * host:port defaults to $SECRET_MANAGER_EMULATOR_HOST, then 127.0.0.1:9090.
 * Project: $GSM_PROJECT or rotor-local. Exits 1 with the last error on timeout.
 */
process.env.METADATA_SERVER_DETECTION = process.env.METADATA_SERVER_DETECTION || 'none';

const grpc = require('@grpc/grpc-js');
const { SecretManagerServiceClient } = require('@google-cloud/secret-manager');

const timeoutSec = Number(process.argv[2] || 30);
const target = process.argv[3] || process.env.SECRET_MANAGER_EMULATOR_HOST || '127.0.0.1:9090';
const project = process.env.GSM_PROJECT || 'rotor-local';

if (!Number.isFinite(timeoutSec) || timeoutSec <= 0) {
  console.error(`wait-for-gsm: invalid timeout "${process.argv[2]}" (seconds expected)`);
  process.exit(2);
}
const sep = target.lastIndexOf(':');
if (sep <= 0) {
  console.error(`wait-for-gsm: expected host:port, got "${target}"`);
  process.exit(2);
}
const host = target.slice(0, sep);
const port = Number(target.slice(sep + 1));

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

(async () => {
  const started = Date.now();
  const deadline = started + timeoutSec * 1000;
  let lastError;
  let tries = 0;
  while (Date.now() < deadline) {
    tries += 1;
    const client = new SecretManagerServiceClient({
      apiEndpoint: host,
      port,
      sslCreds: grpc.credentials.createInsecure(),
      universeDomain: 'googleapis.com',
    });
    try {
      const [secrets] = await client.listSecrets({ parent: `projects/${project}` }, { timeout: 2000 });
      console.log(
        `gsm ready: ${host}:${port} listed ${secrets.length} secret(s) in projects/${project} ` +
          `(${Date.now() - started} ms, ${tries} tries)`,
      );
      await client.close().catch(() => {});
      process.exit(0);
    } catch (err) {
      lastError = err;
      await client.close().catch(() => {});
      await sleep(300);
    }
  }
  console.error(
    `wait-for-gsm: no answer from ${host}:${port} within ${timeoutSec}s after ${tries} tries; ` +
      `last error: ${lastError ? lastError.message : 'none'}`,
  );
  process.exit(1);
})();
