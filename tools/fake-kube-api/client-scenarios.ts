/**
 * Drives the real @kubernetes/client-node (ESM, so it cannot load inside Jest) against a
 * kube-apiserver, and prints what happened as one JSON line; test/integration/fake-kube-api.int-spec.ts
 * runs it against the fake and checks the output.
 *
 *   KUBECONFIG=… node -r @swc-node/register tools/fake-kube-api/client-scenarios.ts <crud|paginate|workloads|scan> [namespace]
 */
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Deployment,
  type V1Secret,
  type V1StatefulSet,
} from '@kubernetes/client-node';

type Step = { step: string; ok: boolean; code?: number; reason?: string; resourceVersion?: string; [field: string]: unknown };

const config = new KubeConfig();
config.loadFromDefault();
const api = config.makeApiClient(CoreV1Api);
const encode = (text: string) => Buffer.from(text).toString('base64');

/** Runs one call; a Kubernetes Status failure becomes `{ ok: false, code, reason }`. */
async function step<T>(name: string, call: () => Promise<T>, describe: (result: T) => Record<string, unknown> = () => ({})): Promise<Step> {
  try {
    return { step: name, ok: true, ...describe(await call()) };
  } catch (error) {
    if (!(error instanceof ApiException)) return { step: name, ok: false, error: String(error) };
    const body = (typeof error.body === 'string' ? JSON.parse(error.body) : error.body) as { reason?: string; kind?: string };
    return { step: name, ok: false, code: error.code, reason: body?.reason, kind: body?.kind };
  }
}

const secretFacts = (secret: V1Secret) => ({
  resourceVersion: secret.metadata?.resourceVersion,
  uid: secret.metadata?.uid,
  generation: secret.metadata?.generation,
  creationTimestamp:
    secret.metadata?.creationTimestamp instanceof Date
      ? secret.metadata.creationTimestamp.toISOString()
      : secret.metadata?.creationTimestamp,
  kind: secret.kind,
  apiVersion: secret.apiVersion,
  type: secret.type,
  data: secret.data,
  labels: secret.metadata?.labels,
});

async function crud(namespace: string): Promise<Step[]> {
  const name = 'app-credentials';
  const steps: Step[] = [];
  const run = async (s: Promise<Step>) => {
    const result = await s;
    steps.push(result);
    return result;
  };
  const labels = { 'app.kubernetes.io/managed-by': 'rotor', 'rotor.dev/secret': 'payments-api-key' };

  const created = await run(
    step(
      'create',
      () => api.createNamespacedSecret({ namespace, body: { metadata: { name, labels }, stringData: { 'api-key': 'v1-value' } } }),
      secretFacts,
    ),
  );
  await run(step('create-again', () => api.createNamespacedSecret({ namespace, body: { metadata: { name }, data: {} } })));
  await run(step('get', () => api.readNamespacedSecret({ name, namespace }), secretFacts));
  // Someone else writes first: our resourceVersion is now stale.
  await run(
    step(
      'replace-other-writer',
      () => api.replaceNamespacedSecret({ name, namespace, body: { metadata: { name, labels }, data: { 'api-key': encode('other') } } }),
      secretFacts,
    ),
  );
  await run(
    step(
      'replace-stale',
      () =>
        api.replaceNamespacedSecret({
          name,
          namespace,
          body: { metadata: { name, labels, resourceVersion: created.resourceVersion }, data: { 'api-key': encode('v2-value') } },
        }),
      secretFacts,
    ),
  );
  const fresh = await api.readNamespacedSecret({ name, namespace });
  const replaced = await run(
    step(
      'replace-fresh',
      () =>
        api.replaceNamespacedSecret({
          name,
          namespace,
          body: { metadata: { name, labels, resourceVersion: fresh.metadata?.resourceVersion }, data: { 'api-key': encode('v2-value') } },
        }),
      secretFacts,
    ),
  );
  await run(
    step('replace-missing', () => api.replaceNamespacedSecret({ name: 'nobody', namespace, body: { metadata: { name: 'nobody' } } })),
  );
  await api.createNamespacedSecret({
    namespace,
    body: { metadata: { name: 'unrelated', labels: { 'app.kubernetes.io/managed-by': 'helm' } } },
  });
  await run(
    step(
      'list-by-label',
      () =>
        api.listNamespacedSecret({ namespace, labelSelector: 'app.kubernetes.io/managed-by=rotor,rotor.dev/secret in (payments-api-key)' }),
      (list) => ({
        kind: list.kind,
        names: list.items.map((item) => item.metadata?.name),
        resourceVersion: list.metadata?.resourceVersion,
      }),
    ),
  );
  await run(
    step(
      'list-all-namespaces',
      () => api.listSecretForAllNamespaces({ labelSelector: '!rotor.dev/secret' }),
      (list) => ({ names: list.items.map((item) => `${item.metadata?.namespace}/${item.metadata?.name}`) }),
    ),
  );
  await run(step('list-bad-selector', () => api.listNamespacedSecret({ namespace, labelSelector: 'a in (b' })));
  const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  const patched = await run(
    step(
      'merge-patch',
      () =>
        api.patchNamespacedSecret(
          { name, namespace, body: { metadata: { annotations: { 'rotor.dev/version': '2' } }, data: { extra: encode('x') } } },
          merge,
        ),
      (secret) => ({ ...secretFacts(secret), annotations: secret.metadata?.annotations }),
    ),
  );
  await run(
    step('strategic-patch-stale', () =>
      api.patchNamespacedSecret(
        { name, namespace, body: { metadata: { resourceVersion: replaced.resourceVersion }, data: { extra: null } } },
        setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
      ),
    ),
  );
  await run(
    step(
      'json-patch',
      // The client's default patch type when no Content-Type is chosen.
      () => api.patchNamespacedSecret({ name, namespace, body: [{ op: 'remove', path: '/data/extra' }] }),
      secretFacts,
    ),
  );
  await run(
    step('delete-stale', () =>
      api.deleteNamespacedSecret({ name, namespace, body: { preconditions: { resourceVersion: patched.resourceVersion } } }),
    ),
  );
  const current = await api.readNamespacedSecret({ name, namespace });
  await run(
    step(
      'delete',
      () =>
        api.deleteNamespacedSecret({ name, namespace, body: { preconditions: { resourceVersion: current.metadata?.resourceVersion } } }),
      (status) => ({ kind: status.kind, status: status.status }),
    ),
  );
  await run(step('get-deleted', () => api.readNamespacedSecret({ name, namespace })));
  await run(step('delete-missing', () => api.deleteNamespacedSecret({ name, namespace })));

  await run(
    step(
      'configmap-create',
      () => api.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'settings', labels }, data: { mode: 'strict' } } }),
      (map) => ({
        kind: map.kind,
        data: map.data,
        resourceVersion: map.metadata?.resourceVersion,
      }),
    ),
  );
  await run(
    step(
      'configmap-merge-patch',
      () => api.patchNamespacedConfigMap({ name: 'settings', namespace, body: { data: { mode: 'lenient' } } }, merge),
      (map) => ({ data: map.data, resourceVersion: map.metadata?.resourceVersion }),
    ),
  );
  await run(
    step(
      'configmap-list',
      () => api.listConfigMapForAllNamespaces({ labelSelector: 'rotor.dev/secret=payments-api-key' }),
      (list) => ({
        kind: list.kind,
        names: list.items.map((item) => item.metadata?.name),
      }),
    ),
  );
  await run(
    step(
      'configmap-delete',
      () => api.deleteNamespacedConfigMap({ name: 'settings', namespace }),
      (status) => ({ status: status.status }),
    ),
  );
  return steps;
}

/** Follows `continue` through every page of a namespace (or of all namespaces), as a cluster scan does. */
async function paginate(namespace: string | undefined, labelSelector?: string, limit = 500) {
  const started = performance.now();
  const pages: { items: number; remainingItemCount?: number }[] = [];
  const names: string[] = [];
  let token: string | undefined;
  do {
    const list = namespace
      ? await api.listNamespacedSecret({ namespace, limit, _continue: token, labelSelector })
      : await api.listSecretForAllNamespaces({ limit, _continue: token, labelSelector });
    pages.push({ items: list.items.length, remainingItemCount: list.metadata?.remainingItemCount });
    names.push(...list.items.map((item) => `${item.metadata?.namespace}/${item.metadata?.name}`));
    token = list.metadata?._continue || undefined;
  } while (token);
  return {
    pages,
    total: names.length,
    unique: new Set(names).size,
    sorted: names.every((n, i) => i === 0 || names[i - 1]! < n),
    ms: Math.round(performance.now() - started),
  };
}

/** Deployments and StatefulSets (apps/v1) as a rollout uses them: create, list in pages, patch the pod template, read back. */
async function workloads(namespace: string): Promise<Step[]> {
  const apps = config.makeApiClient(AppsV1Api);
  const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  const template = (app: string) => ({
    metadata: { labels: { app } },
    spec: { containers: [{ name: 'app', image: 'app:1', envFrom: [{ secretRef: { name: 'payments' } }] }] },
  });
  const body = (name: string): V1Deployment => ({
    metadata: { name },
    spec: { selector: { matchLabels: { app: name } }, template: template(name) },
  });
  const facts = (workload: V1Deployment) => ({
    kind: workload.kind,
    apiVersion: workload.apiVersion,
    generation: workload.metadata?.generation,
    resourceVersion: workload.metadata?.resourceVersion,
    annotations: workload.spec?.template?.metadata?.annotations,
    containers: workload.spec?.template?.spec?.containers?.map((container) => container.name),
    envFrom: workload.spec?.template?.spec?.containers?.[0]?.envFrom?.[0]?.secretRef?.name,
  });
  const annotate = (value: string) => ({ spec: { template: { metadata: { annotations: { 'secret.rotor.dev/payments': value } } } } });
  const steps: Step[] = [];
  steps.push(await step('create-deployment', () => apps.createNamespacedDeployment({ namespace, body: body('web') }), facts));
  await apps.createNamespacedDeployment({ namespace, body: body('api') });
  await apps.createNamespacedDeployment({ namespace, body: body('worker') });
  steps.push(
    await step(
      'create-statefulset',
      () =>
        apps.createNamespacedStatefulSet({
          namespace,
          body: { ...body('db'), spec: { ...body('db').spec!, serviceName: 'db' } } as V1StatefulSet,
        }),
      facts,
    ),
  );
  steps.push(
    await step('create-invalid', () =>
      apps.createNamespacedDeployment({
        namespace,
        body: { metadata: { name: 'bad' }, spec: { selector: { matchLabels: { app: 'x' } }, template: template('y') } },
      }),
    ),
  );
  const names: string[] = [];
  let pages = 0;
  let token: string | undefined;
  do {
    const page = await apps.listNamespacedDeployment({ namespace, limit: 2, ...(token ? { _continue: token } : {}) });
    pages++;
    names.push(...page.items.map((item) => item.metadata!.name!));
    token = page.metadata?._continue || undefined;
  } while (token);
  steps.push({ step: 'list-deployments', ok: true, names, pages });
  const statefulSets = await apps.listNamespacedStatefulSet({ namespace });
  steps.push({
    step: 'list-statefulsets',
    ok: true,
    kind: statefulSets.kind,
    apiVersion: statefulSets.apiVersion,
    names: statefulSets.items.map((i) => i.metadata!.name),
  });
  steps.push(
    await step('merge-patch', () => apps.patchNamespacedDeployment({ name: 'web', namespace, body: annotate('k1:one') }, merge), facts),
  );
  steps.push(
    await step(
      'merge-patch-again',
      () => apps.patchNamespacedDeployment({ name: 'web', namespace, body: annotate('k1:one') }, merge),
      facts,
    ),
  );
  steps.push(
    await step(
      'strategic-patch-statefulset',
      () =>
        apps.patchNamespacedStatefulSet(
          { name: 'db', namespace, body: annotate('k1:two') },
          setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
        ),
      facts,
    ),
  );
  steps.push(await step('read-deployment', () => apps.readNamespacedDeployment({ name: 'web', namespace }), facts));
  steps.push(await step('patch-missing', () => apps.patchNamespacedDeployment({ name: 'absent', namespace, body: annotate('x') }, merge)));
  return steps;
}

async function main(): Promise<void> {
  const [scenario, namespace = 'default', selector] = process.argv.slice(2);
  let result: unknown;
  switch (scenario) {
    case 'crud':
      result = await crud(namespace);
      break;
    case 'paginate':
      result = await paginate(namespace, selector);
      break;
    case 'workloads':
      result = await workloads(namespace);
      break;
    case 'scan': {
      // Median of five full scans of every namespace, for the benchmark figure.
      const runs = [];
      for (let run = 0; run < 5; run++) runs.push(await paginate(undefined, selector));
      const times = runs.map((run) => run.ms).sort((a, b) => a - b);
      result = { ...runs[0], ms: undefined, medianMs: times[2], runsMs: runs.map((run) => run.ms) };
      break;
    }
    default:
      throw new Error(`unknown scenario ${scenario}; use crud, paginate, workloads or scan`);
  }
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
