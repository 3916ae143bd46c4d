import { randomBytes, randomUUID } from 'node:crypto';

import { createEvent, Topics, type EventData } from '@rotor/contracts';
import { EventPublisher, readTopicRange } from '@rotor/kafka';
import { GsmSecretStore } from '@rotor/secret-store';

import { eventually } from '../support/eventually';
import { requiredEnv } from '../support/services-env';
import { ServiceProcess } from '../support/service-process';
import { ensurePortFree, writeTempCatalog } from '../support/temp-files';
import { TestIdentity } from '../support/test-identity';
import { kafkaFromEnv, redisFromEnv } from '../../tools/security/env-clients';

const kafka = kafkaFromEnv('rotor-test-retirement');

/** The events of one topic since `since` whose data names `secret`. */
async function eventsOf<T extends typeof Topics.secretVersionCreated | typeof Topics.secretVersionRetired>(
  topic: T,
  since: Date,
  secret: string,
) {
  const events: { id: string; data: EventData<T> }[] = [];
  await readTopicRange(kafka, {
    topic,
    fromTime: since,
    onMessage: (message) => {
      const event = JSON.parse(message.value?.toString() ?? '{}') as { id: string; data: EventData<T> };
      if (event.data.secret === secret) events.push(event);
    },
  });
  return events;
}

describe('revoker: retiring superseded managed-secret versions', () => {
  const started = new Date();
  const suffix = randomUUID().slice(0, 8);
  const confirmed = `ret-confirmed-${suffix}`;
  const grace = `ret-grace-${suffix}`;
  const publisher = new EventPublisher(kafka);
  const gsm = new GsmSecretStore({ project: requiredEnv('GSM_PROJECT'), emulatorHost: requiredEnv('SECRET_MANAGER_EMULATOR_HOST') });
  let issuer: ServiceProcess;
  let revoker: ServiceProcess;

  const operator = { kind: 'operator' as const, subject: 'sre@example.com', groups: ['rotor:sre'] };
  const requestRotation = (secret: string) =>
    publisher.publish(
      createEvent({
        topic: Topics.rotationRequested,
        source: '/rotor/test',
        subject: secret,
        data: { secret, reason: 'requested', requestedBy: operator },
      }),
    );
  const confirmDelivery = (secret: string, version: number, target: { kind: 'file' | 'webhook'; name: string }) =>
    publisher.publish(
      createEvent({
        topic: Topics.deliveryCompleted,
        source: '/rotor/test',
        subject: secret,
        data: {
          secret,
          version,
          target,
          locator: `${target.kind}:${target.name}`,
          contentHash: 'a'.repeat(64),
          deliveredAt: new Date().toISOString(),
        },
      }),
      { key: secret },
    );
  const versionCreated = (secret: string, predicate: (data: EventData<typeof Topics.secretVersionCreated>) => boolean, what: string) =>
    eventually(async () => (await eventsOf(Topics.secretVersionCreated, started, secret)).map((event) => event.data).find(predicate), {
      what,
      timeoutMs: 30_000,
      intervalMs: 500,
    });
  const retiredEvents = (secret: string) => eventsOf(Topics.secretVersionRetired, started, secret);

  beforeAll(async () => {
    await Promise.all([ensurePortFree(19300), ensurePortFree(19301)]);
    const identity = await TestIdentity.create();
    const targets = `
    targets:
      - { kind: file, name: node-a, path: /var/run/rotor/${suffix} }
      - { kind: webhook, name: hook-b, url: 'http://127.0.0.1:9/hook', signingKeyEnv: ROTOR_WEBHOOK_KEY_HOOK_B }`;
    const catalog = writeTempCatalog(`
managedSecrets:
  - name: ${confirmed}
    owner: team-test
    generator: { kind: random-bytes, bytes: 32 }
    rotationPeriod: 1h
    gracePeriod: 1h${targets}
  - name: ${grace}
    owner: team-test
    generator: { kind: random-bytes, bytes: 32 }
    rotationPeriod: 1h
    gracePeriod: 3s${targets}
`);
    const env = {
      ...identity.env,
      ROTOR_CATALOG: catalog,
      ROTOR_REVOKE_POLL_MS: '100',
      ROTOR_TOKEN_HASH_KEY: randomBytes(32).toString('hex'),
    };
    issuer = new ServiceProcess('issuer', 19300, env);
    revoker = new ServiceProcess('revoker', 19301, env);
    await Promise.all([issuer.start().ready(), revoker.start().ready()]);
    await publisher.connect();
  }, 90_000);

  afterAll(async () => {
    await Promise.all([issuer?.stop(), revoker?.stop()]);
    await publisher.disconnect();
    await gsm.close();
    // What the revoker keeps about these test secrets (per-secret hash tag {name}).
    const redis = redisFromEnv(requiredEnv('REDIS_URL'), { maxRetriesPerRequest: 2 });
    for (const name of [confirmed, grace]) {
      const tag = `revoker:retirement:{${name}}`;
      await redis.del(
        `${tag}:confirmed`,
        `${tag}:open`,
        ...[1, 2, 3, 4, 5].flatMap((version) => [`${tag}:v${version}`, `${tag}:v${version}:pending`]),
      );
      for (const version of [1, 2, 3, 4]) await redis.zrem('{revoker:schedule:retirement:s0}:due', `${name}:${version}`);
    }
    redis.disconnect();
  });

  it('retires the previous version once both targets confirmed the new one: GSM version destroyed, the new one still reads', async () => {
    const initial = await versionCreated(confirmed, (data) => data.reason === 'initial', 'the initial version');
    // One confirmation arrives before the new version's event (another topic): it must still count.
    await confirmDelivery(confirmed, initial.version + 1, { kind: 'webhook', name: 'hook-b' });
    await requestRotation(confirmed);
    const next = await versionCreated(confirmed, (data) => data.previousVersion === initial.version, 'the requested version');
    expect(next.version).toBe(initial.version + 1);

    // One target is not enough to retire it.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(await retiredEvents(confirmed)).toEqual([]);
    await expect(gsm.access(initial.gsmVersion)).resolves.toBeInstanceOf(Buffer);

    await confirmDelivery(confirmed, next.version, { kind: 'file', name: 'node-a' });
    const [retired, ...more] = await eventually(
      async () => {
        const events = await retiredEvents(confirmed);
        return events.length > 0 ? events : undefined;
      },
      { what: 'version-retired', timeoutMs: 20_000, intervalMs: 500 },
    );
    expect(more).toEqual([]);
    expect(retired).toMatchObject({
      id: `${confirmed}:${initial.version}:retired`,
      data: { version: initial.version, gsmVersion: initial.gsmVersion, reason: 'superseded' },
    });
    await expect(gsm.access(initial.gsmVersion)).rejects.toMatchObject({ code: 'gsm-version-disabled' });
    await expect(gsm.access(next.gsmVersion)).resolves.toBeInstanceOf(Buffer);
  }, 90_000);

  it('retires it when the grace period ends if only one target confirmed', async () => {
    const initial = await versionCreated(grace, (data) => data.reason === 'initial', 'the initial version');
    await requestRotation(grace);
    const next = await versionCreated(grace, (data) => data.previousVersion === initial.version, 'the requested version');
    await confirmDelivery(grace, next.version, { kind: 'file', name: 'node-a' });

    const retired = await eventually(async () => (await retiredEvents(grace))[0], {
      what: 'version-retired at the grace end',
      timeoutMs: 20_000,
      intervalMs: 500,
    });
    expect(retired.data).toMatchObject({ version: initial.version, reason: 'grace-period-ended' });
    expect(Date.parse(retired.data.retiredAt)).toBeGreaterThanOrEqual(Date.parse(next.createdAt) + 3_000);
    await expect(gsm.access(initial.gsmVersion)).rejects.toMatchObject({ code: 'gsm-version-disabled' });
    await expect(gsm.access(next.gsmVersion)).resolves.toBeInstanceOf(Buffer);
  }, 60_000);

  it('retires a version asked for by revocation.requested at once, and treats a second request as done', async () => {
    const current = await versionCreated(grace, (data) => data.previousVersion !== undefined, 'the current version');
    await requestRotation(grace);
    const newest = await versionCreated(grace, (data) => data.previousVersion === current.version, 'another version');
    for (let i = 0; i < 2; i++) {
      await publisher.publish(
        createEvent({
          topic: Topics.revocationRequested,
          source: '/rotor/test',
          subject: grace,
          data: {
            subject: { kind: 'secret-version', secret: grace, version: current.version },
            reason: 'emergency',
            requestedBy: operator,
          },
        }),
        { key: grace },
      );
    }
    const retired = await eventually(async () => (await retiredEvents(grace)).find((event) => event.data.version === current.version), {
      what: 'the requested retirement',
      timeoutMs: 15_000,
      intervalMs: 500,
    });
    expect(retired.data.reason).toBe('emergency');
    // Well before its 3 s grace period would have ended it.
    expect(Date.parse(retired.data.retiredAt)).toBeLessThan(Date.parse(newest.createdAt) + 3_000);
    await expect(gsm.access(current.gsmVersion)).rejects.toMatchObject({ code: 'gsm-version-disabled' });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect((await retiredEvents(grace)).filter((event) => event.data.version === current.version).map((event) => event.id)).toEqual([
      `${grace}:${current.version}:retired`,
    ]);
  }, 60_000);
});
