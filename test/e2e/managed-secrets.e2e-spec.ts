import { randomBytes, randomUUID } from 'node:crypto';

import { createEvent, Topics } from '@rotor/contracts';
import { EventPublisher } from '@rotor/kafka';
import { GsmSecretStore } from '@rotor/secret-store';

import { eventually } from '../support/eventually';
import { requiredEnv } from '../support/services-env';
import { ServiceProcess } from '../support/service-process';
import { TestIdentity } from '../support/test-identity';
import { readRotorTopicsSince } from '../support/topic-tap';
import { writeTempCatalog } from '../support/temp-files';
import { kafkaFromEnv } from '../../tools/security/env-clients';

interface SecretRead {
  secret: string;
  version: number;
  value: string;
}

describe('managed secrets: versions in GSM, rotated on schedule and on request, read just in time', () => {
  const started = new Date();
  const name = `e2e-key-${randomUUID().slice(0, 8)}`;
  let identity: TestIdentity;
  let issuer: ServiceProcess;

  beforeAll(async () => {
    identity = await TestIdentity.create();
    const catalogFile = writeTempCatalog(`
managedSecrets:
  - name: ${name}
    owner: team-e2e
    generator: { kind: random-bytes, bytes: 32 }
    rotationPeriod: 4s
    gracePeriod: 1m
    bindings: [{ namespace: e2e, serviceAccount: reader }]
`);
    issuer = new ServiceProcess('issuer', 18380, {
      ...identity.env,
      ROTOR_CATALOG: catalogFile,
      ROTOR_TOKEN_HASH_KEY: randomBytes(32).toString('hex'),
    });
    await issuer.start().ready();
  }, 90_000);

  afterAll(() => issuer?.stop());

  it('mints, rotates and serves versions whose values never leave GSM and the response', async () => {
    const reader = await identity.serviceAccountToken('e2e', 'reader');
    const read = async (token = reader) => {
      const response = await fetch(`${issuer.url}/v1/secrets/${name}`, { headers: { authorization: `Bearer ${token}` } });
      return { status: response.status, body: (await response.json()) as SecretRead & { code?: string } };
    };

    // The first version is minted at start-up.
    const first = await eventually(
      async () => {
        const { status, body } = await read();
        return status === 200 ? body : undefined;
      },
      { what: 'the initial version' },
    );
    expect(first.value).toMatch(/^[A-Za-z0-9_-]{43}$/);

    // GSM holds exactly that value under that version.
    const gsm = new GsmSecretStore({ project: requiredEnv('GSM_PROJECT'), emulatorHost: requiredEnv('SECRET_MANAGER_EMULATOR_HOST') });
    const gsmVersion = `projects/${requiredEnv('GSM_PROJECT')}/secrets/${name}/versions/${first.version}`;
    expect((await gsm.access(gsmVersion)).toString()).toBe(first.value);

    // The schedule rotates it after its rotationPeriod.
    const second = await eventually(
      async () => {
        const { body } = await read();
        return body.version > first.version ? body : undefined;
      },
      { what: 'a scheduled rotation', timeoutMs: 20_000 },
    );
    expect(second.value).not.toBe(first.value);

    // A rotation.requested event mints another one at once.
    const kafka = kafkaFromEnv('rotor-test');
    const publisher = new EventPublisher(kafka);
    await publisher.connect();
    await publisher.publish(
      createEvent({
        topic: Topics.rotationRequested,
        source: '/rotor/test',
        subject: name,
        data: { secret: name, reason: 'requested', requestedBy: { kind: 'operator', subject: 'sre@example.com', groups: ['rotor:sre'] } },
      }),
    );
    await publisher.disconnect();
    const third = await eventually(
      async () => {
        const { body } = await read();
        return body.version > second.version ? body : undefined;
      },
      { what: 'the requested rotation' },
    );

    // Only bound workloads may read it.
    const stranger = await read(await identity.serviceAccountToken('e2e', 'someone-else'));
    expect(stranger).toMatchObject({ status: 403, body: { code: 'secret-not-bound' } });
    const operator = await read(await identity.operatorToken('sre@example.com', ['rotor:sre']));
    expect(operator).toMatchObject({ status: 403, body: { code: 'workloads-only' } });

    // Events carry GSM references and reasons; no value appears on any topic, log or in the access events.
    const messages = await readRotorTopicsSince(started);
    const created = messages
      .filter((message) => message.topic === Topics.secretVersionCreated && message.value.includes(`"secret":"${name}"`))
      .map((message) => JSON.parse(message.value) as { data: { reason: string; gsmVersion: string } });
    expect(created.map((event) => event.data.reason)).toEqual(expect.arrayContaining(['initial', 'scheduled', 'requested']));
    expect(
      created.every((event) => event.data.gsmVersion.startsWith(`projects/${requiredEnv('GSM_PROJECT')}/secrets/${name}/versions/`)),
    ).toBe(true);
    expect(messages.some((message) => message.topic === Topics.access && message.value.includes(`"secret":"${name}"`))).toBe(true);
    for (const value of [first.value, second.value, third.value]) {
      expect(messages.filter((message) => message.value.includes(value)).map((message) => message.topic)).toEqual([]);
      expect(issuer.logs.includes(value)).toBe(false);
    }
  }, 60_000);
});
