import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';

import { sharedGsmPacers } from '@rotor/nest-gsm';
import { createRedis } from '@rotor/redis-store';
import { GsmSecretStore, gsmClient, processPacers } from '@rotor/secret-store';
import { Metrics, sampleValue } from '@rotor/telemetry';

import { startQuotaEmulator } from '../support/gsm-emulator';
import { requiredEnv } from '../support/services-env';
import { redisLinkFromEnv } from '../../tools/security/env-clients';

const PORT = 19140;
// Nothing listens here: calls fail UNAVAILABLE.
const CLOSED_PORT = 19141;

/** A counter's sample with `labels`; 0 when there is none. */
/** A series' value, 0 when it has none yet. */
const value = async (metrics: Metrics, name: string, labels: Record<string, string> = {}) => (await metrics.valueOf(name, labels)) ?? 0;

/** GSM call metrics against the emulator, with GSM's per-secret version-write quota (about 2 per second) on. */
describe('GSM call and quota metrics', () => {
  let emulator: ChildProcess;
  const settings = { project: 'rotor-metrics', emulatorHost: `127.0.0.1:${PORT}` };

  beforeAll(async () => {
    emulator = await startQuotaEmulator(PORT, 2);
  });

  afterAll(() => emulator.kill('SIGKILL'));

  it('counts every call by RPC and outcome, refusals for quota included, and times it by RPC', async () => {
    const metrics = new Metrics('issuer');
    // Client-side pacing per secret off, so the emulator's quota answers.
    const store = new GsmSecretStore({ ...settings, versionWritesPerSecondPerSecret: 1_000 }, processPacers, gsmClient, metrics);
    const secret = `metrics-${randomUUID().slice(0, 8)}`;
    try {
      await store.ensureSecret(secret, { owner: 'test' });
      await store.ensureSecret(secret, { owner: 'test' });
      const versions: string[] = [];
      for (let i = 0; i < 4; i++) versions.push(await store.addVersion(secret, Buffer.from(`canary-value-${i}`)));
      await store.access(versions[3]!);
      await expect(store.access(store.versionName(secret, 99))).rejects.toMatchObject({ code: 'gsm-not-found' });
    } finally {
      await store.close();
    }
    expect(await value(metrics, 'rotor_gsm_calls_total', { method: 'CreateSecret', outcome: 'ok' })).toBe(1);
    expect(await value(metrics, 'rotor_gsm_calls_total', { method: 'CreateSecret', outcome: 'conflict' })).toBe(1);
    expect(await value(metrics, 'rotor_gsm_calls_total', { method: 'AddSecretVersion', outcome: 'ok' })).toBe(4);
    // 4 writes at 2/s: the emulator refused at least one, which was retried after a backoff.
    expect(await value(metrics, 'rotor_gsm_calls_total', { method: 'AddSecretVersion', outcome: 'quota-exhausted' })).toBeGreaterThan(0);
    expect(await value(metrics, 'rotor_gsm_calls_total', { method: 'AccessSecretVersion', outcome: 'ok' })).toBe(1);
    expect(await value(metrics, 'rotor_gsm_calls_total', { method: 'AccessSecretVersion', outcome: 'not-found' })).toBe(1);
    const text = await metrics.render();
    // Each attempt is a call: the refused ones too.
    expect(sampleValue(text, 'rotor_gsm_call_duration_seconds_count', { method: 'AddSecretVersion' })).toBeGreaterThan(4);
    expect(sampleValue(text, 'rotor_gsm_call_duration_seconds_count', { method: 'AccessSecretVersion' })).toBe(2);
    expect(text).not.toContain(secret);
    expect(text).not.toContain('canary');
  });

  it('counts a GSM that does not answer as unavailable', async () => {
    const metrics = new Metrics('issuer');
    const store = new GsmSecretStore({ ...settings, emulatorHost: `127.0.0.1:${CLOSED_PORT}` }, processPacers, gsmClient, metrics);
    try {
      await expect(store.ping()).rejects.toMatchObject({ code: 'gsm-unavailable' });
    } finally {
      await store.close();
    }
    expect(await value(metrics, 'rotor_gsm_calls_total', { method: 'ListSecrets', outcome: 'unavailable' })).toBe(1);
  });

  it('counts and times the waits at the shared rate limiter, by quota, and nothing when no call waited', async () => {
    const redis = createRedis(requiredEnv('REDIS_URL'), {
      connectionName: 'rotor-test-gsm-metrics',
      security: redisLinkFromEnv(requiredEnv('REDIS_URL')),
    });
    // A bucket of its own (so it starts full): 120 writes/min is 2/s with a burst of 2.
    const pacers = sharedGsmPacers(redis, `rotor-metrics-${randomUUID().slice(0, 8)}`);
    const metrics = new Metrics('issuer');
    const store = new GsmSecretStore({ ...settings, writesPerMinute: 120 }, pacers, gsmClient, metrics);
    const secret = `waits-${randomUUID().slice(0, 8)}`;
    try {
      await store.ensureSecret(secret, { owner: 'test' });
      await store.access(store.versionName(secret, 1)).catch(() => undefined);
      expect(await value(metrics, 'rotor_gsm_quota_waits_total', { quota: 'writes' })).toBe(0);
      // 1 token left: of 3 concurrent writes, 2 wait (about 0.5 s and 1 s).
      await Promise.all([1, 2, 3].map((n) => store.setLabels(secret, { owner: 'test', n: String(n) })));
    } finally {
      await store.close();
      redis.disconnect();
    }
    expect(await value(metrics, 'rotor_gsm_quota_waits_total', { quota: 'writes' })).toBe(2);
    expect(await value(metrics, 'rotor_gsm_quota_waits_total', { quota: 'accesses' })).toBe(0);
    const text = await metrics.render();
    expect(sampleValue(text, 'rotor_gsm_quota_wait_seconds_count', { quota: 'writes' })).toBe(2);
    // About 0.5 s and 1 s.
    expect(sampleValue(text, 'rotor_gsm_quota_wait_seconds_sum', { quota: 'writes' })).toBeGreaterThan(1);
    expect(text).not.toContain(secret);
  });
});
