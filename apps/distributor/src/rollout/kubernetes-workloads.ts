import { AppsV1Api, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';

import type { RolloutKind } from '@rotor/catalog';

import type { Workload } from './workload-references';
import type { WorkloadApi } from './workload-rollout';

const PAGE_SIZE = 500;
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** Deployments and StatefulSets through the real client (apps/v1). */
export class KubernetesWorkloads implements WorkloadApi {
  private readonly api: AppsV1Api;

  constructor(config: KubeConfig) {
    this.api = config.makeApiClient(AppsV1Api);
  }

  async list(kind: RolloutKind, namespace: string, continueToken?: string): Promise<{ items: Workload[]; continueToken?: string }> {
    const request = { namespace, limit: PAGE_SIZE, ...(continueToken ? { _continue: continueToken } : {}) };
    const page =
      kind === 'Deployment' ? await this.api.listNamespacedDeployment(request) : await this.api.listNamespacedStatefulSet(request);
    // List items carry no kind of their own: it is the one that was listed.
    const items = page.items.map((item): Workload => ({ kind, metadata: item.metadata, spec: item.spec }));
    return { items, ...(page.metadata?._continue ? { continueToken: page.metadata._continue } : {}) };
  }

  async patch(kind: RolloutKind, namespace: string, name: string, body: object): Promise<void> {
    if (kind === 'Deployment') await this.api.patchNamespacedDeployment({ name, namespace, body }, mergePatch);
    else await this.api.patchNamespacedStatefulSet({ name, namespace, body }, mergePatch);
  }
}
