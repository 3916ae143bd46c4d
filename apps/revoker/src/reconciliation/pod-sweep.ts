import { Inject, Injectable } from '@nestjs/common';

import { withTimeout } from '@rotor/backoff';
import type { PodLister } from '@rotor/kube-client';
import { classifyDependencyFailure, LOGGER } from '@rotor/service-kit';
import { Metrics, type Logger } from '@rotor/telemetry';

import type { RevokerConfig } from '../config';
import { LeaseClock, type PodBoundLease } from '../leases/lease-clock';
import { REVOKER_CONFIG } from '../platform/tokens';

export const POD_LISTER = Symbol('revoker.pod-lister');

export interface PodSweepResult {
  /** Live leases whose token named a pod. */
  leases: number;
  /** Namespaces listed (one LIST each, paged). */
  namespaces: number;
  /** Namespaces whose list failed: their leases were left alone. */
  failedNamespaces: number;
  /** Leases whose pod was looked for in a list. */
  podsChecked: number;
  /** Pod gone, but the lease is younger than the margin. */
  waiting: number;
  /** Asked to be revoked now (reason pod-gone). */
  requested: number;
}

/** deleted: no pod of that name; replaced: a pod of that name with another uid (a new pod, not the token's). */
export type PodGone = 'deleted' | 'replaced';

/** Whether a lease's pod is gone from a namespace's list, and how; undefined while it is there. */
export function podGone(lease: Pick<PodBoundLease, 'podName' | 'podUid'>, pods: ReadonlyMap<string, string>): PodGone | undefined {
  const uid = pods.get(lease.podName);
  if (uid === undefined) return 'deleted';
  return lease.podUid !== undefined && lease.podUid !== uid ? 'replaced' : undefined;
}

const PAGE = 500;
const LIST_TIMEOUT_MS = 10_000;

/**
 * Leases end with their pod (issue 17): a lease whose token named a pod (`kubernetes.io.pod`,
 * carried in lease.issued) is asked to be revoked (reason `pod-gone`) through the clock once
 * the API server no longer lists that pod, or lists another pod (another uid) under its name.
 * That covers what a sidecar's own revocation at SIGTERM cannot: a forced deletion, a lost
 * node, a killed agent. One LIST per namespace holding such leases, not one GET per lease.
 *
 * It only ever revokes on an answer: a namespace whose list fails (API server down, RBAC,
 * timeout) revokes nothing and is logged and counted. A lease younger than the margin is left
 * for a later sweep, in case the list lags its issue. Idempotent: it only asks the clock,
 * whose usual path (retries, lease.revoked) does the rest; a lease already asked for is skipped.
 */
@Injectable()
export class PodSweep {
  /** Stands in for the issue time of records tracked before the revoker kept it: never earlier than this process. */
  private readonly startedAt = Date.now();
  private readonly podsChecked;
  private readonly requestedTotal;
  private readonly listFailures;

  constructor(
    private readonly clock: LeaseClock,
    @Inject(POD_LISTER) private readonly pods: PodLister,
    @Inject(REVOKER_CONFIG) private readonly config: RevokerConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    metrics: Metrics,
  ) {
    this.podsChecked = metrics.counter('rotor_pod_sweep_pods_checked_total', 'Pods of live pod-bound leases looked for in a list');
    this.requestedTotal = metrics.counter(
      'rotor_pod_gone_leases_total',
      'Leases asked to be revoked because the pod their token named is gone, by how (deleted or replaced by a pod with another uid)',
      ['gone'],
    );
    this.listFailures = metrics.counter(
      'rotor_pod_sweep_list_failures_total',
      'Namespaces whose pod list failed during a pod sweep (their leases were left alone), by reason class',
      ['reason'],
    );
  }

  async sweep(now = Date.now()): Promise<PodSweepResult> {
    const result: PodSweepResult = { leases: 0, namespaces: 0, failedNamespaces: 0, podsChecked: 0, waiting: 0, requested: 0 };
    const byNamespace = new Map<string, PodBoundLease[]>();
    let cursor = '0';
    do {
      const [next, ids] = await this.clock.scanIndex('pod-bound', cursor, PAGE);
      cursor = next;
      for (const lease of await this.clock.podFields(ids)) {
        if (!lease || lease.requestedReason) continue; // revoked, or already on its way out
        result.leases++;
        const leases = byNamespace.get(lease.namespace) ?? [];
        leases.push(lease);
        byNamespace.set(lease.namespace, leases);
      }
    } while (cursor !== '0');

    for (const [namespace, leases] of byNamespace) {
      let pods: Map<string, string>;
      try {
        pods = await withTimeout(this.pods.podsIn(namespace), LIST_TIMEOUT_MS);
      } catch (error) {
        const reason = failureReason(error);
        result.failedNamespaces++;
        this.listFailures.inc({ reason });
        this.logger.warn(
          { namespace, reason, err: (error as Error).message, leases: leases.length },
          'could not list the pods of a namespace; its pod-bound leases are left alone until a sweep can',
        );
        continue;
      }
      result.namespaces++;
      for (const lease of leases) {
        result.podsChecked++;
        this.podsChecked.inc();
        const gone = podGone(lease, pods);
        if (!gone) continue;
        if (now - (lease.issuedAt?.getTime() ?? this.startedAt) < this.config.podSweep.marginMs) {
          result.waiting++;
          continue;
        }
        await this.clock.requestNow(lease.id, 'pod-gone');
        this.requestedTotal.inc({ gone });
        this.logger.warn({ leaseId: lease.id, namespace, gone }, 'the pod this lease was issued to is gone; revoking it');
        result.requested++;
      }
    }
    return result;
  }
}

/** A class of failure for a metric label: the API server's status code when it answered, else the dependency class. */
function failureReason(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'number' && code >= 400 && code < 600 ? `http-${code}` : classifyDependencyFailure(error);
}
