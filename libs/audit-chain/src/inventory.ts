import type { CopyState, InventoryLease, InventoryLeaseState, SecretCopy, SecretVersion, VersionState } from '@rotor/rest-contract';

/**
 * Reads the inventory back out of the view hashes the projection wrote (field → string),
 * and says what state each thing was in at a given time.
 */
export type HashFields = Record<string, string>;

const time = (value: string | undefined): number | undefined => (value === undefined || value === '' ? undefined : Number(value));
const iso = (value: number | undefined): string | undefined => (value === undefined ? undefined : new Date(value).toISOString());
/** `latest` fields are stored as "<ms>|value". */
const latestValue = (value: string | undefined): { at: number; value: string } | undefined => {
  if (!value) return undefined;
  const bar = value.indexOf('|');
  return { at: Number(value.slice(0, bar)), value: value.slice(bar + 1) };
};

/** The REST shapes are rest-contract's (one definition for the auditor, the CLI and the tests); these names stay the domain's. */
export type LeaseState = InventoryLeaseState;
export type { CopyState, VersionState };

export type LeaseView = InventoryLease;

export function leaseView(fields: HashFields, at: number): LeaseView {
  const issuedAt = time(fields['issuedAt']);
  const expiresAt = time(fields['expiresAt']);
  const revokedAt = time(fields['revokedAt']);
  const end = revokedAt !== undefined && expiresAt !== undefined ? Math.min(revokedAt, expiresAt) : (revokedAt ?? expiresAt);
  const irrevocable = latestValue(fields['irrevocable'])?.value === 'true';
  const state: LeaseState =
    revokedAt !== undefined && revokedAt <= at
      ? 'revoked'
      : irrevocable && expiresAt !== undefined && expiresAt <= at
        ? 'irrevocable'
        : expiresAt !== undefined && expiresAt <= at
          ? 'expired'
          : 'active';
  return {
    leaseId: fields['leaseId'] ?? '',
    role: fields['role'],
    owner: fields['owner'],
    backend: fields['backend'],
    workload: { namespace: fields['namespace'], serviceAccount: fields['serviceAccount'], podName: fields['podName'] },
    task: fields['task'],
    state,
    issuedAt: iso(issuedAt),
    expiresAt: iso(expiresAt),
    maxExpiresAt: iso(time(fields['maxExpiresAt'])),
    renewedAt: iso(time(fields['renewedAt'])),
    revokedAt: iso(revokedAt),
    revokeReason: fields['revokeReason'],
    revocationAttempts: time(fields['revocationAttempts']),
    from: iso(issuedAt ?? time(fields['renewedAt'])),
    to: iso(end),
  };
}

/** Whether the lease existed (issued, neither revoked nor expired) at `at`; an irrevocable lease still exists. */
export function leaseExistedAt(fields: HashFields, at: number): boolean {
  const issuedAt = time(fields['issuedAt']) ?? time(fields['renewedAt']);
  if (issuedAt === undefined || issuedAt > at) return false;
  const state = leaseView(fields, at).state;
  return state === 'active' || state === 'irrevocable';
}

export type VersionView = SecretVersion;

/** A secret's versions at `at`: the newest one not retired is current, the others not retired are previous. */
export function versionViews(versions: HashFields[], at: number): VersionView[] {
  const existing = versions.filter((fields) => (time(fields['createdAt']) ?? time(fields['retiredAt']) ?? 0) <= at);
  const live = existing
    .filter((fields) => !(time(fields['retiredAt']) !== undefined && time(fields['retiredAt'])! <= at))
    .map((fields) => Number(fields['version']));
  const current = live.length ? Math.max(...live) : undefined;
  return existing
    .map((fields): VersionView => {
      const version = Number(fields['version']);
      const retiredAt = time(fields['retiredAt']);
      return {
        secret: fields['secret'] ?? '',
        version,
        gsmVersion: fields['gsmVersion'],
        owner: fields['owner'],
        reason: fields['reason'],
        state: retiredAt !== undefined && retiredAt <= at ? 'retired' : version === current ? 'current' : 'previous',
        createdAt: iso(time(fields['createdAt'])),
        retiredAt: iso(retiredAt),
        retireReason: fields['retireReason'],
      };
    })
    .sort((a, b) => a.version - b.version);
}

export type CopyView = SecretCopy;

export function copyView(id: string, fields: HashFields, at: number): CopyView {
  const deliveredAt = time(fields['deliveredAt']);
  const discoveredAt = time(fields['discoveredAt']);
  // The last time the copy was written or found: a removal before that is history.
  const lastDeliveredAt = time(fields['lastDeliveredAt']) ?? time(fields['lastDiscoveredAt']);
  const removedAt = time(fields['removedAt']);
  const failedAt = time(fields['failedAt']);
  const drift = latestValue(fields['drift']);
  const removed = removedAt !== undefined && removedAt <= at && (lastDeliveredAt === undefined || removedAt >= lastDeliveredAt);
  const state: CopyState = removed
    ? 'removed'
    : drift && drift.at <= at && (lastDeliveredAt === undefined || drift.at > lastDeliveredAt)
      ? 'drifted'
      : deliveredAt !== undefined && deliveredAt <= at
        ? 'delivered'
        : discoveredAt !== undefined
          ? 'discovered'
          : failedAt !== undefined
            ? 'failed'
            : 'drifted';
  const from = deliveredAt ?? discoveredAt ?? drift?.at;
  return {
    id,
    secret: fields['secret'] ?? '',
    version: fields['version'] ? Number(fields['version']) : undefined,
    target: { kind: fields['targetKind'] ?? '', name: fields['targetName'] ?? '' },
    locator: fields['locator'] ?? '',
    origin: fields['origin'] === 'discovered' ? 'discovered' : 'delivery',
    state,
    owner: fields['owner'],
    form: fields['form'],
    contentHash: fields['contentHash'],
    deliveredAt: iso(deliveredAt),
    removedAt: iso(removedAt),
    removeReason: latestValue(fields['removeReason'])?.value,
    failure: latestValue(fields['failure'])?.value,
    drift: drift?.value,
    from: iso(from),
    to: removed ? iso(removedAt) : undefined,
  };
}

/** Whether a copy existed at `at`: written (or found) by then and not yet removed. A failed delivery is no copy. */
export function copyExistedAt(fields: HashFields, at: number): boolean {
  const start = time(fields['deliveredAt']) ?? time(fields['discoveredAt']) ?? latestValue(fields['drift'])?.at;
  if (start === undefined || start > at) return false;
  const removedAt = time(fields['removedAt']);
  const lastDeliveredAt = time(fields['lastDeliveredAt']) ?? time(fields['lastDiscoveredAt']);
  return !(
    removedAt !== undefined &&
    removedAt <= at &&
    (lastDeliveredAt === undefined || removedAt >= lastDeliveredAt || lastDeliveredAt > at)
  );
}

/** Kinds whose lifetimes the store indexes, for the inventory at a time. */
export type LivingKind = 'lease' | 'copy' | 'version';

/**
 * A span enclosing every time the entity existed (`from` ≤ t < `to`, epoch ms; undefined:
 * unbounded), which the store indexes so that "what existed at t" reads only candidates; the
 * exact test stays leaseExistedAt / copyExistedAt / the version's retirement.
 */
export function liveSpan(kind: LivingKind, fields: HashFields): { from?: number; to?: number } {
  let from: number | undefined;
  let to: number | undefined;
  if (kind === 'lease') {
    from = time(fields['issuedAt']) ?? time(fields['renewedAt']);
    const irrevocable = latestValue(fields['irrevocable'])?.value === 'true';
    const ends = [time(fields['revokedAt']), irrevocable ? undefined : time(fields['expiresAt'])].filter((t) => t !== undefined);
    to = ends.length ? Math.min(...ends) : undefined;
  } else if (kind === 'copy') {
    from = time(fields['deliveredAt']) ?? time(fields['discoveredAt']) ?? latestValue(fields['drift'])?.at;
    const removedAt = time(fields['removedAt']);
    const lastWritten = time(fields['lastDeliveredAt']) ?? time(fields['lastDiscoveredAt']);
    // Removed and written again later: it exists again, so the span stays open.
    to = removedAt !== undefined && (lastWritten === undefined || removedAt >= lastWritten) ? removedAt : undefined;
  } else {
    from = time(fields['createdAt']) ?? time(fields['retiredAt']);
    to = time(fields['retiredAt']);
  }
  if (from !== undefined && to !== undefined && to < from) to = from;
  return { from, to };
}

/** Which leases a listing covers; fields combine with AND. `state` is the lease's state at the listing's time. */
export interface LeaseFilter {
  namespace?: string;
  serviceAccount?: string;
  role?: string;
  backend?: string;
  owner?: string;
  state?: LeaseState;
}

/** The lease fields a filter compares, by filter name (the projection's field names). */
export const LEASE_FILTER_FIELDS = {
  namespace: 'namespace',
  serviceAccount: 'serviceAccount',
  role: 'role',
  backend: 'backend',
  owner: 'owner',
} as const satisfies Record<Exclude<keyof LeaseFilter, 'state'>, string>;

/** Reads the views back, whatever holds them (PostgreSQL in the auditor, memory in unit tests). */
export interface AuditViewsReader {
  /** A sorted set's members with a score up to `maxScore`, lowest score first (ties in byte order). */
  members(set: string, maxScore?: number): Promise<string[]>;
  scoredMembers(set: string): Promise<[string, number][]>;
  /** Entities' fields in the order asked ({} for one never written). */
  entities(keys: string[]): Promise<HashFields[]>;
  /** Entities of a kind whose live span holds `at`: every one that existed then, perhaps a few more. */
  liveAt(kind: LivingKind, at: number): Promise<{ id: string; fields: HashFields }[]>;
  /** The same for one workload's (`namespace/serviceAccount`) leases. */
  workloadLeasesLiveAt(workload: string, at: number): Promise<{ id: string; fields: HashFields }[]>;
  /** Leases matching `filter` at `at`, by id, after the id `after` (keyset paging), at most `limit`. */
  leases(filter: LeaseFilter, page: { at: number; after?: string; limit: number }): Promise<{ id: string; fields: HashFields }[]>;
}
