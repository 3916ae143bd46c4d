import type { CoreV1Api, KubeConfig } from '@kubernetes/client-node';

import { kubeClient } from './kube-config';

/** The pods of a namespace as the API server lists them now: uid by pod name. */
export interface PodLister {
  /** Every pod of the namespace (all pages); rejects when the API server does not answer the whole list. */
  podsIn(namespace: string): Promise<Map<string, string>>;
}

const PAGE_SIZE = 500;

/**
 * Lists pods through the API server (one LIST per namespace, paged), for the revoker's pod
 * sweep. A pod being deleted gracefully is still listed (it still runs); a pod removed by a
 * forced deletion or by the garbage collector after its node was lost is not.
 */
export class KubePodLister implements PodLister {
  private readonly api: CoreV1Api;

  constructor(config: KubeConfig) {
    this.api = config.makeApiClient(kubeClient().CoreV1Api);
  }

  async podsIn(namespace: string): Promise<Map<string, string>> {
    const pods = new Map<string, string>();
    let continueToken: string | undefined;
    do {
      const page = await this.api.listNamespacedPod({
        namespace,
        limit: PAGE_SIZE,
        ...(continueToken ? { _continue: continueToken } : {}),
      });
      for (const pod of page.items) if (pod.metadata?.name && pod.metadata.uid) pods.set(pod.metadata.name, pod.metadata.uid);
      continueToken = page.metadata?._continue || undefined;
    } while (continueToken);
    return pods;
  }
}
