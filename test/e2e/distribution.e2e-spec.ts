import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, readlinkSync, statSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { createEvent, Topics } from '@rotor/contracts';
import { EventPublisher } from '@rotor/kafka';
import type { Delivery, DeliveryPage, DriftScanReport } from '@rotor/rest-contract';
import { GsmSecretStore } from '@rotor/secret-store';
import { createWebhookReceiver, type WebhookNotice, type WebhookSigningKey } from '@rotor/webhook-signature';

import { eventually } from '../support/eventually';
import { FakeKubeApi } from '../support/fake-kube-api';
import { ServiceProcess } from '../support/service-process';
import { requiredEnv } from '../support/services-env';
import { ensurePortFree, writeTempCatalog } from '../support/temp-files';
import { TestIdentity } from '../support/test-identity';
import { readRotorTopicsSince } from '../support/topic-tap';
import { kafkaFromEnv } from '../../tools/security/env-clients';

/** A webhook receiver built on the helper rotor ships for consumers; it can be told to fail first. */
class TestReceiver {
  readonly notices: WebhookNotice[] = [];
  readonly rejected: string[] = [];
  failuresLeft = 0;
  requests = 0;
  private server?: Server;

  constructor(private readonly key: WebhookSigningKey) {}

  async start(): Promise<this> {
    const handler = createWebhookReceiver({
      keyring: [this.key],
      onNotice: (notice) => {
        if (this.failuresLeft > 0) {
          this.failuresLeft--;
          throw new Error('receiver is down');
        }
        this.notices.push(notice);
      },
      onRejected: ({ code }) => this.rejected.push(code),
    });
    this.server = createServer((request, response) => {
      this.requests++;
      handler(request, response);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  url(path: string): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}${path}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

describe('distribution: every copy written, recorded, superseded, removed on retirement, and watched for drift', () => {
  const started = new Date();
  const project = requiredEnv('GSM_PROJECT');
  const name = `dist-${randomUUID().slice(0, 8)}`;
  const namespace = `ns-${randomUUID().slice(0, 6)}`;
  const webhookKey = { id: 'billing-1', key: randomBytes(32).toString('hex') };
  const fileDir = join(mkdtempSync(join(tmpdir(), 'rotor-file-target-')), 'app');
  let identity: TestIdentity;
  let kube: FakeKubeApi;
  let receiver: TestReceiver;
  let issuer: ServiceProcess;
  let distributor: ServiceProcess;
  let publisher: EventPublisher;
  let gsm: GsmSecretStore;
  let sre: string;

  const copies = async (): Promise<Delivery[]> => {
    const response = await fetch(`${distributor.url}/v1/deliveries?secret=${name}`, { headers: { authorization: `Bearer ${sre}` } });
    expect(response.status).toBe(200);
    return ((await response.json()) as DeliveryPage).items;
  };
  const gsmValue = async (version: number) => (await gsm.access(`projects/${project}/secrets/${name}/versions/${version}`)).toString();
  const kubeSecret = () => kube.secrets(namespace).find((secret) => secret.metadata?.name === 'app-credentials');
  const kubeValue = () => Buffer.from(kubeSecret()?.data?.['api-key'] ?? '', 'base64').toString();
  const rotate = async () =>
    publisher.publish(
      createEvent({
        topic: Topics.rotationRequested,
        source: '/rotor/test',
        subject: name,
        data: { secret: name, reason: 'requested', requestedBy: { kind: 'operator', subject: 'sre@example.com', groups: ['rotor:sre'] } },
      }),
    );
  const retire = async (version: number) =>
    publisher.publish(
      createEvent({
        topic: Topics.secretVersionRetired,
        source: '/rotor/test',
        subject: name,
        data: {
          secret: name,
          version,
          gsmVersion: `projects/${project}/secrets/${name}/versions/${version}`,
          reason: 'superseded',
          retiredAt: new Date().toISOString(),
        },
      }),
    );
  const allDelivered = (version: number) =>
    eventually(
      async () => {
        const list = (await copies()).filter((copy) => copy.version === version);
        return list.length === 3 && list.every((copy) => copy.state === 'delivered') ? list : undefined;
      },
      { what: `version ${version} delivered to all three targets`, timeoutMs: 30_000 },
    );

  beforeAll(async () => {
    await Promise.all([19001, 19002].map(ensurePortFree));
    identity = await TestIdentity.create();
    sre = await identity.operatorToken('sre@example.com', ['rotor:sre']);
    kube = await new FakeKubeApi().start();
    receiver = await new TestReceiver(webhookKey).start();
    receiver.failuresLeft = 2; // the first two deliveries fail with a 500
    const catalogFile = writeTempCatalog(`
managedSecrets:
  - name: ${name}
    owner: team-dist
    generator: { kind: random-bytes, bytes: 32 }
    rotationPeriod: 1h
    gracePeriod: 1h
    targets:
      - { kind: kubernetes-secret, name: cluster, namespace: ${namespace}, secretName: app-credentials, key: api-key, repairDrift: true }
      - { kind: file, name: node-agent, path: ${fileDir} }
      - { kind: webhook, name: billing, url: "${receiver.url('/rotor')}", signingKeyEnv: ROTOR_WEBHOOK_KEY_BILLING }
`);
    gsm = new GsmSecretStore({ project, emulatorHost: requiredEnv('SECRET_MANAGER_EMULATOR_HOST') });
    const kafka = kafkaFromEnv('rotor-test');
    publisher = new EventPublisher(kafka);
    await publisher.connect();
    issuer = new ServiceProcess('issuer', 19001, {
      ...identity.env,
      ROTOR_CATALOG: catalogFile,
      ROTOR_TOKEN_HASH_KEY: randomBytes(32).toString('hex'),
    });
    distributor = new ServiceProcess('distributor', 19002, {
      ...identity.env,
      ROTOR_CATALOG: catalogFile,
      KUBECONFIG: kube.writeKubeconfig(),
      ROTOR_CONTENT_HASH_KEY: randomBytes(32).toString('hex'),
      ROTOR_WEBHOOK_KEY_BILLING: `${webhookKey.id}:${webhookKey.key}`,
      ROTOR_FILE_TARGET_ROOTS: dirname(fileDir),
      ROTOR_DRIFT_SCAN_MS: '0',
      ROTOR_DELIVERY_MAX_BACKOFF_MS: '1000',
    });
    await Promise.all([distributor.start().ready(), issuer.start().ready()]);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([issuer?.stop(), distributor?.stop()]);
    await publisher?.disconnect();
    await Promise.all([kube?.stop(), receiver?.stop(), gsm?.close()]);
  });

  it('delivers the initial version to a Secret, a directory and a webhook, retrying the receiver until it confirms', async () => {
    const delivered = await allDelivered(1);
    const value = await gsmValue(1);

    const secret = kubeSecret()!;
    expect(kubeValue()).toBe(value);
    expect(secret.metadata?.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'rotor', 'rotor.dev/secret': name });
    expect(secret.metadata?.annotations).toMatchObject({
      'rotor.dev/version': '1',
      'rotor.dev/gsm-version': `projects/${project}/secrets/${name}/versions/1`,
    });
    expect(secret.metadata?.annotations?.['rotor.dev/content-hash']).toMatch(/^[A-Za-z0-9._-]+:[0-9a-f]{64}$/); // <keyId>:<hmac>

    expect(readFileSync(join(fileDir, 'value'), 'utf8')).toBe(value);
    expect(readlinkSync(join(fileDir, '..data'))).toMatch(/^\.\.v1_/);
    expect(statSync(join(fileDir, '..data', 'value')).mode & 0o777).toBe(0o400);
    expect(statSync(join(fileDir, '..data')).mode & 0o777).toBe(0o700);

    // The receiver failed twice; the distributor retried and recorded each failure.
    expect(receiver.notices).toEqual([expect.objectContaining({ type: 'rotor.secret.version-ready', secret: name, version: 1 })]);
    expect(delivered.find((copy) => copy.target.name === 'billing')?.attempts).toBe(2);
    const messages = await readRotorTopicsSince(started);
    const failed = messages
      .filter((m) => m.topic === Topics.deliveryFailed && m.value.includes(name))
      .map((m) => JSON.parse(m.value) as { data: { attempt: number; reason: string } });
    expect(failed.map((event) => event.data.attempt)).toEqual([1, 2]);
    expect(failed[0]!.data.reason).toBe('receiver answered HTTP 500');
    const completed = messages.filter((m) => m.topic === Topics.deliveryCompleted && m.value.includes(name));
    expect(completed).toHaveLength(3);
  }, 60_000);

  it('replaces every copy with a new version, then removes the old version everywhere when it is retired', async () => {
    await rotate();
    await allDelivered(2);
    const value = await gsmValue(2);
    expect(kubeValue()).toBe(value);
    expect(readFileSync(join(fileDir, 'value'), 'utf8')).toBe(value);
    expect(receiver.notices.map((notice) => notice.version)).toEqual([1, 2]);
    // Writing version 2 replaced version 1 at every target: those copies are gone before version 1
    // is retired. The distributor records the new copy delivered, then the old one removed (after
    // announcing it), so the ledger may show the second step a moment after the first.
    await eventually(
      async () => {
        const states = (await copies()).filter((copy) => copy.version === 1).map((copy) => copy.state);
        return states.length === 3 && states.every((state) => state === 'removed') ? true : undefined;
      },
      { what: 'version 1 superseded at every target', timeoutMs: 10_000 },
    );

    await retire(1);
    await eventually(
      async () => receiver.notices.some((notice) => notice.type === 'rotor.secret.version-retired' && notice.version === 1) || undefined,
      { what: 'the retirement notice' },
    );
    // Targets hold version 2: retiring version 1 touched none of them.
    expect(kubeValue()).toBe(value);
    expect(readFileSync(join(fileDir, 'value'), 'utf8')).toBe(value);

    // Retiring the version a target holds (an immediate emergency rotation does this) deletes the copy itself.
    await retire(2);
    await eventually(
      async () => ((await copies()).filter((copy) => copy.version === 2).every((copy) => copy.state === 'removed') ? true : undefined),
      { what: 'version 2 removed everywhere' },
    );
    expect(kubeSecret()).toBeUndefined();
    expect(existsSync(join(fileDir, 'value'))).toBe(false);
    expect(existsSync(join(fileDir, '..data'))).toBe(false);

    const messages = await readRotorTopicsSince(started);
    const removed = messages
      .filter((m) => m.topic === Topics.deliveryRemoved && m.value.includes(name))
      .map((m) => JSON.parse(m.value) as { id: string; data: { version: number; reason: string; target: { name: string } } });
    const byId = new Map(removed.map((event) => [event.id, event.data]));
    expect(
      [...byId.values()]
        .filter((data) => data.version === 1)
        .map((data) => data.reason)
        .sort(),
    ).toEqual(['superseded', 'superseded', 'superseded']);
    expect(
      [...byId.values()]
        .filter((data) => data.version === 2)
        .map((data) => data.reason)
        .sort(),
    ).toEqual(['retired', 'retired', 'retired']);
  }, 90_000);

  it('finds hand edits, deletions and Secrets nobody accounts for; repairs where the catalog says so', async () => {
    await rotate();
    await allDelivered(3);
    const value = await gsmValue(3);

    kube.editSecretData(namespace, 'app-credentials', { 'api-key': Buffer.from('edited-by-hand').toString('base64') });
    chmodSync(join(fileDir, '..data', 'value'), 0o600);
    writeFileSync(join(fileDir, '..data', 'value'), 'also-edited');
    kube.putSecret({
      metadata: { name: 'forgotten', namespace, labels: { 'app.kubernetes.io/managed-by': 'rotor' } },
      data: { 'api-key': Buffer.from('old').toString('base64') },
    });

    const response = await fetch(`${distributor.url}/v1/reconcile`, { method: 'POST', headers: { authorization: `Bearer ${sre}` } });
    expect(response.status).toBe(200);
    const report = (await response.json()) as DriftScanReport;
    expect(report.findings).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ drift: 'edited', target: 'cluster', repaired: true }),
        expect.objectContaining({ drift: 'edited', target: 'node-agent', repaired: false }),
        expect.objectContaining({ drift: 'unaccounted', locator: `k8s:${namespace}/secrets/forgotten`, repaired: false }),
      ]),
    );
    // The Secret (repairDrift: true) is rewritten with the current version; the file (report only) is left as found.
    await eventually(async () => (kubeValue() === value ? true : undefined), { what: 'the edited Secret repaired' });
    expect(readFileSync(join(fileDir, 'value'), 'utf8')).toBe('also-edited');

    // A second scan reports what is still wrong, but publishes no duplicate event for it.
    const again = (await (
      await fetch(`${distributor.url}/v1/reconcile`, { method: 'POST', headers: { authorization: `Bearer ${sre}` } })
    ).json()) as typeof report;
    expect(again.findings.map((finding) => finding.drift).sort()).toEqual(['edited', 'unaccounted']);
    const drift = (await readRotorTopicsSince(started)).filter(
      (m) => m.topic === Topics.deliveryDriftDetected && (m.value.includes(name) || m.value.includes(namespace)),
    );
    expect(drift.length).toBe(3);

    // Deleting a copy by hand is drift too.
    kube.deleteSecret(namespace, 'app-credentials');
    const third = (await (
      await fetch(`${distributor.url}/v1/reconcile`, { method: 'POST', headers: { authorization: `Bearer ${sre}` } })
    ).json()) as typeof report;
    expect(third.findings).toEqual(
      expect.arrayContaining([expect.objectContaining({ drift: 'missing', target: 'cluster', repaired: true })]),
    );
    await eventually(async () => (kubeValue() === value ? true : undefined), { what: 'the deleted Secret re-created' });
  }, 90_000);

  it('keeps delivering to the other targets while one cannot be reached, and catches up when it heals', async () => {
    kube.setNamespaceFault(namespace, { kind: 'unreachable' });
    await rotate();
    const failing = await eventually(
      async () => {
        const list = (await copies()).filter((copy) => copy.version === 4);
        const cluster = list.find((copy) => copy.target.name === 'cluster');
        const others = list.filter((copy) => copy.target.name !== 'cluster');
        return cluster?.state === 'failed' &&
          cluster.attempts >= 2 &&
          others.length === 2 &&
          others.every((copy) => copy.state === 'delivered')
          ? cluster
          : undefined;
      },
      { what: 'the Secret failing while the file and webhook are delivered', timeoutMs: 30_000 },
    );
    expect(failing.lastError).toMatch(/ECONNRESET|ECONNREFUSED|socket|fetch failed|kubernetes API answered 5\d\d/i);
    expect((await fetch(`${distributor.url}/healthz`)).status).toBe(200);

    kube.setNamespaceFault(namespace, undefined);
    await allDelivered(4);
    expect(kubeValue()).toBe(await gsmValue(4));

    // A copy that cannot be removed stays listed as removal-failed and is retried until it goes.
    kube.setNamespaceFault(namespace, { kind: 'unreachable' });
    await retire(4);
    await eventually(
      async () => {
        const list = (await copies()).filter((copy) => copy.version === 4);
        const cluster = list.find((copy) => copy.target.name === 'cluster');
        return cluster?.state === 'removal-failed' &&
          list.filter((copy) => copy.target.name !== 'cluster').every((copy) => copy.state === 'removed')
          ? true
          : undefined;
      },
      { what: 'the Secret removal failing while the other copies are removed', timeoutMs: 30_000 },
    );
    expect(kubeSecret()).toBeDefined();
    kube.setNamespaceFault(namespace, undefined);
    await eventually(
      async () =>
        (await copies()).find((copy) => copy.version === 4 && copy.target.name === 'cluster')?.state === 'removed' ? true : undefined,
      { what: 'the Secret removed once reachable', timeoutMs: 30_000 },
    );
    expect(kubeSecret()).toBeUndefined();
  }, 90_000);

  it('refuses bad requests and keeps working after a malformed event', async () => {
    const workload = await identity.serviceAccountToken('team', 'app');
    expect(
      (await fetch(`${distributor.url}/v1/reconcile`, { method: 'POST', headers: { authorization: `Bearer ${workload}` } })).status,
    ).toBe(403);
    const bad = await fetch(`${distributor.url}/v1/deliveries?secret=Not_A_Name`, { headers: { authorization: `Bearer ${sre}` } });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toContain('application/problem+json');

    const kafka = kafkaFromEnv('rotor-test-raw');
    const producer = kafka.producer();
    await producer.connect();
    const marker = randomUUID();
    await producer.send({
      topic: Topics.secretVersionCreated,
      messages: [{ key: name, value: JSON.stringify({ id: marker, type: Topics.secretVersionCreated, data: { secret: name } }) }],
    });
    await producer.disconnect();
    await eventually(
      async () => {
        const dlq = (await readRotorTopicsSince(started)).filter((m) => m.topic === Topics.deadLetter);
        return (
          dlq.some(
            (m) =>
              m.value.includes('rotor-distributor-delivery') &&
              Buffer.from((JSON.parse(m.value) as { value: string }).value, 'base64')
                .toString()
                .includes(marker),
          ) || undefined
        );
      },
      { what: 'the malformed event in the DLQ', timeoutMs: 30_000 },
    );
    await rotate();
    await allDelivered(5);
  }, 90_000);

  it('never lets a value reach Kafka or a log', async () => {
    const values = await Promise.all([1, 2, 3, 4, 5].map(async (version) => gsmValue(version).catch(() => undefined)));
    const messages = await readRotorTopicsSince(started);
    for (const value of values.filter((v): v is string => !!v)) {
      expect(
        messages
          .filter((m) => m.value.includes(value) || m.value.includes(Buffer.from(value).toString('base64')))
          .map((m) => `${m.topic}@${m.partition}:${m.offset}`),
      ).toEqual([]);
      expect(distributor.logs.includes(value)).toBe(false);
      expect(distributor.logs.includes(Buffer.from(value).toString('base64'))).toBe(false);
    }
  });
});
