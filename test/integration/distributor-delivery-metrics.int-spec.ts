/**
 * The distributor's delivery latency (from the version's creation, as its secret.version-created
 * event says, to the copy delivered) and its GSM call metrics, read from a running distributor's /metrics.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { createEvent, Topics } from '@rotor/contracts';
import { EventPublisher } from '@rotor/kafka';
import { GsmSecretStore } from '@rotor/secret-store';

import { eventually } from '../support/eventually';
import { requiredEnv } from '../support/services-env';
import { ServiceProcess } from '../support/service-process';
import { ensurePortFree, writeTempCatalog } from '../support/temp-files';
import { TestIdentity } from '../support/test-identity';
import { kafkaFromEnv, redisFromEnv } from '../../tools/security/env-clients';
import { sampleValue } from '@rotor/telemetry';

const PORT = 19143;
/** How long before publishing the version is said to have been created. */
const AGE_S = 5;

describe('distributor delivery metrics', () => {
  const secret = `latency-${randomUUID().slice(0, 8)}`;
  const gsm = new GsmSecretStore({ project: requiredEnv('GSM_PROJECT'), emulatorHost: requiredEnv('SECRET_MANAGER_EMULATOR_HOST') });
  const publisher = new EventPublisher(kafkaFromEnv('rotor-test-delivery-metrics'));
  const fileRoot = mkdtempSync(join(tmpdir(), 'rotor-latency-'));
  const redis = redisFromEnv(requiredEnv('REDIS_URL'), { maxRetriesPerRequest: 2 });
  let distributor: ServiceProcess;

  beforeAll(async () => {
    await ensurePortFree(PORT);
    const identity = await TestIdentity.create();
    const catalog = writeTempCatalog(`
managedSecrets:
  - name: ${secret}
    owner: team-test
    generator: { kind: random-bytes, bytes: 32 }
    rotationPeriod: 1h
    gracePeriod: 2s
    targets: [{ kind: file, name: node-a, path: ${join(fileRoot, secret)} }]
`);
    distributor = new ServiceProcess('distributor', PORT, {
      ...identity.env,
      ROTOR_FILE_TARGET_ROOTS: fileRoot,
      ROTOR_TOKEN_HASH_KEY: randomBytes(32).toString('hex'),
      ROTOR_CATALOG: catalog,
      ROTOR_DELIVERY_POLL_MS: '50',
    });
    await Promise.all([distributor.start().ready(), publisher.connect(), gsm.ensureSecret(secret, { 'managed-by': 'rotor-test' })]);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([distributor?.stop(), publisher.disconnect(), gsm.close()]);
    await redis.del(`distributor:copies:{${secret}}`, `distributor:held:{${secret}}`, `distributor:versions:{${secret}}`);
    redis.disconnect();
  });

  const scrape = async () => (await fetch(`${distributor.url}/metrics`)).text();

  it('times a delivery from the version event, by target kind, with the GSM read counted', async () => {
    const value = randomBytes(24).toString('base64url');
    const gsmVersion = await gsm.addVersion(secret, Buffer.from(value));
    const createdAt = new Date(Date.now() - AGE_S * 1_000);
    await publisher.publish(
      createEvent({
        topic: Topics.secretVersionCreated,
        source: '/rotor/issuer',
        subject: secret,
        data: { secret, owner: 'team-test', version: 1, gsmVersion, reason: 'initial', createdAt: createdAt.toISOString() },
      }),
      { key: secret },
    );
    await eventually(async () => (readFileSync(join(fileRoot, secret, 'value'), 'utf8') === value ? true : undefined), {
      what: 'the copy at the file target',
      timeoutMs: 30_000,
    });
    const text = await eventually(
      async () => {
        const scraped = await scrape();
        return sampleValue(scraped, 'rotor_delivery_latency_seconds_count', { kind: 'file' }) === 1 ? scraped : undefined;
      },
      { what: 'the delivery latency sample', timeoutMs: 30_000 },
    );
    const seconds = sampleValue(text, 'rotor_delivery_latency_seconds_sum', { kind: 'file' })!;
    // From the event's creation time, not from when the job was queued or claimed.
    expect(seconds).toBeGreaterThanOrEqual(AGE_S);
    expect(seconds).toBeLessThan(AGE_S + 30);
    expect(sampleValue(text, 'rotor_delivery_latency_seconds_bucket', { kind: 'file', le: '2.5' })).toBe(0);
    expect(sampleValue(text, 'rotor_delivery_jobs_total', { kind: 'file', op: 'deliver', outcome: 'delivered' })).toBe(1);
    expect(sampleValue(text, 'rotor_gsm_calls_total', { method: 'AccessSecretVersion', outcome: 'ok' })).toBeGreaterThanOrEqual(1);
    expect(text).not.toContain(value);
    expect(text).not.toContain(secret);
  });
});
