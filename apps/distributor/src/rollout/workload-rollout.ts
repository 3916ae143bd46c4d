import type { RolloutKind, TargetOf } from '@rotor/catalog';

import { planRollout, rolloutPatch, type PlannedRollout, type Workload } from './workload-references';

/** The Kubernetes calls the rollout needs, behind a small interface so it is testable without a cluster. */
export interface WorkloadApi {
  /** One page of Deployments or StatefulSets of a namespace. */
  list(kind: RolloutKind, namespace: string, continueToken?: string): Promise<{ items: Workload[]; continueToken?: string }>;
  /** Applies a JSON merge patch to the workload. */
  patch(kind: RolloutKind, namespace: string, name: string, patch: object): Promise<void>;
}

/** The provider of a WorkloadRollout, present when the distributor reaches a cluster. */
export const WORKLOAD_ROLLOUT = Symbol('distributor.workload-rollout');

/** What the rollout did to one workload: `patched`, or it already carried this content's hash. */
export interface RolledWorkload {
  kind: RolloutKind;
  name: string;
  patched: boolean;
}

/**
 * Rolls the workloads that use a kubernetes-secret target's Secret, for targets that opted in
 * (`rollout` in the catalog). It only ever sets rotor's own pod-template annotation to the
 * keyed content hash, and only where it differs, so the same version twice (a repeated job,
 * a replayed event) patches nothing and rolls nothing. The value never leaves the distributor:
 * the annotation holds the HMAC recorded on the Secret as `rotor.dev/content-hash`.
 */
export class WorkloadRollout {
  constructor(private readonly api: WorkloadApi) {}

  async rollOut(target: TargetOf<'kubernetes-secret'>, contentHash: string): Promise<RolledWorkload[]> {
    if (!target.rollout) return [];
    const rolled: RolledWorkload[] = [];
    for (const kind of target.rollout.kinds) {
      for (const planned of await this.plan(kind, target, contentHash)) {
        if (planned.patch) await this.api.patch(kind, target.namespace, planned.name, rolloutPatch(target.secretName, contentHash));
        rolled.push({ kind, name: planned.name, patched: planned.patch });
      }
    }
    return rolled;
  }

  private async plan(kind: RolloutKind, target: TargetOf<'kubernetes-secret'>, hash: string): Promise<PlannedRollout[]> {
    const planned: PlannedRollout[] = [];
    let token: string | undefined;
    do {
      const page = await this.api.list(kind, target.namespace, token);
      planned.push(...planRollout(page.items, { namespace: target.namespace, secretName: target.secretName, hash }));
      token = page.continueToken;
    } while (token);
    return planned;
  }
}
