import { randomBytes, randomUUID } from 'node:crypto';

import { createEvent, Topics, type Envelope } from '@rotor/contracts';
import { EventPublisher } from '@rotor/kafka';

import { eventually } from '../support/eventually';
import { FakeKubeApi, type KubeObject } from '../support/fake-kube-api';
import { ServiceProcess } from '../support/service-process';
import { ensurePortFree, writeTempCatalog } from '../support/temp-files';
import { TestIdentity } from '../support/test-identity';
import { readRotorTopicsSince } from '../support/topic-tap';
import { kafkaFromEnv } from '../../tools/security/env-clients';

const ISSUER_PORT = 19200;
const DISTRIBUTOR_PORT = 19201;

/** A Deployment or StatefulSet whose one container uses what `pod` says. */
const workload = (name: string, namespace: string, pod: Record<string, unknown>) => ({
  metadata: { name, namespace },
  spec: {
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name }, annotations: { 'team.example/owner': 'shop' } },
      spec: { containers: [{ name: 'app', image: 'app:1', ...(pod['container'] as object) }], ...(pod['spec'] as object) },
    },
  },
});
const envFrom = (secretName: string) => ({ container: { envFrom: [{ secretRef: { name: secretName } }] } });
const projected = (secretName: string) => ({
  spec: { volumes: [{ name: 'bundle', projected: { sources: [{ secret: { name: secretName } }] } }] },
  container: { volumeMounts: [{ name: 'bundle', mountPath: '/etc/bundle' }] },
});

const templateAnnotations = (object: KubeObject | undefined) =>
  (object?.['spec'] as { template: { metadata: { annotations?: Record<string, string> } } } | undefined)?.template.metadata.annotations;

describe('rollout on change: kubernetes-secret targets with rollout roll the workloads that use the Secret', () => {
  const started = new Date();
  const rolled = `roll-${randomUUID().slice(0, 8)}`;
  const plain = `plain-${randomUUID().slice(0, 8)}`;
  const namespace = `ns-${randomUUID().slice(0, 6)}`;
  let identity: TestIdentity;
  let kube: FakeKubeApi;
  let issuer: ServiceProcess;
  let distributor: ServiceProcess;
  let publisher: EventPublisher;

  const secretHash = (secretName: string) => kube.secret(namespace, secretName)?.metadata.annotations?.['rotor.dev/content-hash'];
  const secretVersion = (secretName: string) => kube.secret(namespace, secretName)?.metadata.annotations?.['rotor.dev/version'];
  const deployment = (name: string, ns = namespace) => kube.deployment(ns, name);
  const appsPatches = () => kube.requests.filter((r) => r.method === 'PATCH' && r.path.startsWith('/apis/apps/v1/')).map((r) => r.path);
  const completedFor = async (secret: string, version: number) =>
    (await readRotorTopicsSince(started))
      .filter((m) => m.topic === Topics.deliveryCompleted)
      .map((m) => JSON.parse(m.value) as Envelope<typeof Topics.deliveryCompleted>)
      .filter((event) => event.data.secret === secret && event.data.version === version);

  beforeAll(async () => {
    await Promise.all([ISSUER_PORT, DISTRIBUTOR_PORT].map(ensurePortFree));
    identity = await TestIdentity.create();
    kube = await new FakeKubeApi().start();
    // The workloads exist before rotor writes the first version, as they would in a cluster.
    kube.putWorkload('deployments', workload('web', namespace, envFrom('payments')));
    kube.putWorkload('statefulsets', workload('db', namespace, projected('payments')));
    kube.putWorkload('deployments', workload('unrelated', namespace, envFrom('someone-elses')));
    kube.putWorkload('deployments', workload('plain-user', namespace, envFrom('plain-credentials')));
    kube.putWorkload('deployments', workload('web', 'elsewhere', envFrom('payments')));
    const catalogFile = writeTempCatalog(`
managedSecrets:
  - name: ${rolled}
    owner: team-shop
    generator: { kind: random-bytes, bytes: 32 }
    rotationPeriod: 1h
    gracePeriod: 1h
    targets:
      - { kind: kubernetes-secret, name: cluster, namespace: ${namespace}, secretName: payments, key: api-key, rollout: true }
  - name: ${plain}
    owner: team-shop
    generator: { kind: random-bytes, bytes: 32 }
    rotationPeriod: 1h
    gracePeriod: 1h
    targets:
      - { kind: kubernetes-secret, name: cluster, namespace: ${namespace}, secretName: plain-credentials, key: api-key }
`);
    publisher = new EventPublisher(kafkaFromEnv('rotor-test'));
    await publisher.connect();
    issuer = new ServiceProcess('issuer', ISSUER_PORT, {
      ...identity.env,
      ROTOR_CATALOG: catalogFile,
      ROTOR_TOKEN_HASH_KEY: randomBytes(32).toString('hex'),
    });
    distributor = new ServiceProcess('distributor', DISTRIBUTOR_PORT, {
      ...identity.env,
      ROTOR_CATALOG: catalogFile,
      KUBECONFIG: kube.writeKubeconfig(),
      ROTOR_CONTENT_HASH_KEY: randomBytes(32).toString('hex'),
      ROTOR_DRIFT_SCAN_MS: '0',
      ROTOR_DELIVERY_MAX_BACKOFF_MS: '1000',
    });
    await Promise.all([distributor.start().ready(), issuer.start().ready()]);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([issuer?.stop(), distributor?.stop()]);
    await publisher?.disconnect();
    await kube?.stop();
  });

  it('annotates the pod templates that use the Secret with its keyed content hash, and nothing else', async () => {
    await eventually(async () => (secretVersion('payments') === '1' && secretVersion('plain-credentials') === '1') || undefined, {
      what: 'both Secrets at version 1',
      timeoutMs: 30_000,
    });
    const hash = secretHash('payments')!;
    expect(hash).toMatch(/^[A-Za-z0-9._-]+:[0-9a-f]{64}$/); // <keyId>:<hmac>, never the value
    await eventually(
      async () => templateAnnotations(kube.statefulSet(namespace, 'db'))?.['secret.rotor.dev/payments'] === hash || undefined,
      {
        what: 'the StatefulSet annotated',
        timeoutMs: 15_000,
      },
    );
    expect(templateAnnotations(deployment('web'))).toEqual({ 'team.example/owner': 'shop', 'secret.rotor.dev/payments': hash });
    expect(deployment('web')!.metadata.generation).toBe(2);
    // Not referencing, in another namespace, or using a Secret whose target has no rollout: untouched.
    for (const untouched of [deployment('unrelated'), deployment('plain-user'), deployment('web', 'elsewhere')]) {
      expect(templateAnnotations(untouched)).toEqual({ 'team.example/owner': 'shop' });
      expect(untouched!.metadata.generation).toBe(1);
    }
    expect(appsPatches().sort()).toEqual([
      `/apis/apps/v1/namespaces/${namespace}/deployments/web`,
      `/apis/apps/v1/namespaces/${namespace}/statefulsets/db`,
    ]);

    // The audit trail: delivery.completed names the workloads rolled; the target without rollout names none.
    const [completed] = await eventually(
      async () => {
        const events = await completedFor(rolled, 1);
        return events.length ? events : undefined;
      },
      { what: 'delivery.completed of version 1' },
    );
    expect(completed!.data.rollout).toEqual([
      { kind: 'Deployment', name: 'web', patched: true },
      { kind: 'StatefulSet', name: 'db', patched: true },
    ]);
    const [plainCompleted] = await completedFor(plain, 1);
    expect(plainCompleted!.data).not.toHaveProperty('rollout');
    const secretValue = Buffer.from(kube.secret(namespace, 'payments')!.data!['api-key']!, 'base64').toString();
    const everything = (await readRotorTopicsSince(started)).map((m) => m.value).join('\n');
    expect(everything).not.toContain(secretValue);
  }, 60_000);

  it('rolls again on a new version; a failed patch retries the job without rolling twice; a replayed event changes nothing', async () => {
    const before = deployment('web')!;
    kube.clearRequests();
    // The StatefulSet's patch fails once: the Secret keeps version 2, the job retries, the Deployment is not patched again.
    kube.failNext('PATCH', new RegExp(`^/apis/apps/v1/namespaces/${namespace}/statefulsets/db$`), 500);
    await publisher.publish(
      createEvent({
        topic: Topics.rotationRequested,
        source: '/rotor/test',
        subject: rolled,
        data: { secret: rolled, reason: 'requested', requestedBy: { kind: 'operator', subject: 'sre@example.com', groups: ['rotor:sre'] } },
      }),
    );
    const [completed] = await eventually(
      async () => {
        const events = await completedFor(rolled, 2);
        return events.length ? events : undefined;
      },
      { what: 'delivery.completed of version 2', timeoutMs: 30_000 },
    );
    const hash = secretHash('payments')!;
    expect(secretVersion('payments')).toBe('2');
    expect(hash).not.toBe(templateAnnotations(before)?.['secret.rotor.dev/payments']);
    expect(templateAnnotations(deployment('web'))?.['secret.rotor.dev/payments']).toBe(hash);
    expect(templateAnnotations(kube.statefulSet(namespace, 'db'))?.['secret.rotor.dev/payments']).toBe(hash);
    expect(deployment('web')!.metadata.generation).toBe(before.metadata.generation + 1);
    // The retry found the Deployment already rolled for this content: one patch each that landed, plus the failed one.
    expect(completed!.data.rollout).toEqual([
      { kind: 'Deployment', name: 'web', patched: false },
      { kind: 'StatefulSet', name: 'db', patched: true },
    ]);
    expect(appsPatches().filter((path) => path.endsWith('/deployments/web'))).toHaveLength(1);
    expect(appsPatches().filter((path) => path.endsWith('/statefulsets/db'))).toHaveLength(2);
    const failed = (await readRotorTopicsSince(started))
      .filter((m) => m.topic === Topics.deliveryFailed)
      .map((m) => JSON.parse(m.value) as Envelope<typeof Topics.deliveryFailed>)
      .filter((event) => event.data.secret === rolled);
    expect(failed.map((event) => event.data.reason)).toEqual(['rollout: kubernetes API answered 500 InternalError']);
    expect(deployment('unrelated')!.metadata.generation).toBe(1);
    expect(deployment('plain-user')!.metadata.generation).toBe(1);

    // A replay of the version-created event: nothing is written, nothing rolls.
    const created = (await readRotorTopicsSince(started))
      .filter((m) => m.topic === Topics.secretVersionCreated)
      .map((m) => JSON.parse(m.value) as Envelope<typeof Topics.secretVersionCreated>)
      .find((event) => event.data.secret === rolled && event.data.version === 2)!;
    const settled = { web: deployment('web')!.metadata.resourceVersion, db: kube.statefulSet(namespace, 'db')!.metadata.resourceVersion };
    kube.clearRequests();
    await publisher.publish(created, { key: rolled });
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(appsPatches()).toEqual([]);
    expect({ web: deployment('web')!.metadata.resourceVersion, db: kube.statefulSet(namespace, 'db')!.metadata.resourceVersion }).toEqual(
      settled,
    );
  }, 60_000);
});
