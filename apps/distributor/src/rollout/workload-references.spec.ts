import type { V1PodSpec } from '@kubernetes/client-node';

import { planRollout, rolloutAnnotation, rolloutPatch, secretReferences, type Workload } from './workload-references';

const app = (extra: Partial<V1PodSpec['containers'][number]> = {}) => ({ name: 'app', image: 'app:1', ...extra });
const deployment = (name: string, spec: Partial<V1PodSpec>, options: { namespace?: string; annotations?: Record<string, string> } = {}) =>
  ({
    kind: 'Deployment',
    metadata: { name, namespace: options.namespace ?? 'shop' },
    spec: { template: { metadata: { annotations: options.annotations ?? {} }, spec: { containers: [app()], ...spec } } },
  }) satisfies Workload;

describe('which pod specs use a Secret', () => {
  it('finds a secret volume', () => {
    expect(secretReferences({ containers: [app()], volumes: [{ name: 'creds', secret: { secretName: 'payments' } }] }, 'payments')).toEqual(
      ['volume'],
    );
  });

  it('finds a projected volume source', () => {
    const pod: V1PodSpec = {
      containers: [app()],
      volumes: [
        {
          name: 'bundle',
          projected: {
            sources: [{ configMap: { name: 'settings' } }, { secret: { name: 'payments', items: [{ key: 'api-key', path: 'k' }] } }],
          },
        },
      ],
    };
    expect(secretReferences(pod, 'payments')).toEqual(['projected-volume']);
  });

  it('finds env valueFrom.secretKeyRef and envFrom.secretRef, in containers and init containers', () => {
    const env = { env: [{ name: 'API_KEY', valueFrom: { secretKeyRef: { name: 'payments', key: 'api-key' } } }] };
    const envFrom = { envFrom: [{ secretRef: { name: 'payments' } }] };
    expect(secretReferences({ containers: [app(env)] }, 'payments')).toEqual(['env']);
    expect(secretReferences({ containers: [app(envFrom)] }, 'payments')).toEqual(['env-from']);
    expect(secretReferences({ containers: [app()], initContainers: [app(env)] }, 'payments')).toEqual(['env']);
    expect(secretReferences({ containers: [app()], initContainers: [app(envFrom)] }, 'payments')).toEqual(['env-from']);
    expect(
      secretReferences({ containers: [app(env), app(envFrom)], volumes: [{ name: 'v', secret: { secretName: 'payments' } }] }, 'payments'),
    ).toEqual(['volume', 'env', 'env-from']);
  });

  it('ignores other Secrets, ConfigMaps, image pull secrets and CSI node-publish secrets', () => {
    const pod: V1PodSpec = {
      containers: [
        app({
          env: [
            { name: 'OTHER', valueFrom: { secretKeyRef: { name: 'payments-old', key: 'api-key' } } },
            { name: 'MODE', valueFrom: { configMapKeyRef: { name: 'payments', key: 'mode' } } },
            { name: 'PLAIN', value: 'payments' },
          ],
          envFrom: [{ configMapRef: { name: 'payments' } }, { secretRef: { name: 'other' } }],
        }),
      ],
      imagePullSecrets: [{ name: 'payments' }],
      volumes: [
        { name: 'a', secret: { secretName: 'other' } },
        { name: 'b', configMap: { name: 'payments' } },
        { name: 'c', projected: { sources: [{ secret: { name: 'other' } }, { configMap: { name: 'payments' } }] } },
        { name: 'd', csi: { driver: 'x', nodePublishSecretRef: { name: 'payments' } } },
      ],
    };
    expect(secretReferences(pod, 'payments')).toEqual([]);
    expect(secretReferences(undefined, 'payments')).toEqual([]);
  });
});

describe('planning a rollout', () => {
  const hash = 'k1:' + 'a'.repeat(64);
  const uses = { volumes: [{ name: 'creds', secret: { secretName: 'payments' } }] };

  it('plans a patch for each workload of the namespace that uses the Secret, and none for the others', () => {
    const workloads: Workload[] = [
      deployment('web', uses),
      { ...deployment('db', uses), kind: 'StatefulSet' },
      deployment('elsewhere', uses, { namespace: 'other' }),
      deployment('unrelated', { volumes: [{ name: 'x', secret: { secretName: 'other' } }] }),
    ];
    expect(planRollout(workloads, { namespace: 'shop', secretName: 'payments', hash })).toEqual([
      { kind: 'Deployment', name: 'web', references: ['volume'], patch: true },
      { kind: 'StatefulSet', name: 'db', references: ['volume'], patch: true },
    ]);
  });

  it('plans no patch where the template already carries this hash, and a patch where it carries another', () => {
    const workloads = [
      deployment('current', uses, { annotations: { [rolloutAnnotation('payments')]: hash } }),
      deployment('stale', uses, { annotations: { [rolloutAnnotation('payments')]: 'k1:' + 'b'.repeat(64) } }),
      deployment('other-secret-annotated', uses, { annotations: { [rolloutAnnotation('other')]: hash } }),
    ];
    expect(planRollout(workloads, { namespace: 'shop', secretName: 'payments', hash }).map((p) => [p.name, p.patch])).toEqual([
      ['current', false],
      ['stale', true],
      ['other-secret-annotated', true],
    ]);
  });

  it('patches only the pod template annotation of this Secret, with the keyed hash', () => {
    expect(rolloutAnnotation('payments')).toBe('secret.rotor.dev/payments');
    expect(rolloutPatch('payments', hash)).toEqual({
      spec: { template: { metadata: { annotations: { 'secret.rotor.dev/payments': hash } } } },
    });
  });

  it('makes a valid annotation key for the longest Secret name the catalog allows', () => {
    const longest = 'a'.repeat(63);
    const [prefix, name] = rolloutAnnotation(longest).split('/');
    // Kubernetes: an optional DNS-subdomain prefix (<= 253) and a name of <= 63 [-._a-zA-Z0-9], alphanumeric at both ends.
    expect(prefix).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/);
    expect(name).toMatch(/^[A-Za-z0-9]([-._A-Za-z0-9]{0,61}[A-Za-z0-9])?$/);
  });
});
