import { CoreV1Api, type KubeConfig, type V1Secret } from '@kubernetes/client-node';

import type { Target } from '@rotor/catalog';

import {
  TargetRefusedError,
  type Observation,
  type RemoveOutcome,
  type TargetWriter,
  type VersionCopy,
  type WriteOutcome,
} from './target-writer';

type KubernetesSecretTarget = Extract<Target, { kind: 'kubernetes-secret' }>;

export const ROTOR_LABELS = { managedBy: 'app.kubernetes.io/managed-by', secret: 'rotor.dev/secret' } as const;
export const ROTOR_ANNOTATIONS = {
  version: 'rotor.dev/version',
  gsmVersion: 'rotor.dev/gsm-version',
  contentHash: 'rotor.dev/content-hash',
  target: 'rotor.dev/target',
} as const;
export const MANAGED_BY_ROTOR = `${ROTOR_LABELS.managedBy}=rotor`;

/** A Secret labelled as rotor's, as a scan saw it. */
export interface ManagedSecretFound {
  namespace: string;
  name: string;
  /** What was inspected: a delete is conditional on it. */
  resourceVersion: string;
  secret?: string;
  version?: number;
  target?: string;
}

/**
 * Writes Kubernetes Secrets through the real client. Updates carry the resourceVersion that
 * was read, so a concurrent change (another replica, a person) makes the write fail with a
 * conflict and the job retry on fresh state: never a blind overwrite. A Secret that exists
 * without rotor's label belongs to someone else and is never touched.
 */
export class KubernetesSecretWriter implements TargetWriter<KubernetesSecretTarget> {
  readonly kind = 'kubernetes-secret' as const;
  private readonly api: CoreV1Api;

  constructor(config: KubeConfig) {
    this.api = config.makeApiClient(CoreV1Api);
  }

  locator(target: KubernetesSecretTarget): string {
    return `k8s:${target.namespace}/secrets/${target.secretName}#${target.key}`;
  }

  async write(target: KubernetesSecretTarget, copy: VersionCopy): Promise<WriteOutcome> {
    const locator = this.locator(target);
    const existing = await this.read(target);
    const body: V1Secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      metadata: {
        name: target.secretName,
        namespace: target.namespace,
        labels: { ...existing?.metadata?.labels, [ROTOR_LABELS.managedBy]: 'rotor', [ROTOR_LABELS.secret]: copy.secret },
        annotations: {
          ...existing?.metadata?.annotations,
          [ROTOR_ANNOTATIONS.version]: String(copy.version),
          [ROTOR_ANNOTATIONS.gsmVersion]: copy.gsmVersion,
          [ROTOR_ANNOTATIONS.contentHash]: copy.contentHash,
          [ROTOR_ANNOTATIONS.target]: target.name,
        },
      },
      data: { [target.key]: copy.value.toString('base64') },
    };
    if (!existing) {
      await this.api.createNamespacedSecret({ namespace: target.namespace, body });
      return { kind: 'written', locator };
    }
    assertManagedByRotor(existing, target);
    const held = heldVersion(existing);
    if (held !== undefined && held > copy.version) return { kind: 'superseded', locator, heldVersion: held };
    const currentValue = existing.data?.[target.key];
    if (
      held === copy.version &&
      existing.metadata?.annotations?.[ROTOR_ANNOTATIONS.contentHash] === copy.contentHash &&
      currentValue === body.data![target.key]
    ) {
      return { kind: 'unchanged', locator };
    }
    body.metadata!.resourceVersion = existing.metadata!.resourceVersion;
    await this.api.replaceNamespacedSecret({ name: target.secretName, namespace: target.namespace, body });
    return { kind: 'written', locator };
  }

  async remove(target: KubernetesSecretTarget, copy: { version: number }): Promise<RemoveOutcome> {
    const locator = this.locator(target);
    const existing = await this.read(target);
    if (!existing || !isManagedByRotor(existing)) return { kind: 'absent', locator };
    const held = heldVersion(existing);
    if (held !== undefined && held !== copy.version) return { kind: 'holds-other-version', locator, heldVersion: held };
    try {
      await this.api.deleteNamespacedSecret({
        name: target.secretName,
        namespace: target.namespace,
        body: { preconditions: { resourceVersion: existing.metadata!.resourceVersion! } },
      });
    } catch (error) {
      if (statusOf(error) === 404) return { kind: 'absent', locator };
      throw error;
    }
    return { kind: 'removed', locator };
  }

  async observe(target: KubernetesSecretTarget, hashOf: (value: Buffer) => string): Promise<Observation> {
    const locator = this.locator(target);
    const existing = await this.read(target);
    const encoded = existing?.data?.[target.key];
    if (!existing || encoded === undefined) return { kind: 'missing', locator };
    const annotations = existing.metadata?.annotations ?? {};
    const version = heldVersion(existing);
    return {
      kind: 'present',
      locator,
      actualHash: hashOf(Buffer.from(encoded, 'base64')),
      managedByRotor: isManagedByRotor(existing),
      ...(version !== undefined ? { version } : {}),
      ...(annotations[ROTOR_ANNOTATIONS.contentHash] ? { recordedHash: annotations[ROTOR_ANNOTATIONS.contentHash] } : {}),
    };
  }

  /** Every Secret labelled as rotor's in a namespace, for finding copies nobody accounts for. */
  async listManaged(namespace: string): Promise<ManagedSecretFound[]> {
    const found: ManagedSecretFound[] = [];
    let token: string | undefined;
    do {
      const page = await this.api.listNamespacedSecret({
        namespace,
        labelSelector: MANAGED_BY_ROTOR,
        limit: 500,
        ...(token ? { _continue: token } : {}),
      });
      for (const item of page.items) {
        const version = heldVersion(item);
        found.push({
          namespace,
          name: item.metadata!.name!,
          resourceVersion: item.metadata?.resourceVersion ?? '',
          ...(item.metadata?.labels?.[ROTOR_LABELS.secret] ? { secret: item.metadata.labels[ROTOR_LABELS.secret] } : {}),
          ...(version !== undefined ? { version } : {}),
          ...(item.metadata?.annotations?.[ROTOR_ANNOTATIONS.target]
            ? { target: item.metadata.annotations[ROTOR_ANNOTATIONS.target] }
            : {}),
        });
      }
      token = page.metadata?._continue || undefined;
    } while (token);
    return found;
  }

  /**
   * Deletes a Secret nobody accounts for, only as it was inspected: the delete carries the
   * listed resourceVersion as a precondition, so a Secret someone changed (or re-created)
   * since then is left alone (409 from the API server) and looked at again by the next scan.
   */
  async deleteUnaccounted(
    found: Pick<ManagedSecretFound, 'namespace' | 'name' | 'resourceVersion'>,
  ): Promise<'deleted' | 'changed' | 'absent'> {
    // The API server compares even an empty precondition, but say why here rather than through a 409.
    if (!found.resourceVersion) throw new Error(`Secret ${found.namespace}/${found.name}: no resourceVersion was inspected; not deleting`);
    try {
      await this.api.deleteNamespacedSecret({
        name: found.name,
        namespace: found.namespace,
        body: { preconditions: { resourceVersion: found.resourceVersion } },
      });
      return 'deleted';
    } catch (error) {
      if (statusOf(error) === 404) return 'absent';
      if (statusOf(error) === 409) return 'changed';
      throw error;
    }
  }

  private async read(target: KubernetesSecretTarget): Promise<V1Secret | undefined> {
    try {
      return await this.api.readNamespacedSecret({ name: target.secretName, namespace: target.namespace });
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }
}

const isManagedByRotor = (secret: V1Secret) => secret.metadata?.labels?.[ROTOR_LABELS.managedBy] === 'rotor';

function assertManagedByRotor(secret: V1Secret, target: KubernetesSecretTarget): void {
  if (!isManagedByRotor(secret)) {
    throw new TargetRefusedError(
      `Secret ${target.namespace}/${target.secretName} exists and is not managed by rotor; rotor will not overwrite it`,
    );
  }
}

function heldVersion(secret: V1Secret): number | undefined {
  const text = secret.metadata?.annotations?.[ROTOR_ANNOTATIONS.version];
  return text && /^\d+$/.test(text) ? Number(text) : undefined;
}

/** The HTTP status of a client error, if it has one. */
export function statusOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}
