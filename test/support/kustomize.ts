/**
 * Rendering and model validation of kustomize directories for the static specs
 * (test/static/k8s-*.spec.ts). `kubectl` must be on the PATH; no cluster is needed.
 *
 * kubernetes-models validates types, enums and required fields but, like the API
 * server's non-strict mode, accepts unknown fields: the specs' property checks are what
 * catch a misspelt field.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

import { parseAllDocuments } from 'yaml';
import { MutatingWebhookConfiguration } from 'kubernetes-models/admissionregistration.k8s.io/v1/MutatingWebhookConfiguration';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';

const repoRoot = join(__dirname, '..', '..');

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

export type ModelClass = { apiVersion: string; kind: string; new (data: never): { validate(): void } };

/** Every kind with a kubernetes-models schema the manifests may contain, by `<apiVersion>/<kind>`. */
export const MODELS = new Map<string, ModelClass>(
  [
    Namespace,
    ServiceAccount,
    ConfigMap,
    Secret,
    Service,
    Deployment,
    PodDisruptionBudget,
    HorizontalPodAutoscaler,
    NetworkPolicy,
    Role,
    RoleBinding,
    ClusterRole,
    ClusterRoleBinding,
    MutatingWebhookConfiguration,
  ].map((model: ModelClass) => [`${model.apiVersion}/${model.kind}`, model]),
);

/** `kubectl kustomize <dir>` (relative to the repository root): the YAML it prints and its documents. */
export function renderKustomize(dir: string): { text: string; manifests: Manifest[] } {
  let text: string;
  try {
    text = execFileSync('kubectl', ['kustomize', join(repoRoot, dir)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`kubectl kustomize ${dir} failed: ${(error as Error).message}\n${stderr}`);
  }
  const manifests = parseAllDocuments(text).map((document, index) => {
    if (document.errors.length > 0) {
      throw new Error(`document ${index} of ${dir} does not parse: ${document.errors[0]?.message}`);
    }
    return document.toJS() as Manifest;
  });
  return { text, manifests };
}

/** `<kind> <namespace>/<name>`, with `(cluster)` for cluster-scoped objects. */
export const manifestId = (manifest: Manifest) =>
  `${manifest.kind} ${manifest.metadata.namespace ?? '(cluster)'}/${manifest.metadata.name}`;

/** `<apiVersion>/<kind>`, the key of MODELS. */
export const typeOf = (manifest: Manifest) => `${manifest.apiVersion}/${manifest.kind}`;

/**
 * One message per manifest that is not valid against its kubernetes-models schema, or
 * whose kind has none in MODELS. Types in `unchecked` (custom resources a spec checks
 * field by field) are skipped.
 */
export function validationErrors(manifests: Manifest[], unchecked: readonly string[] = []): string[] {
  return manifests.flatMap((manifest) => {
    if (unchecked.includes(typeOf(manifest))) return [];
    const model = MODELS.get(typeOf(manifest));
    if (!model) return [`${manifestId(manifest)}: ${typeOf(manifest)} is not a kind this test knows`];
    try {
      new model(unfolded(manifest) as never).validate();
      return [];
    } catch (error) {
      return [`${manifestId(manifest)}: ${(error as Error).message}`];
    }
  });
}

/**
 * kustomize's secretGenerator folds base64 values longer than 70 characters over several
 * lines; the API server's decoder (Go's encoding/base64) skips the newlines, kubernetes-models'
 * `byte` format does not. Validate a Secret's data as the API server reads it.
 */
function unfolded(manifest: Manifest): Manifest {
  const data = manifest.kind === 'Secret' ? (manifest.data as Record<string, string> | undefined) : undefined;
  if (!data) return manifest;
  return { ...manifest, data: Object.fromEntries(Object.entries(data).map(([key, value]) => [key, value.replace(/[\r\n]/g, '')])) };
}

export function ofKind<T>(manifests: Manifest[], kind: string): (T & Manifest)[] {
  return manifests.filter((manifest) => manifest.kind === kind) as (T & Manifest)[];
}
