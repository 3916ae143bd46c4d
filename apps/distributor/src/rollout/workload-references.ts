import type { V1Container, V1PodSpec, V1PodTemplateSpec } from '@kubernetes/client-node';

import type { RolloutKind } from '@rotor/catalog';

/**
 * The pod-template annotation that makes a workload roll when a Secret it uses gets a new
 * version: `secret.rotor.dev/<secretName>`, one per Secret (a Deployment using two Secrets
 * keeps one annotation for each, so neither delivery undoes the other). The prefix is a DNS
 * subdomain and the name a DNS-1123 label, so every Secret name fits the annotation syntax.
 */
export const ROLLOUT_ANNOTATION_PREFIX = 'secret.rotor.dev/';
export const rolloutAnnotation = (secretName: string) => `${ROLLOUT_ANNOTATION_PREFIX}${secretName}`;

/** How a pod template uses a Secret. */
export type SecretReference =
  | 'volume' // volumes[].secret.secretName
  | 'projected-volume' // volumes[].projected.sources[].secret.name
  | 'env' // (init)containers[].env[].valueFrom.secretKeyRef.name
  | 'env-from'; // (init)containers[].envFrom[].secretRef.name

/** A Deployment or StatefulSet as listed: only what the rollout reads. */
export interface Workload {
  kind: RolloutKind;
  metadata?: { name?: string; namespace?: string };
  spec?: { template?: V1PodTemplateSpec };
}

/** A workload whose pod template uses the Secret; `patch` is false when it already carries this content's hash. */
export interface PlannedRollout {
  kind: RolloutKind;
  name: string;
  references: SecretReference[];
  patch: boolean;
}

/**
 * The ways a pod spec uses the Secret, in a stable order, each form once. Image pull secrets
 * and CSI `nodePublishSecretRef` are not content the application reads, so they do not count.
 */
export function secretReferences(pod: V1PodSpec | undefined, secretName: string): SecretReference[] {
  const found = new Set<SecretReference>();
  for (const volume of pod?.volumes ?? []) {
    if (volume.secret?.secretName === secretName) found.add('volume');
    if (volume.projected?.sources?.some((source) => source.secret?.name === secretName)) found.add('projected-volume');
  }
  const containers: V1Container[] = [...(pod?.initContainers ?? []), ...(pod?.containers ?? [])];
  for (const container of containers) {
    if (container.env?.some((variable) => variable.valueFrom?.secretKeyRef?.name === secretName)) found.add('env');
    if (container.envFrom?.some((source) => source.secretRef?.name === secretName)) found.add('env-from');
  }
  return (['volume', 'projected-volume', 'env', 'env-from'] as const).filter((form) => found.has(form));
}

/**
 * Which of `workloads` use the Secret `secretName` of `namespace`, and which of those still need
 * the annotation set to `hash`. Workloads of other namespaces never count: a pod can only mount
 * a Secret of its own namespace.
 */
export function planRollout(
  workloads: readonly Workload[],
  { namespace, secretName, hash }: { namespace: string; secretName: string; hash: string },
): PlannedRollout[] {
  const planned: PlannedRollout[] = [];
  for (const workload of workloads) {
    const name = workload.metadata?.name;
    if (!name || workload.metadata?.namespace !== namespace) continue;
    const references = secretReferences(workload.spec?.template?.spec, secretName);
    if (references.length === 0) continue;
    const current = workload.spec?.template?.metadata?.annotations?.[rolloutAnnotation(secretName)];
    planned.push({ kind: workload.kind, name, references, patch: current !== hash });
  }
  return planned;
}

/**
 * The JSON merge patch that sets the annotation and nothing else: the API server starts a
 * rollout because the pod template changed, as `kubectl rollout restart` does with its own.
 */
export function rolloutPatch(secretName: string, hash: string) {
  return { spec: { template: { metadata: { annotations: { [rolloutAnnotation(secretName)]: hash } } } } };
}
