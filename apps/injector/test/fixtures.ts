import type { IPod } from 'kubernetes-models/v1/Pod';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';

import type { AdmissionReview, AgentSettings } from '../src/injection';

export const SETTINGS: AgentSettings = {
  image: 'registry.example.com/rotor-agent@sha256:' + 'a'.repeat(64),
  issuerUrl: 'https://issuer.rotor.svc:8443',
  caConfigMap: 'rotor-ca',
  tokenAudience: 'rotor',
  tokenExpirationSeconds: 600,
  fsGroup: 10001,
};

/** A pod as the API server sends it for CREATE: defaults filled in, no name yet (generateName). */
export function appPod(annotations: Record<string, string>, spec: Partial<IPodSpec> = {}): IPod & { spec: IPodSpec } {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { generateName: 'orders-7d9c-', namespace: 'shop', labels: { app: 'orders' }, annotations },
    spec: {
      serviceAccountName: 'orders',
      containers: [
        {
          name: 'orders',
          image: 'registry.example.com/orders:1.4.2',
          ports: [{ containerPort: 8080, protocol: 'TCP' }],
          volumeMounts: [{ name: 'kube-api-access-x2x4', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true }],
          resources: {},
          terminationMessagePath: '/dev/termination-log',
          terminationMessagePolicy: 'File',
          imagePullPolicy: 'IfNotPresent',
        },
        { name: 'metrics-proxy', image: 'registry.example.com/proxy:2.0.0' },
      ],
      volumes: [
        {
          name: 'kube-api-access-x2x4',
          projected: { sources: [{ serviceAccountToken: { expirationSeconds: 3607, path: 'token' } }], defaultMode: 420 },
        },
      ],
      restartPolicy: 'Always',
      dnsPolicy: 'ClusterFirst',
      ...spec,
    },
  };
}

export function admissionReview(object: unknown, uid = '705ab4f5-6393-11e8-b7cc-42010a800002'): AdmissionReview {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      operation: 'CREATE',
      namespace: 'shop',
      object: object as Record<string, unknown>,
    },
  };
}

export const ORDERS_ANNOTATIONS = {
  'rotor.dev/inject': 'true',
  'rotor.dev/role-db': 'orders-db',
  'rotor.dev/template-db': 'postgres-url',
  'rotor.dev/secret-api-key': 'demo-api-key',
  'rotor.dev/template-api-key': 'API_KEY={{value}}',
};
