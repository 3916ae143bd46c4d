import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';

import { parseCatalog } from '@rotor/catalog';
import { Topics, type EventData } from '@rotor/contracts';
import { EventPublisher, readTopicRange } from '@rotor/kafka';
import { GsmSecretStore } from '@rotor/secret-store';
import { createLogger } from '@rotor/telemetry';

import { RotationService } from '../../apps/issuer/src/managed-secrets/rotation.service';
import { SecretVersionStore } from '../../apps/issuer/src/managed-secrets/secret-version.store';
import { requiredEnv } from '../support/services-env';
import { kafkaFromEnv, redisFromEnv } from '../../tools/security/env-clients';

/**
 * Rotations of one managed secret that start together (a scheduled rotation and an emergency's,
 * or two issuer replicas) must form one chain: each new version names the version it replaces.
 * The chaos run found the gap this closes: two rotations both named v3 as their predecessor, so
 * v4 was never retired and stayed readable in GSM after the emergency rotation that should have
 * ended it.
 */
describe('rotations of one managed secret run one at a time', () => {
  const secret = `serial-${randomUUID().slice(0, 8)}`;
  const catalog = parseCatalog(`
managedSecrets:
  - name: ${secret}
    owner: team-it
    generator: { kind: random-bytes, bytes: 16 }
    rotationPeriod: 30d
    gracePeriod: 1h
`);
  const kafka = kafkaFromEnv('rotor-test-rotation-serial');
  const redis = redisFromEnv(requiredEnv('REDIS_URL'));
  const gsm = new GsmSecretStore({ project: requiredEnv('GSM_PROJECT'), emulatorHost: requiredEnv('SECRET_MANAGER_EMULATOR_HOST') });
  const publisher = new EventPublisher(kafka);
  const logger = createLogger({ service: 'test', destination: new Writable({ write: (_chunk, _encoding, done) => done() }) });
  // Two issuer replicas: their own services over the same Redis, GSM and Kafka.
  const replicas = [0, 1].map(() => new RotationService(catalog, gsm, new SecretVersionStore(redis), publisher, logger));

  beforeAll(() => publisher.connect());
  afterAll(async () => {
    await publisher.disconnect();
    await gsm.close();
    redis.disconnect();
  });

  it('eight rotations started at once on two replicas: versions 1-8, each naming the one before, the last one current', async () => {
    const started = new Date();
    const reasons = ['scheduled', 'emergency', 'requested'] as const;
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, index) => replicas[index % 2]!.rotate(secret, reasons[index % 3]!, { emergencyId: undefined })),
    );
    expect(results.map((result) => result.version).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);

    const created: EventData<typeof Topics.secretVersionCreated>[] = [];
    await readTopicRange(kafka, {
      topic: Topics.secretVersionCreated,
      fromTime: started,
      onMessage: (message) => {
        const event = JSON.parse(message.value?.toString() ?? '{}') as { data: EventData<typeof Topics.secretVersionCreated> };
        if (event.data.secret === secret) created.push(event.data);
      },
    });
    const chain = created.map(({ version, previousVersion }) => [version, previousVersion ?? null]).sort((a, b) => a[0]! - b[0]!);
    expect(chain).toEqual([
      [1, null],
      [2, 1],
      [3, 2],
      [4, 3],
      [5, 4],
      [6, 5],
      [7, 6],
      [8, 7],
    ]);
    expect((await new SecretVersionStore(redis).current(secret))?.version).toBe(8);
  }, 60_000);
});
