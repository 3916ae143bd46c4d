import { existsSync } from 'node:fs';

import { KubeConfig } from '@kubernetes/client-node';

const IN_CLUSTER_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** Whether there is an API server to reach: a kubeconfig file, or a pod with a mounted service-account token. */
export function kubeApiConfigured(kubeconfigPath?: string, env: NodeJS.ProcessEnv = process.env): boolean {
  return !!kubeconfigPath || (!!env['KUBERNETES_SERVICE_HOST'] && existsSync(IN_CLUSTER_TOKEN));
}

/** A kubeconfig file when given (or KUBECONFIG), else the pod's in-cluster service account. */
export function loadKubeConfig(kubeconfigPath?: string): KubeConfig {
  const config = new KubeConfig();
  if (kubeconfigPath) config.loadFromFile(kubeconfigPath);
  else config.loadFromCluster();
  return config;
}
