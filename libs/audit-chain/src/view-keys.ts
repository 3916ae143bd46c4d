/**
 * The auditor's Redis keys, all under `{auditor:views}:`. Everything but nothing else is derived from
 * rotor.audit.log.v1, so `rotor audit replay --rebuild` can delete and recreate them.
 * One hash tag for all of them: the auditor appends a run of records to every view in one MULTI, which
 * Redis Cluster runs only on keys of one slot (so the auditor's state lives on one master there).
 */
export const VIEW_PREFIX = '{auditor:views}:';
/** The layout before the hash tag (`auditor:chain:…`), moved by the auditor at start-up. */
export const LEGACY_VIEW_PREFIX = 'auditor:';

export const ViewKeys = {
  /** Set once the state below has been built; its absence with a non-empty audit topic means Redis lost it. */
  marker: `${VIEW_PREFIX}state`,
  head: (chain: string) => `${VIEW_PREFIX}chain:${chain}`,
  /** The last checkpoint's number and time (hash), records appended since (counter), and who is signing (lock). */
  checkpoint: `${VIEW_PREFIX}checkpoint`,
  checkpointAppended: `${VIEW_PREFIX}checkpoint:appended`,
  checkpointLock: `${VIEW_PREFIX}checkpoint:lock`,
  seen: (eventId: string) => `${VIEW_PREFIX}seen:${eventId}`,
  record: (ref: string) => `${VIEW_PREFIX}record:${ref}`,
  eventIndex: (kind: EventIndexKind, value = '') => (kind === 'all' ? `${VIEW_PREFIX}idx:all` : `${VIEW_PREFIX}idx:${kind}:${value}`),
  lease: (leaseId: string) => `${VIEW_PREFIX}lease:${leaseId}`,
  /** Every lease by issue time (score): the at-time view walks it. */
  leases: `${VIEW_PREFIX}leases`,
  workloadLeases: (workload: string) => `${VIEW_PREFIX}leases:workload:${workload}`,
  secrets: `${VIEW_PREFIX}secrets`,
  version: (secret: string, version: number | string) => `${VIEW_PREFIX}version:${secret}|${version}`,
  /** One secret's versions, scored by version number. */
  secretVersions: (secret: string) => `${VIEW_PREFIX}versions:${secret}`,
  /** Every version as `secret|version`, by creation time. */
  versions: `${VIEW_PREFIX}versions`,
  copy: (id: string) => `${VIEW_PREFIX}copy:${id}`,
  /** One secret's copies by first-seen time; copies of no known secret are under ''. */
  secretCopies: (secret: string) => `${VIEW_PREFIX}copies:${secret}`,
  /** Every copy by first-seen time. */
  copies: `${VIEW_PREFIX}copies`,
  /** Copies found outside the inventory (copy.discovered), by first-seen time. */
  discoveredCopies: `${VIEW_PREFIX}posture:discovered`,
  /** Leases ever reported irrevocable, by first report; the lease hash says whether it still is. */
  irrevocableLeases: `${VIEW_PREFIX}posture:irrevocable`,
  /** Drift at one locator: the latest finding and the latest write or removal there. */
  drift: (locator: string) => `${VIEW_PREFIX}drift:${locator}`,
  /** Every locator with a drift finding, by first finding. */
  drifts: `${VIEW_PREFIX}posture:drifts`,
  breakGlass: (id: string) => `${VIEW_PREFIX}breakglass:${id}`,
  /** Every break-glass use, by time of use. */
  breakGlasses: `${VIEW_PREFIX}posture:breakglass`,
  /** One secret's versions created by a break-glass follow-up, scored by creation time. */
  breakGlassVersions: (secret: string) => `${VIEW_PREFIX}breakglass-versions:${secret}`,
  ownerLeases: (owner: string) => `${VIEW_PREFIX}owner:leases:${owner}`,
  /** Secrets whose versions name this owner, by first version. */
  ownerSecrets: (owner: string) => `${VIEW_PREFIX}owner:secrets:${owner}`,
} as const;

export type EventIndexKind = 'all' | 'lease' | 'workload' | 'secret' | 'actor';
