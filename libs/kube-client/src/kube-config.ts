import { existsSync } from 'node:fs';

import type * as ClientNode from '@kubernetes/client-node';
import type { KubeConfig } from '@kubernetes/client-node';

const IN_CLUSTER_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** Whether there is an API server to reach: a kubeconfig file, or a pod with a mounted service-account token. */
export function kubeApiConfigured(kubeconfigPath?: string, env: NodeJS.ProcessEnv = process.env): boolean {
  return !!kubeconfigPath || (!!env['KUBERNETES_SERVICE_HOST'] && existsSync(IN_CLUSTER_TOKEN));
}

/**
 * The Kubernetes client, loaded at first use: about 70 MiB of resident memory and a third of a
 * second of start-up that the issuer (without TokenReview) and the revoker (without the pod
 * sweep) never need, as measured for issue 20.
 */
export function kubeClient(): typeof ClientNode {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when used (see above)
  return require('@kubernetes/client-node') as typeof ClientNode;
}

/** A kubeconfig file when given (or KUBECONFIG), else the pod's in-cluster service account. */
export function loadKubeConfig(kubeconfigPath?: string): KubeConfig {
  const config = new (kubeClient().KubeConfig)();
  if (kubeconfigPath) config.loadFromFile(kubeconfigPath);
  else config.loadFromCluster();
  return config;
}
