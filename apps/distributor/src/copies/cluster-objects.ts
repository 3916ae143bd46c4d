import { CoreV1Api, type KubeConfig, type V1ConfigMap, type V1Secret } from '@kubernetes/client-node';

import { ROTOR_LABELS, statusOf } from '../targets/kubernetes-secret.writer';

export type ObjectKind = 'kubernetes-secret' | 'kubernetes-configmap';

/** One Secret or ConfigMap as copy discovery sees it: its data, decoded to bytes. */
export interface ClusterObject {
  kind: ObjectKind;
  namespace: string;
  name: string;
  resourceVersion: string;
  managedByRotor: boolean;
  /** Every key of `data` and `binaryData`, decoded (Secret values from base64). */
  entries: { key: string; field: 'data' | 'binaryData'; value: Buffer }[];
}

/** The Kubernetes calls copy discovery needs, behind a small interface so the scan is testable without a cluster. */
export interface ClusterObjects {
  /** One page of Secrets or ConfigMaps in a namespace (500 per page). */
  list(kind: ObjectKind, namespace: string, continueToken?: string): Promise<{ items: ClusterObject[]; continueToken?: string }>;
  /** Removes keys, only if the object is still at `resourceVersion` (a JSON patch that tests it first). */
  removeKeys(object: ClusterObject, keys: ClusterObject['entries']): Promise<void>;
  /** Deletes the object, only if it is still at `resourceVersion`; gone already is fine. */
  delete(object: ClusterObject): Promise<void>;
}

export const CLUSTER_OBJECTS = Symbol('distributor.cluster-objects');
const PAGE_SIZE = 500;

/** JSON pointer escaping (RFC 6901): keys may contain `/` and `~`. */
const pointer = (...tokens: string[]) => tokens.map((token) => '/' + token.replace(/~/g, '~0').replace(/\//g, '~1')).join('');

export class KubernetesClusterObjects implements ClusterObjects {
  private readonly api: CoreV1Api;

  constructor(config: KubeConfig) {
    this.api = config.makeApiClient(CoreV1Api);
  }

  async list(kind: ObjectKind, namespace: string, continueToken?: string): Promise<{ items: ClusterObject[]; continueToken?: string }> {
    const request = { namespace, limit: PAGE_SIZE, ...(continueToken ? { _continue: continueToken } : {}) };
    const page =
      kind === 'kubernetes-secret' ? await this.api.listNamespacedSecret(request) : await this.api.listNamespacedConfigMap(request);
    const items = (page.items as (V1Secret | V1ConfigMap)[]).map((item) => toClusterObject(kind, namespace, item));
    return { items, ...(page.metadata?._continue ? { continueToken: page.metadata._continue } : {}) };
  }

  async removeKeys(object: ClusterObject, keys: ClusterObject['entries']): Promise<void> {
    const body = [
      { op: 'test', path: '/metadata/resourceVersion', value: object.resourceVersion },
      ...keys.map((entry) => ({ op: 'remove', path: pointer(entry.field, entry.key) })),
    ];
    // The client sends a JSON patch (application/json-patch+json) when the body is an array of operations.
    if (object.kind === 'kubernetes-secret') await this.api.patchNamespacedSecret({ name: object.name, namespace: object.namespace, body });
    else await this.api.patchNamespacedConfigMap({ name: object.name, namespace: object.namespace, body });
  }

  async delete(object: ClusterObject): Promise<void> {
    const request = {
      name: object.name,
      namespace: object.namespace,
      body: { preconditions: { resourceVersion: object.resourceVersion } },
    };
    try {
      if (object.kind === 'kubernetes-secret') await this.api.deleteNamespacedSecret(request);
      else await this.api.deleteNamespacedConfigMap(request);
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
  }
}

function toClusterObject(kind: ObjectKind, namespace: string, item: V1Secret | V1ConfigMap): ClusterObject {
  const entries: ClusterObject['entries'] = [];
  for (const [key, text] of Object.entries(item.data ?? {})) {
    entries.push({ key, field: 'data', value: kind === 'kubernetes-secret' ? Buffer.from(text, 'base64') : Buffer.from(text, 'utf8') });
  }
  for (const [key, text] of Object.entries((item as V1ConfigMap).binaryData ?? {}))
    entries.push({ key, field: 'binaryData', value: Buffer.from(text, 'base64') });
  return {
    kind,
    namespace,
    name: item.metadata?.name ?? '',
    resourceVersion: item.metadata?.resourceVersion ?? '',
    managedByRotor: item.metadata?.labels?.[ROTOR_LABELS.managedBy] === 'rotor',
    entries,
  };
}
