/**
 * The examples in k8s/examples, rendered by `kubectl kustomize` and validated with
 * kubernetes-models, then put through the injector's own admission code (`review`, as the
 * API server would call it for a pod of the example's Deployment) with the settings the
 * shipped injector Deployment (k8s/injector) gives it. A misspelt annotation either is
 * refused by the injector or asks for other credentials than the example documents: both fail.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { isBound, parseCatalog } from '@rotor/catalog';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import { Pod } from 'kubernetes-models/v1/Pod';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';

import { loadInjectorConfig } from '../../apps/injector/src/config';
import {
  AGENT_CONFIG_ENV,
  AGENT_CONTAINER,
  type AgentConfig,
  type JsonPatchOperation,
  readAnnotations,
  review,
  VOLUMES,
} from '../../apps/injector/src/injection';
import { applyPatch } from '../../apps/injector/test/json-patch';
import { type Manifest, manifestId, ofKind, renderKustomize, validationErrors } from '../support/kustomize';

const repoRoot = join(__dirname, '..', '..');
const NAMESPACE = 'rotor-examples';
const catalog = parseCatalog(readFileSync(join(repoRoot, 'k8s/examples/catalog.yaml'), 'utf8'), 'k8s/examples/catalog.yaml');

/** Each example, the credentials its annotations must ask for, and the files its application reads. */
const EXAMPLES = [
  {
    dir: 'k8s/examples/postgres-url',
    deployment: 'orders',
    credentials: [{ name: 'db', role: 'orders-db', template: 'postgres-url' }],
    reads: ['/var/run/rotor/db'],
  },
  {
    dir: 'k8s/examples/api-key-file',
    deployment: 'reporter',
    credentials: [{ name: 'api-key', secret: 'demo-api-key', template: 'raw' }],
    reads: ['/var/run/rotor/api-key'],
  },
];

/** The injector's agent settings as the shipped Deployment configures it (its env, through its own loader). */
function shippedAgentSettings() {
  const injector = ofKind<IDeployment>(renderKustomize('k8s/injector').manifests, 'Deployment').find(
    (deployment) => deployment.metadata.name === 'injector',
  );
  const env = Object.fromEntries(
    (injector?.spec?.template.spec?.containers[0]?.env ?? []).map((variable) => [variable.name, variable.value ?? '']),
  );
  return loadInjectorConfig(env).agent;
}

/** The pod a ReplicaSet of `deployment` asks the API server to create. */
function podOf(deployment: IDeployment & Manifest) {
  const template = deployment.spec?.template;
  if (!template?.spec) throw new Error(`${manifestId(deployment)} has no pod template`);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { ...template.metadata, generateName: `${deployment.metadata.name}-`, namespace: deployment.metadata.namespace },
    spec: template.spec,
  };
}

describe.each(EXAMPLES)('the example $dir', ({ dir, deployment: name, credentials, reads }) => {
  let settings: ReturnType<typeof shippedAgentSettings>;
  let manifests: Manifest[];
  let pod: ReturnType<typeof podOf> | undefined;

  beforeAll(() => {
    settings = shippedAgentSettings();
    ({ manifests } = renderKustomize(dir));
    const deployment = ofKind<IDeployment>(manifests, 'Deployment').find((candidate) => candidate.metadata.name === name);
    pod = deployment && podOf(deployment);
  });

  it('renders valid objects: its namespace (labelled for injection), a ServiceAccount and the Deployment', () => {
    expect(validationErrors(manifests)).toEqual([]);
    expect(manifests.map(manifestId).sort()).toEqual(
      [`Deployment ${NAMESPACE}/${name}`, `Namespace (cluster)/${NAMESPACE}`, `ServiceAccount ${NAMESPACE}/${name}`].sort(),
    );
    expect(manifests.find((manifest) => manifest.kind === 'Namespace')?.metadata.labels).toMatchObject({
      'rotor.dev/injection': 'enabled',
      'rotor.dev/workloads': 'true',
      'pod-security.kubernetes.io/enforce': 'restricted',
    });
    expect(pod?.spec.serviceAccountName).toBe(name);
  });

  it('asks for exactly the documented credentials, with annotations the injector accepts', () => {
    const annotations = pod?.metadata.annotations ?? {};
    // A prefix misspelt (rotr.dev/…, rotor.io/…) would be ignored by the injector: none is.
    expect(Object.keys(annotations).filter((key) => /rot/i.test(key) && !key.startsWith('rotor.dev/'))).toEqual([]);
    const reading = readAnnotations(annotations);
    expect(reading).toEqual({ kind: 'inject', request: { mode: 'sidecar', mountPath: '/var/run/rotor', credentials } });
  });

  it("names catalog entries bound to the pod's namespace and service account", () => {
    const workload = { namespace: NAMESPACE, serviceAccount: pod?.spec.serviceAccountName ?? '' };
    for (const credential of credentials) {
      const entry =
        'role' in credential
          ? catalog.roles.find((role) => role.name === credential.role)
          : catalog.managedSecrets.find((secret) => secret.name === credential.secret);
      expect({ credential: credential.name, bound: entry !== undefined && isBound(entry, workload) }).toEqual({
        credential: credential.name,
        bound: true,
      });
    }
  });

  it('is patched by the injector into a valid pod: the agent sidecar, a rotor token and the credentials mounted in the application', () => {
    const { answer, outcome } = review(
      {
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: {
          uid: '6f0e3c5e-0000-4000-8000-000000000001',
          kind: { group: '', version: 'v1', kind: 'Pod' },
          operation: 'CREATE',
          namespace: NAMESPACE,
          object: pod,
        },
      },
      settings,
    );
    expect({ outcome, status: answer.response.status }).toEqual({ outcome: 'injected', status: undefined });
    const operations = JSON.parse(Buffer.from(answer.response.patch ?? '', 'base64').toString('utf8')) as JsonPatchOperation[];
    const patched = applyPatch(pod, operations) as { spec: IPodSpec };
    expect(() => new Pod(patched as never).validate()).not.toThrow();

    const spec = patched.spec;
    const agent = spec.initContainers?.[0];
    expect(agent).toMatchObject({ name: AGENT_CONTAINER, image: settings.image, args: ['sidecar'], restartPolicy: 'Always' });
    const config = JSON.parse(agent?.env?.find((variable) => variable.name === AGENT_CONFIG_ENV)?.value ?? '{}') as AgentConfig;
    expect(config.credentials.map((credential) => credential.file)).toEqual(reads);

    const volume = (volumeName: string) => spec.volumes?.find((candidate) => candidate.name === volumeName);
    expect(volume(VOLUMES.token)?.projected?.sources).toEqual([
      { serviceAccountToken: { audience: 'rotor', expirationSeconds: settings.tokenExpirationSeconds, path: 'token' } },
    ]);
    expect(volume(VOLUMES.credentials)?.emptyDir).toEqual({ medium: 'Memory', sizeLimit: '1Mi' });

    // The namespace enforces the Pod Security level restricted: every container, the agent's too, meets it.
    for (const container of [...(spec.initContainers ?? []), ...spec.containers]) {
      const context = container.securityContext;
      expect({
        container: container.name,
        runAsNonRoot: context?.runAsNonRoot ?? spec.securityContext?.runAsNonRoot,
        runAsRoot: (context?.runAsUser ?? spec.securityContext?.runAsUser) === 0,
        allowPrivilegeEscalation: context?.allowPrivilegeEscalation,
        dropsAll: context?.capabilities?.drop?.includes('ALL'),
        added: context?.capabilities?.add ?? [],
        seccomp: (context?.seccompProfile ?? spec.securityContext?.seccompProfile)?.type,
      }).toEqual({
        container: container.name,
        runAsNonRoot: true,
        runAsRoot: false,
        allowPrivilegeEscalation: false,
        dropsAll: true,
        added: [],
        seccomp: 'RuntimeDefault',
      });
    }

    for (const container of spec.containers) {
      expect({ container: container.name, mounts: container.volumeMounts }).toEqual({
        container: container.name,
        mounts: expect.arrayContaining([{ name: VOLUMES.credentials, mountPath: '/var/run/rotor', readOnly: true }]),
      });
      // The application reads the very files the agent writes (a whole path, not a prefix of another).
      const script = [...(container.command ?? []), ...(container.args ?? [])].join(' ');
      const unread = reads.filter((file) => !new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w.-])`).test(script));
      expect({ container: container.name, unread }).toEqual({ container: container.name, unread: [] });
    }
  });
});
