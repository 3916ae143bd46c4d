/**
 * The auditor's Redis keys, all under `auditor:`. Everything but nothing else is derived from
 * rotor.audit.log.v1, so `rotor audit replay --rebuild` can delete and recreate them.
 */
export const VIEW_PREFIX = 'auditor:';

export const ViewKeys = {
  /** Set once the state below has been built; its absence with a non-empty audit topic means Redis lost it. */
  marker: 'auditor:state',
  head: (chain: string) => `auditor:chain:${chain}`,
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
} as const;

export type EventIndexKind = 'all' | 'lease' | 'workload' | 'secret' | 'actor';
