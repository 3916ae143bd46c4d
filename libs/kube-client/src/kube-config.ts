import { KubeConfig } from '@kubernetes/client-node';

/** A kubeconfig file when given (or KUBECONFIG), else the pod's in-cluster service account. */
export function loadKubeConfig(kubeconfigPath?: string): KubeConfig {
  const config = new KubeConfig();
  if (kubeconfigPath) config.loadFromFile(kubeconfigPath);
  else config.loadFromCluster();
  return config;
}
