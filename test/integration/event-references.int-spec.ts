import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { createEvent, Topics, type AuditRecord, type DeadLetter, type EventData } from '@rotor/contracts';
import { postgresRoleName } from '@rotor/credential-backends';
import { EventPublisher, readTopicRange } from '@rotor/kafka';
import { GsmSecretStore } from '@rotor/secret-store';

import { eventually } from '../support/eventually';
import { PrivateAuditLog } from '../support/private-audit-log';
import { requiredEnv } from '../support/services-env';
import { ServiceProcess } from '../support/service-process';
import { ensurePortFree, writeTempCatalog } from '../support/temp-files';
import { TestIdentity } from '../support/test-identity';
import { kafkaFromEnv, redisFromEnv } from '../../tools/security/env-clients';

const kafka = kafkaFromEnv('rotor-test-event-references');

/** Messages of one topic since `since`, parsed. */
async function messagesOf<T>(topic: string, since: Date): Promise<T[]> {
  const found: T[] = [];
  await readTopicRange(kafka, {
    topic,
    fromTime: since,
    onMessage: (message) => {
      found.push(JSON.parse(message.value?.toString() ?? '{}') as T);
    },
  });
  return found;
}

/** The dead letters a consumer group wrote for one event id (the `ce-id` header the publisher sets). */
const deadLettersOf = async (eventId: string, since: Date): Promise<DeadLetter[]> =>
  (await messagesOf<DeadLetter>(Topics.deadLetter, since)).filter((letter) => letter.headers['ce-id'] === eventId);

/** The value of `rotor_kafka_references_rejected_total` for one topic and reason, 0 when absent. */
async function rejectedCount(service: ServiceProcess, topic: string, reason: string): Promise<number> {
  const metrics = await (await fetch(`${service.url}/metrics`)).text();
  const line = metrics
    .split('\n')
    .find(
      (text) =>
        text.startsWith('rotor_kafka_references_rejected_total{') &&
        text.includes(`topic="${topic}"`) &&
        text.includes(`reason="${reason}"`),
    );
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('events are references, checked on arrival: the distributor and the revoker act only inside their own domain', () => {
  const started = new Date();
  const suffix = randomUUID().slice(0, 8);
  const project = requiredEnv('GSM_PROJECT');
  const emulatorHost = requiredEnv('SECRET_MANAGER_EMULATOR_HOST');
  /** Another GSM project holding a secret of the same name: what a forged event points at. */
  const foreignProject = `victim-${suffix}`;
  const forged = `ref-forged-${suffix}`;
  const legit = `ref-legit-${suffix}`;
  const gone = `ref-gone-${suffix}`;
  const unknown = `ref-unknown-${suffix}`;
  const gsm = new GsmSecretStore({ project, emulatorHost });
  const foreignGsm = new GsmSecretStore({ project: foreignProject, emulatorHost });
  const publisher = new EventPublisher(kafka);
  const fileRoot = mkdtempSync(join(tmpdir(), 'rotor-refs-'));
  const redis = redisFromEnv(requiredEnv('REDIS_URL'), { maxRetriesPerRequest: 2 });
  let identity: TestIdentity;
  let distributor: ServiceProcess;
  let revoker: ServiceProcess;
  let revokerEnv: Record<string, string>;

  const managedSecret = (name: string) => `
  - name: ${name}
    owner: team-test
    generator: { kind: random-bytes, bytes: 32 }
    rotationPeriod: 1h
    gracePeriod: 2s
    targets: [{ kind: file, name: node-a, path: ${join(fileRoot, name)} }]`;
  const roles = `
roles:
  - name: db
    owner: team-test
    backend: { kind: postgres, grants: ['GRANT CONNECT ON DATABASE rotor TO {{role}}'] }
    bindings: [{ namespace: '*', serviceAccount: '*' }]
    ttl: 15m
    maxTtl: 1h`;

  const versionCreated = (data: Omit<EventData<typeof Topics.secretVersionCreated>, 'owner' | 'createdAt'>) =>
    createEvent({
      topic: Topics.secretVersionCreated,
      source: '/rotor/issuer',
      subject: data.secret,
      data: { owner: 'team-test', createdAt: new Date().toISOString(), ...data },
    });
  const operator = { kind: 'operator' as const, subject: 'sre@example.com', groups: ['rotor:sre'] };
  const retirementRequested = (secret: string, version: number) =>
    createEvent({
      topic: Topics.revocationRequested,
      source: '/rotor/issuer',
      subject: secret,
      data: { subject: { kind: 'secret-version', secret, version }, reason: 'requested', requestedBy: operator },
    });
  const retiredVersions = async (secret: string) =>
    (await messagesOf<{ data: EventData<typeof Topics.secretVersionRetired> }>(Topics.secretVersionRetired, started))
      .filter((event) => event.data.secret === secret)
      .map((event) => event.data.version);

  beforeAll(async () => {
    await Promise.all([ensurePortFree(19440), ensurePortFree(19441)]);
    identity = await TestIdentity.create();
    const common = { ...identity.env, ROTOR_FILE_TARGET_ROOTS: fileRoot, ROTOR_TOKEN_HASH_KEY: randomBytes(32).toString('hex') };
    const catalog = writeTempCatalog(`${roles}
managedSecrets:${managedSecret(forged)}${managedSecret(legit)}${managedSecret(gone)}
`);
    distributor = new ServiceProcess('distributor', 19440, { ...common, ROTOR_CATALOG: catalog, ROTOR_DELIVERY_POLL_MS: '50' });
    revokerEnv = { ...common, ROTOR_CATALOG: catalog, ROTOR_REVOKE_POLL_MS: '100' };
    revoker = new ServiceProcess('revoker', 19441, revokerEnv);
    await Promise.all([distributor.start().ready(), revoker.start().ready(), publisher.connect()]);
    const labels = { 'managed-by': 'rotor-test' };
    await Promise.all([...[legit, gone, unknown].map((name) => gsm.ensureSecret(name, labels)), foreignGsm.ensureSecret(forged, labels)]);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([distributor?.stop(), revoker?.stop(), publisher.disconnect(), gsm.close(), foreignGsm.close()]);
    for (const name of [forged, legit, gone, unknown]) {
      const revokerTag = `revoker:retirement:{${name}}`;
      await redis.del(
        `distributor:copies:{${name}}`,
        `distributor:held:{${name}}`,
        `distributor:retired:{${name}}`,
        `distributor:versions:{${name}}`,
        `${revokerTag}:known`,
        `${revokerTag}:open`,
        `${revokerTag}:confirmed`,
        ...[1, 2, 3].flatMap((version) => [`${revokerTag}:v${version}`, `${revokerTag}:v${version}:pending`]),
      );
    }
    redis.disconnect();
  });

  it('dead-letters a secret.version-created naming another GSM project: counted, nothing read or written, nothing disabled or destroyed', async () => {
    const before = {
      distributor: await rejectedCount(distributor, Topics.secretVersionCreated, 'foreign-project'),
      revoker: await rejectedCount(revoker, Topics.secretVersionCreated, 'foreign-project'),
    };
    const victimOld = await foreignGsm.addVersion(forged, Buffer.from('victim value 1'));
    const victimNew = await foreignGsm.addVersion(forged, Buffer.from('victim value 2'));
    const event = versionCreated({ secret: forged, version: 2, gsmVersion: victimNew, previousVersion: 1, reason: 'requested' });
    expect(victimOld).toBe(`projects/${foreignProject}/secrets/${forged}/versions/1`);
    await publisher.publish(event, { key: forged });

    const fromBoth = async () => {
      const found = await deadLettersOf(event.id, started);
      const groups = new Set(found.map((letter) => letter.consumerGroup));
      return groups.has('rotor-distributor-delivery') && groups.has('rotor-revoker-versions') ? found : undefined;
    };
    // Both services handled it (or had the time to: the effects below are what matters most)…
    await eventually(fromBoth, { what: 'dead letters', timeoutMs: 15_000, intervalMs: 500 }).catch(() => undefined);
    // …and the 2 s grace period after which the revoker would retire the "previous" version has passed.
    await new Promise((resolve) => setTimeout(resolve, 4_000));

    await expect(foreignGsm.access(victimOld)).resolves.toEqual(Buffer.from('victim value 1'));
    await expect(foreignGsm.access(victimNew)).resolves.toEqual(Buffer.from('victim value 2'));
    expect(await retiredVersions(forged)).toEqual([]);
    expect(await redis.exists(`distributor:copies:{${forged}}`, `distributor:versions:{${forged}}`)).toBe(0);
    const accesses = await messagesOf<{ data: EventData<typeof Topics.access> }>(Topics.access, started);
    expect(accesses.filter((access) => access.data.secret === forged)).toEqual([]);
    expect(existsSync(join(fileRoot, forged)) ? readdirSync(join(fileRoot, forged)) : []).toEqual([]);

    const letters = await fromBoth();
    expect(letters).toBeDefined();
    for (const letter of letters ?? []) expect(letter.reason).toContain('foreign-project');
    expect(await rejectedCount(distributor, Topics.secretVersionCreated, 'foreign-project')).toBe(before.distributor + 1);
    expect(await rejectedCount(revoker, Topics.secretVersionCreated, 'foreign-project')).toBe(before.revoker + 1);
  }, 60_000);

  it('dead-letters a secret.version-created naming a secret neither the catalog nor the service records know', async () => {
    const name = await gsm.addVersion(unknown, Buffer.from('not managed'));
    const event = versionCreated({ secret: unknown, version: 1, gsmVersion: name, reason: 'initial' });
    await publisher.publish(event, { key: unknown });
    const letters = await eventually(
      async () => {
        const found = await deadLettersOf(event.id, started);
        const groups = new Set(found.map((letter) => letter.consumerGroup));
        return groups.has('rotor-distributor-delivery') && groups.has('rotor-revoker-versions') ? found : undefined;
      },
      { what: 'dead letters for the unknown secret', timeoutMs: 30_000, intervalMs: 500 },
    );
    for (const letter of letters) expect(letter.reason).toContain('unknown-secret');
    expect(await rejectedCount(distributor, Topics.secretVersionCreated, 'unknown-secret')).toBeGreaterThanOrEqual(1);
    expect(await rejectedCount(revoker, Topics.secretVersionCreated, 'unknown-secret')).toBeGreaterThanOrEqual(1);
    expect(await redis.exists(`distributor:copies:{${unknown}}`, `revoker:retirement:{${unknown}}:known`)).toBe(0);
  }, 60_000);

  it('still delivers a legitimate version, retires its predecessor after the grace period, and names the reporter of a copy', async () => {
    const first = await gsm.addVersion(legit, randomBytes(32));
    const second = await gsm.addVersion(legit, randomBytes(32));
    await publisher.publish(versionCreated({ secret: legit, version: 1, gsmVersion: first, reason: 'initial' }), { key: legit });
    await publisher.publish(versionCreated({ secret: legit, version: 2, gsmVersion: second, previousVersion: 1, reason: 'requested' }), {
      key: legit,
    });
    await eventually(
      async () => {
        const completed = await messagesOf<{ data: EventData<typeof Topics.deliveryCompleted> }>(Topics.deliveryCompleted, started);
        return completed.some((event) => event.data.secret === legit && event.data.version === 2) ? true : undefined;
      },
      { what: 'version 2 delivered', timeoutMs: 30_000, intervalMs: 500 },
    );
    await eventually(async () => ((await retiredVersions(legit)).includes(1) ? true : undefined), {
      what: 'version 1 retired',
      timeoutMs: 30_000,
      intervalMs: 500,
    });
    await expect(gsm.access(first)).rejects.toMatchObject({ code: expect.stringMatching(/gsm-(not-found|version-disabled)/) });
    await expect(gsm.access(second)).resolves.toBeInstanceOf(Buffer);

    // copy.discovered names who reported it: the authenticated operator, not a field of the request.
    const sre = await identity.operatorToken('sre@example.com', ['rotor:sre']);
    const response = await fetch(`${distributor.url}/v1/copy-scan/findings`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sre}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        findings: [{ secret: legit, version: 2, form: 'raw', kind: 'file', path: '/home/ci/.env', line: 3 }],
      }),
    });
    expect(response.status).toBe(200);
    const discovered = await eventually(
      async () =>
        (await messagesOf<{ data: EventData<typeof Topics.copyDiscovered> }>(Topics.copyDiscovered, started)).find(
          (event) => event.data.secret === legit,
        ),
      { what: 'the reported copy', timeoutMs: 20_000, intervalMs: 500 },
    );
    expect(discovered.data).toMatchObject({
      reportedBy: { kind: 'operator', subject: 'sre@example.com', groups: ['rotor:sre'] },
      scanner: 'cli-scan',
    });
  }, 90_000);

  it('dead-letters a secret.version-retired naming another GSM project: the delivered copy stays where it is', async () => {
    const copies = () => readdirSync(join(fileRoot, legit));
    expect(copies().length).toBeGreaterThan(0); // version 2, delivered by the test before
    const before = copies();
    const event = createEvent({
      topic: Topics.secretVersionRetired,
      source: '/rotor/revoker',
      subject: legit,
      data: {
        secret: legit,
        version: 2,
        gsmVersion: `projects/${foreignProject}/secrets/${legit}/versions/2`,
        reason: 'emergency',
        retiredAt: new Date().toISOString(),
      },
    });
    await publisher.publish(event, { key: legit });
    const letters = await eventually(
      async () => {
        const found = (await deadLettersOf(event.id, started)).filter((letter) => letter.consumerGroup === 'rotor-distributor-delivery');
        return found.length > 0 ? found : undefined;
      },
      { what: 'the retirement dead-lettered', timeoutMs: 30_000, intervalMs: 500 },
    );
    expect(letters[0]!.reason).toContain('foreign-project');
    await new Promise((resolve) => setTimeout(resolve, 2_000)); // a removal job would have run by now
    expect(copies()).toEqual(before);
    const removed = await messagesOf<{ data: EventData<typeof Topics.deliveryRemoved> }>(Topics.deliveryRemoved, started);
    expect(removed.filter((message) => message.data.secret === legit && message.data.version === 2)).toEqual([]);
  }, 60_000);

  it('retires a version of a secret the catalog has since dropped, which the revoker recorded; refuses one it never knew', async () => {
    const name = await gsm.addVersion(gone, randomBytes(32));
    const created = versionCreated({ secret: gone, version: 1, gsmVersion: name, reason: 'initial' });
    await publisher.publish(created, { key: gone });
    const handled = (line: string) => line.includes('"version created"') && line.includes(created.id);
    await eventually(async () => (revoker.logs.split('\n').some(handled) ? true : undefined), {
      what: 'the revoker to handle the version',
      timeoutMs: 30_000,
    });
    // The catalog drops the secret: the revoker restarts without it.
    await revoker.stop();
    const without = writeTempCatalog(`${roles}
managedSecrets:${managedSecret(legit)}
`);
    revoker = new ServiceProcess('revoker', 19441, { ...revokerEnv, ROTOR_CATALOG: without });
    await revoker.start().ready();

    await publisher.publish(retirementRequested(gone, 1), { key: gone });
    const refused = retirementRequested(unknown, 1);
    await publisher.publish(refused, { key: unknown });
    await eventually(async () => ((await retiredVersions(gone)).includes(1) ? true : undefined), {
      what: 'the dropped secret’s version retired',
      timeoutMs: 30_000,
      intervalMs: 500,
    });
    await expect(gsm.access(name)).rejects.toMatchObject({ code: expect.stringMatching(/gsm-(not-found|version-disabled)/) });
    const letters = await eventually(
      async () => {
        const found = (await deadLettersOf(refused.id, started)).filter((letter) => letter.consumerGroup === 'rotor-revoker-versions');
        return found.length > 0 ? found : undefined;
      },
      { what: 'the refused retirement dead-lettered', timeoutMs: 20_000, intervalMs: 500 },
    );
    expect(letters[0]!.reason).toContain('unknown-secret');
    await expect(gsm.access(`projects/${project}/secrets/${unknown}/versions/1`)).resolves.toEqual(Buffer.from('not managed'));
  }, 90_000);

  it('dead-letters a lease.issued whose revocation handle names another account than its own lease', async () => {
    const leaseId = randomUUID();
    const event = createEvent({
      topic: Topics.leaseIssued,
      source: '/rotor/issuer',
      subject: leaseId,
      data: {
        leaseId,
        role: 'db',
        owner: 'team-test',
        backend: 'postgres',
        workload: { namespace: `refs-${suffix}`, serviceAccount: 'app' },
        issuedAt: new Date().toISOString(),
        expiresAt: new Date(Date.now() + 1_000).toISOString(),
        maxExpiresAt: new Date(Date.now() + 60_000).toISOString(),
        // Another lease's role: revoking it at this lease's expiry would end someone else's credential.
        revocationHandle: { backend: 'postgres', roleName: postgresRoleName(randomUUID()) },
      },
    });
    await publisher.publish(event, { key: leaseId });
    const letters = await eventually(
      async () => {
        const found = (await deadLettersOf(event.id, started)).filter((letter) => letter.consumerGroup === 'rotor-revoker-clock');
        return found.length > 0 ? found : undefined;
      },
      { what: 'the lease.issued dead-lettered', timeoutMs: 30_000, intervalMs: 500 },
    );
    expect(letters[0]!.reason).toContain('handle-mismatch');
    expect(await rejectedCount(revoker, Topics.leaseIssued, 'handle-mismatch')).toBeGreaterThanOrEqual(1);
    expect(await redis.exists(`revoker:lease:{${leaseId}}`)).toBe(0);
  }, 60_000);

  it('dead-letters a delivery confirmation from a target the catalog does not list for that secret: it counts for nothing', async () => {
    const event = createEvent({
      topic: Topics.deliveryCompleted,
      source: '/rotor/distributor',
      subject: legit,
      data: {
        secret: legit,
        version: 99,
        target: { kind: 'webhook', name: 'rogue-receiver' },
        locator: 'webhook:rogue-receiver',
        contentHash: 'c'.repeat(64),
        deliveredAt: new Date().toISOString(),
      },
    });
    await publisher.publish(event, { key: legit });
    const letters = await eventually(
      async () => {
        const found = (await deadLettersOf(event.id, started)).filter((letter) => letter.consumerGroup === 'rotor-revoker-versions');
        return found.length > 0 ? found : undefined;
      },
      { what: 'the confirmation dead-lettered', timeoutMs: 30_000, intervalMs: 500 },
    );
    expect(letters[0]!.reason).toContain('unknown-target');
    expect(await redis.hget(`revoker:retirement:{${legit}}:confirmed`, 'rogue-receiver')).toBeNull();
  }, 60_000);

  it('dead-letters a breakglass.used naming a secret the revoker does not know: no follow-up is recorded', async () => {
    const leaseId = randomUUID();
    const event = createEvent({
      topic: Topics.breakglassUsed,
      source: '/rotor/issuer',
      subject: leaseId,
      data: {
        actor: operator,
        leaseId,
        secrets: [legit, unknown],
        reason: 'incident',
        ticket: 'INC-1',
        expiresAt: new Date(Date.now() + 60_000).toISOString(),
      },
    });
    await publisher.publish(event, { key: leaseId });
    const letters = await eventually(
      async () => {
        const found = (await deadLettersOf(event.id, started)).filter((letter) => letter.consumerGroup === 'rotor-revoker-breakglass');
        return found.length > 0 ? found : undefined;
      },
      { what: 'the breakglass.used dead-lettered', timeoutMs: 30_000, intervalMs: 500 },
    );
    expect(letters[0]!.reason).toContain('unknown-secret');
    expect(await redis.exists(`revoker:breakglass:{${leaseId}}`)).toBe(0);
  }, 60_000);
});

describe('copy.discovered names who reported it, and the audit record shows it, for events written before the field too', () => {
  const started = new Date();
  const suffix = randomUUID().slice(0, 8);
  const audit = new PrivateAuditLog(kafka, 'test');
  const { topic: auditTopic } = audit;
  const publisher = new EventPublisher(kafka);
  let auditor: ServiceProcess;

  beforeAll(async () => {
    await ensurePortFree(19442);
    await audit.create();
    const identity = await TestIdentity.create();
    auditor = new ServiceProcess('auditor', 19442, {
      ...identity.env,
      ...audit.env(),
      ROTOR_AUDIT_KEY: randomBytes(32).toString('hex'),
      ROTOR_CATALOG: writeTempCatalog('roles: []\nmanagedSecrets: []\n'),
      LOG_LEVEL: 'info',
    });
    await Promise.all([auditor.start().ready(), publisher.connect()]);
  }, 90_000);

  afterAll(async () => {
    await Promise.all([auditor?.stop(), publisher.disconnect()]);
    await audit.drop();
  });

  it('records the reporting operator (pseudonymised) and reads an old event without a reporter as unknown', async () => {
    const location = { kind: 'kubernetes-configmap' as const, namespace: 'payments', name: `legacy-${suffix}`, key: 'API_KEY' };
    const reported = createEvent({
      topic: Topics.copyDiscovered,
      source: '/rotor/distributor',
      subject: 'pay-key',
      data: {
        secret: 'pay-key',
        version: 2,
        location,
        reportedBy: { kind: 'operator', subject: 'sre@example.com', groups: ['rotor:sre'] },
        scanner: 'cli-scan',
        discoveredAt: new Date().toISOString(),
      },
    });
    // As the distributor wrote it before copy.discovered had a reporter: raw bytes, no such field.
    const old = {
      specversion: '1.0',
      id: randomUUID(),
      source: '/rotor/distributor',
      type: Topics.copyDiscovered,
      time: new Date().toISOString(),
      subject: 'pay-key',
      datacontenttype: 'application/json',
      data: { secret: 'pay-key', version: 1, location, discoveredAt: new Date().toISOString() },
    };
    await publisher.publish(reported, { key: 'pay-key' });
    await publisher.send([{ topic: Topics.copyDiscovered, key: 'pay-key', value: JSON.stringify(old), headers: { 'ce-id': old.id } }]);

    const records = await eventually(
      async () => {
        const found: AuditRecord[] = [];
        await readTopicRange(kafka, {
          topic: auditTopic,
          fromTime: started,
          onMessage: (message) => {
            const record = JSON.parse(message.value?.toString() ?? '{}') as AuditRecord;
            if (record.eventId === reported.id || record.eventId === old.id) found.push(record);
          },
        });
        return found.length === 2 ? found : undefined;
      },
      { what: 'both copies audited', timeoutMs: 30_000, intervalMs: 500 },
    );
    const dataOf = (id: string) => (records.find((record) => record.eventId === id)!.event as { data: Record<string, unknown> }).data;
    expect(dataOf(reported.id)).toMatchObject({
      reportedBy: { kind: 'operator', subject: expect.stringMatching(/^hmac-sha256:[0-9a-f]{64}$/), groups: ['rotor:sre'] },
      scanner: 'cli-scan',
    });
    expect(dataOf(old.id)).toMatchObject({ reportedBy: { kind: 'unknown' }, scanner: 'unknown' });
  }, 60_000);
});
