import { Pod } from 'kubernetes-models/v1/Pod';

import { admissionReview, appPod, ORDERS_ANNOTATIONS, SETTINGS } from '../../test/fixtures';
import { applyPatch } from '../../test/json-patch';
import { review } from './admission';
import {
  AGENT_CONTAINER,
  type agentContainer,
  type AgentConfig,
  type ContainerLike,
  type JsonPatchOperation,
  type PodLike,
} from './pod-mutation';

const decode = (patch: string | undefined): JsonPatchOperation[] => JSON.parse(Buffer.from(patch ?? '', 'base64').toString('utf8'));

/** The pod as the API server stores it after applying the webhook's answer. */
function admitted<P extends PodLike>(pod: P): P {
  const { answer } = review(admissionReview(pod), SETTINGS);
  expect(answer.response.allowed).toBe(true);
  return answer.response.patch === undefined ? pod : applyPatch(pod, decode(answer.response.patch));
}

const agentOf = (pod: PodLike) =>
  pod.spec?.initContainers?.find((container) => container.name === AGENT_CONTAINER) as ReturnType<typeof agentContainer> & {
    restartPolicy?: string;
    startupProbe?: unknown;
  };
const configOf = (pod: PodLike): AgentConfig =>
  JSON.parse(agentOf(pod).env.find((variable) => variable.name === 'ROTOR_AGENT_CONFIG')!.value);

describe('review (AdmissionReview v1 in, AdmissionReview v1 out)', () => {
  it('allows a pod without rotor.dev/inject untouched: no patch at all', () => {
    const { answer, outcome } = review(admissionReview(appPod({ 'example.com/team': 'shop' })), SETTINGS);
    expect(outcome).toBe('not-requested');
    expect(answer).toEqual({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: '705ab4f5-6393-11e8-b7cc-42010a800002', allowed: true },
    });
  });

  it('adds the agent as a native sidecar, first among the init containers, with its config in ROTOR_AGENT_CONFIG', () => {
    const pod = admitted(appPod(ORDERS_ANNOTATIONS, { initContainers: [{ name: 'migrate', image: 'registry.example.com/migrate:1' }] }));
    expect(pod.spec.initContainers?.map((container) => container.name)).toEqual([AGENT_CONTAINER, 'migrate']);
    const agent = agentOf(pod);
    expect(agent).toMatchObject({
      image: SETTINGS.image,
      args: ['sidecar'],
      restartPolicy: 'Always',
      startupProbe: { exec: { command: ['/bin/sh', '-c', 'test -f /var/run/rotor/db && test -f /var/run/rotor/api-key'] } },
      securityContext: {
        runAsNonRoot: true,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
      },
      volumeMounts: [
        { name: 'rotor-credentials', mountPath: '/var/run/rotor' },
        { name: 'rotor-token', mountPath: '/var/run/secrets/rotor.dev/serviceaccount', readOnly: true },
        { name: 'rotor-ca', mountPath: '/etc/rotor-agent/ca', readOnly: true },
      ],
    });
    // The agent image's entrypoint (tini, then the agent) runs, with the mode as its argument.
    expect(agent).not.toHaveProperty('command');
    expect(configOf(pod)).toEqual({
      issuer: { url: 'https://issuer.rotor.svc:8443', caFile: '/etc/rotor-agent/ca/ca.crt' },
      tokenFile: '/var/run/secrets/rotor.dev/serviceaccount/token',
      credentials: [
        { name: 'db', role: 'orders-db', file: '/var/run/rotor/db', template: 'postgres-url' },
        { name: 'api-key', secret: 'demo-api-key', file: '/var/run/rotor/api-key', templateText: 'API_KEY={{value}}' },
      ],
      sidecar: { listen: { host: '0.0.0.0' } },
    });
  });

  it('adds a projected token for audience rotor (600 s), an in-memory emptyDir read-only in every app container, and fsGroup', () => {
    const pod = admitted(appPod(ORDERS_ANNOTATIONS));
    expect(pod.spec.volumes).toEqual([
      expect.objectContaining({ name: 'kube-api-access-x2x4' }),
      { name: 'rotor-credentials', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } },
      {
        name: 'rotor-token',
        projected: { sources: [{ serviceAccountToken: { audience: 'rotor', expirationSeconds: 600, path: 'token' } }] },
      },
      { name: 'rotor-ca', configMap: { name: 'rotor-ca', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
    ]);
    for (const container of pod.spec.containers as ContainerLike[]) {
      expect(container.volumeMounts).toContainEqual({ name: 'rotor-credentials', mountPath: '/var/run/rotor', readOnly: true });
      expect(container.volumeMounts?.some((mount) => mount.name === 'rotor-token')).toBe(false);
    }
    expect(pod.spec.securityContext).toEqual({ fsGroup: 10001 });
    expect(() => new Pod(pod as never).validate()).not.toThrow();
  });

  it('keeps a pod fsGroup of its own, and adds fsGroup beside other security settings', () => {
    expect(admitted(appPod(ORDERS_ANNOTATIONS, { securityContext: { fsGroup: 2000 } })).spec.securityContext).toEqual({ fsGroup: 2000 });
    expect(admitted(appPod(ORDERS_ANNOTATIONS, { securityContext: { runAsNonRoot: true } })).spec.securityContext).toEqual({
      runAsNonRoot: true,
      fsGroup: 10001,
    });
  });

  it('adds a plain init container (no restartPolicy, no startup probe) in init mode, at the annotated mount path', () => {
    const pod = admitted(appPod({ ...ORDERS_ANNOTATIONS, 'rotor.dev/agent-mode': 'init', 'rotor.dev/mount-path': '/etc/orders/creds' }));
    const agent = agentOf(pod);
    expect(agent.args).toEqual(['init']);
    expect(agent.restartPolicy).toBeUndefined();
    expect(agent.startupProbe).toBeUndefined();
    expect(configOf(pod).credentials.map((credential) => credential.file)).toEqual(['/etc/orders/creds/db', '/etc/orders/creds/api-key']);
    expect(pod.spec.containers[0]?.volumeMounts).toContainEqual({
      name: 'rotor-credentials',
      mountPath: '/etc/orders/creds',
      readOnly: true,
    });
  });

  it('omits the CA volume and caFile when the issuer is trusted through the image store', () => {
    const { caConfigMap: _none, ...settings } = SETTINGS;
    const { answer } = review(admissionReview(appPod(ORDERS_ANNOTATIONS)), settings);
    const pod = applyPatch(appPod(ORDERS_ANNOTATIONS), decode(answer.response.patch));
    expect(pod.spec.volumes!.map((volume) => volume.name)).not.toContain('rotor-ca');
    expect(configOf(pod).issuer.caFile).toBeUndefined();
  });

  it('is idempotent: the patched pod, reviewed again, gets no patch and no second agent', () => {
    const once = admitted(appPod(ORDERS_ANNOTATIONS));
    const { answer, outcome } = review(admissionReview(once), SETTINGS);
    expect(outcome).toBe('unchanged');
    expect(answer.response).toEqual({ uid: expect.any(String), allowed: true });
  });

  it('on reinvocation, mounts the credentials into a container another webhook added since, and changes nothing else', () => {
    const once = admitted(appPod(ORDERS_ANNOTATIONS));
    once.spec.containers.push({ name: 'mesh-proxy', image: 'registry.example.com/mesh:1' });
    const { answer } = review(admissionReview(once), SETTINGS);
    expect(decode(answer.response.patch)).toEqual([
      {
        op: 'add',
        path: '/spec/containers/2/volumeMounts',
        value: [{ name: 'rotor-credentials', mountPath: '/var/run/rotor', readOnly: true }],
      },
    ]);
  });

  it('refuses invalid annotations with a 400 status naming the annotation', () => {
    const { answer, outcome } = review(admissionReview(appPod({ ...ORDERS_ANNOTATIONS, 'rotor.dev/template-db': 'toml' })), SETTINGS);
    expect(outcome).toBe('refused');
    expect(answer.response).toEqual({
      uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
      allowed: false,
      status: { code: 400, message: expect.stringMatching(/^rotor injector: annotation rotor\.dev\/template-db: unknown template/) },
    });
  });

  it('refuses a pod whose own volumes or mounts clash with the agent, rather than patch it into an invalid pod', () => {
    const clashing = appPod(ORDERS_ANNOTATIONS, { volumes: [{ name: 'rotor-token', emptyDir: {} }] });
    expect(review(admissionReview(clashing), SETTINGS).answer.response).toMatchObject({
      allowed: false,
      status: { message: 'rotor injector: the pod already has a volume named rotor-token' },
    });
    const mounted = appPod(ORDERS_ANNOTATIONS, {
      containers: [{ name: 'orders', image: 'orders:1', volumeMounts: [{ name: 'data', mountPath: '/var/run/rotor' }] }],
    });
    expect(review(admissionReview(mounted), SETTINGS).answer.response.status?.message).toBe(
      'rotor injector: container orders already mounts something at /var/run/rotor',
    );
  });

  it('allows objects that are not pods untouched', () => {
    const reviewed = admissionReview({ metadata: { annotations: ORDERS_ANNOTATIONS } });
    reviewed.request.kind = { group: 'apps', version: 'v1', kind: 'Deployment' };
    expect(review(reviewed, SETTINGS).answer.response).toEqual({ uid: reviewed.request.uid, allowed: true });
  });
});
