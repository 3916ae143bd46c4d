/**
 * The auditor's Redis keys, all under `auditor:`. Everything but nothing else is derived from
 * rotor.audit.log.v1, so `rotor audit replay --rebuild` can delete and recreate them.
 */
export const VIEW_PREFIX = 'auditor:';

export const ViewKeys = {
  /** Set once the state below has been built; its absence with a non-empty audit topic means Redis lost it. */
  marker: 'auditor:state',
  head: (chain: string) => `auditor:chain:${chain}`,
  /** The last checkpoint's number and time (hash), records appended since (counter), and who is signing (lock). */
  checkpoint: 'auditor:checkpoint',
  checkpointAppended: 'auditor:checkpoint:appended',
  checkpointLock: 'auditor:checkpoint:lock',
  seen: (eventId: string) => `auditor:seen:${eventId}`,
  record: (ref: string) => `auditor:record:${ref}`,
  eventIndex: (kind: EventIndexKind, value = '') => (kind === 'all' ? 'auditor:idx:all' : `auditor:idx:${kind}:${value}`),
  lease: (leaseId: string) => `auditor:lease:${leaseId}`,
  /** Every lease by issue time (score): the at-time view walks it. */
  leases: 'auditor:leases',
  workloadLeases: (workload: string) => `auditor:leases:workload:${workload}`,
  secrets: 'auditor:secrets',
  version: (secret: string, version: number | string) => `auditor:version:${secret}|${version}`,
  /** One secret's versions, scored by version number. */
  secretVersions: (secret: string) => `auditor:versions:${secret}`,
  /** Every version as `secret|version`, by creation time. */
  versions: 'auditor:versions',
  copy: (id: string) => `auditor:copy:${id}`,
  /** One secret's copies by first-seen time; copies of no known secret are under ''. */
  secretCopies: (secret: string) => `auditor:copies:${secret}`,
  /** Every copy by first-seen time. */
  copies: 'auditor:copies',
  /** Copies found outside the inventory (copy.discovered), by first-seen time. */
  discoveredCopies: 'auditor:posture:discovered',
  /** Leases ever reported irrevocable, by first report; the lease hash says whether it still is. */
  irrevocableLeases: 'auditor:posture:irrevocable',
  /** Drift at one locator: the latest finding and the latest write or removal there. */
  drift: (locator: string) => `auditor:drift:${locator}`,
  /** Every locator with a drift finding, by first finding. */
  drifts: 'auditor:posture:drifts',
  breakGlass: (id: string) => `auditor:breakglass:${id}`,
  /** Every break-glass use, by time of use. */
  breakGlasses: 'auditor:posture:breakglass',
  /** One secret's versions created by a break-glass follow-up, scored by creation time. */
  breakGlassVersions: (secret: string) => `auditor:breakglass-versions:${secret}`,
  ownerLeases: (owner: string) => `auditor:owner:leases:${owner}`,
  /** Secrets whose versions name this owner, by first version. */
  ownerSecrets: (owner: string) => `auditor:owner:secrets:${owner}`,
} as const;

export type EventIndexKind = 'all' | 'lease' | 'workload' | 'secret' | 'actor';
