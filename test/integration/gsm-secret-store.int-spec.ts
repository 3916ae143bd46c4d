import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';

import { sharedGsmPacers } from '@rotor/nest-gsm';
import { createRedis } from '@rotor/redis-store';
import { GsmSecretStore, processPacers } from '@rotor/secret-store';

import { startQuotaEmulator } from '../support/gsm-emulator';
import { requiredEnv } from '../support/services-env';
import { redisLinkFromEnv } from '../../tools/security/env-clients';

const PORT = 19290;

/** The GSM emulator with GSM's per-secret version-write quota (about 2 per second) switched on. */
describe('GSM secret store against the emulator with quotas', () => {
  let emulator: ChildProcess;
  // Client-side pacing per secret off, so the emulator's quota is what answers.
  const store = new GsmSecretStore({ project: 'rotor-quota', emulatorHost: `127.0.0.1:${PORT}`, versionWritesPerSecondPerSecret: 1_000 });

  beforeAll(async () => {
    emulator = await startQuotaEmulator(PORT, 2);
  });

  afterAll(async () => {
    await store.close();
    emulator.kill('SIGKILL');
  });

  it('backs off on RESOURCE_EXHAUSTED and completes every write instead of failing', async () => {
    const secret = `quota-${randomUUID().slice(0, 8)}`;
    await store.ensureSecret(secret, { owner: 'test' });
    const started = Date.now();
    const versions: string[] = [];
    for (let i = 0; i < 5; i++) versions.push(await store.addVersion(secret, Buffer.from(`value-${i}`)));
    // 5 writes at 2/s cannot all fit in the first second: at least one was refused and retried.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    expect(versions.map((name) => Number(name.split('/').pop()))).toEqual([1, 2, 3, 4, 5]);
    expect((await store.access(versions[4]!)).toString()).toBe('value-4');
  });

  it('paces version writes to one secret at its configured rate (GSM allows about 2/s)', async () => {
    const paced = new GsmSecretStore({ project: 'rotor-quota', emulatorHost: `127.0.0.1:${PORT}`, versionWritesPerSecondPerSecret: 2 });
    const secret = `paced-${randomUUID().slice(0, 8)}`;
    await paced.ensureSecret(secret, { owner: 'test' });
    const started = Date.now();
    for (let i = 0; i < 5; i++) await paced.addVersion(secret, Buffer.from(`value-${i}`));
    // One every 500 ms: about 2 s for 5.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_900);
    expect(Date.now() - started).toBeLessThan(4_000);
    await paced.close();
  });

  it('paces the writes of replicas sharing Redis to the project quota together, not each to all of it', async () => {
    const secret = `shared-${randomUUID().slice(0, 8)}`;
    await store.ensureSecret(secret, { owner: 'test' });
    const redis = createRedis(requiredEnv('REDIS_URL'), {
      connectionName: 'rotor-test-gsm-quota',
      security: redisLinkFromEnv(requiredEnv('REDIS_URL')),
    });
    // 120 writes/min is 2/s with a burst of 2; the buckets are named as for a project of their own, so they start full.
    const settings = { project: 'rotor-quota', emulatorHost: `127.0.0.1:${PORT}`, writesPerMinute: 120 };
    const bucketProject = `rotor-quota-${randomUUID().slice(0, 8)}`;
    const sixWrites = async (replicas: GsmSecretStore[]) => {
      const started = Date.now();
      await Promise.all(
        replicas.map((replica) => Promise.all([1, 2, 3].map((n) => replica.setLabels(secret, { owner: 'test', n: String(n) })))),
      );
      await Promise.all(replicas.map((replica) => replica.close()));
      return Date.now() - started;
    };
    try {
      // Two buckets of their own: 2 at once each, then one more after 500 ms.
      const alone = await sixWrites([new GsmSecretStore(settings, processPacers), new GsmSecretStore(settings, processPacers)]);
      // One shared bucket: 2 at once, then 4 more at 500 ms each.
      const shared = await sixWrites([
        new GsmSecretStore(settings, sharedGsmPacers(redis, bucketProject)),
        new GsmSecretStore(settings, sharedGsmPacers(redis, bucketProject)),
      ]);
      expect(alone).toBeLessThan(1_500);
      expect(shared).toBeGreaterThanOrEqual(1_900);
      expect(shared).toBeLessThan(4_000);
    } finally {
      redis.disconnect();
    }
  });

  it('reports a disabled version as a conflict, never echoing its value', async () => {
    const secret = `disabled-${randomUUID().slice(0, 8)}`;
    await store.ensureSecret(secret, { owner: 'test' });
    const version = await store.addVersion(secret, Buffer.from('canary-disabled-value'));
    await store.disable(version);
    const error = await store.access(version).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ kind: 'conflict', code: 'gsm-version-disabled' });
    expect(String((error as Error).message)).not.toContain('canary');
  });
});
