#!/usr/bin/env node
'use strict';
/*
 * Smoke test of a Secret Manager endpoint (the local emulator) through the real Node client
 * over plaintext gRPC: create a secret, add versions, access them, disable/enable, list,
 * delete. Leaves nothing behind.
 *
 *   node scripts/smoke-gsm.js [host:port]
 *
 * host:port defaults to $SECRET_MANAGER_EMULATOR_HOST, then 127.0.0.1:9090;
 * project: $GSM_PROJECT or rotor-local. Exits 1 on the first failed check.
 */
process.env.METADATA_SERVER_DETECTION = process.env.METADATA_SERVER_DETECTION || 'none';

const assert = require('node:assert/strict');
const grpc = require('@grpc/grpc-js');
const { SecretManagerServiceClient } = require('@google-cloud/secret-manager');

const target = process.argv[2] || process.env.SECRET_MANAGER_EMULATOR_HOST || '127.0.0.1:9090';
const project = process.env.GSM_PROJECT || 'rotor-local';
const sep = target.lastIndexOf(':');
const host = target.slice(0, sep);
const port = Number(target.slice(sep + 1));

const client = new SecretManagerServiceClient({
  apiEndpoint: host,
  port,
  sslCreds: grpc.credentials.createInsecure(),
  universeDomain: 'googleapis.com',
});

let step = 0;
async function check(label, fn) {
  step += 1;
  const t = Date.now();
  try {
    await fn();
    console.log(`  ok ${step} - ${label} (${Date.now() - t} ms)`);
  } catch (err) {
    console.error(`  FAIL ${step} - ${label}: ${err && err.stack ? err.stack : err}`);
    throw err;
  }
}
async function expectCode(promise, code) {
  try {
    await promise;
  } catch (err) {
    assert.equal(err.code, code, `expected gRPC code ${code}, got ${err.code}: ${err.message}`);
    return;
  }
  assert.fail(`expected gRPC code ${code}, call succeeded`);
}

(async () => {
  const started = Date.now();
  const secretId = `smoke-${process.pid}-${Date.now()}`;
  const parent = `projects/${project}`;
  const name = `${parent}/secrets/${secretId}`;
  const v1Data = Buffer.from(`password-1-${secretId}`);
  const v2Data = Buffer.from(`password-2-${secretId}`);
  console.log(`smoke-gsm: ${host}:${port}, ${name}`);
  let created = false;
  try {
    await check('createSecret', async () => {
      const [secret] = await client.createSecret({
        parent,
        secretId,
        secret: { replication: { automatic: {} }, labels: { app: 'rotor-smoke' } },
      });
      created = true;
      assert.equal(secret.name, name);
      assert.equal(secret.labels.app, 'rotor-smoke');
    });
    await check('createSecret again -> ALREADY_EXISTS', () =>
      expectCode(client.createSecret({ parent, secretId, secret: { replication: { automatic: {} } } }), grpc.status.ALREADY_EXISTS),
    );
    await check('addSecretVersion v1', async () => {
      const [version] = await client.addSecretVersion({ parent: name, payload: { data: v1Data } });
      assert.equal(version.name, `${name}/versions/1`);
      assert.equal(version.state, 'ENABLED');
    });
    await check('accessSecretVersion latest = v1', async () => {
      const [res] = await client.accessSecretVersion({ name: `${name}/versions/latest` });
      assert.equal(res.name, `${name}/versions/1`);
      assert.deepEqual(Buffer.from(res.payload.data), v1Data);
    });
    await check('addSecretVersion v2', async () => {
      const [version] = await client.addSecretVersion({ parent: name, payload: { data: v2Data } });
      assert.equal(version.name, `${name}/versions/2`);
    });
    await check('accessSecretVersion latest = v2, v1 still readable', async () => {
      const [latest] = await client.accessSecretVersion({ name: `${name}/versions/latest` });
      assert.equal(latest.name, `${name}/versions/2`);
      assert.deepEqual(Buffer.from(latest.payload.data), v2Data);
      const [v1] = await client.accessSecretVersion({ name: `${name}/versions/1` });
      assert.deepEqual(Buffer.from(v1.payload.data), v1Data);
    });
    await check('disableSecretVersion v1 -> access FAILED_PRECONDITION', async () => {
      const [v] = await client.disableSecretVersion({ name: `${name}/versions/1` });
      assert.equal(v.state, 'DISABLED');
      await expectCode(client.accessSecretVersion({ name: `${name}/versions/1` }), grpc.status.FAILED_PRECONDITION);
    });
    await check('listSecretVersions', async () => {
      const [versions] = await client.listSecretVersions({ parent: name });
      assert.deepEqual(
        versions.map((v) => [v.name.split('/').pop(), v.state]),
        [
          ['2', 'ENABLED'],
          ['1', 'DISABLED'],
        ],
      );
    });
    await check('listSecrets sees the secret', async () => {
      const [secrets] = await client.listSecrets({ parent });
      assert.ok(
        secrets.some((s) => s.name === name),
        'secret missing from listSecrets',
      );
    });
    await check('deleteSecret, then get -> NOT_FOUND', async () => {
      await client.deleteSecret({ name });
      created = false;
      await expectCode(client.getSecret({ name }), grpc.status.NOT_FOUND);
    });
    console.log(`smoke-gsm: all ${step} checks passed in ${Date.now() - started} ms`);
  } catch {
    process.exitCode = 1;
  } finally {
    if (created) await client.deleteSecret({ name }).catch(() => {});
    await client.close().catch(() => {});
  }
})();
