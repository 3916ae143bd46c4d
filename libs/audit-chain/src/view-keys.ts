/**
 * The names of the audit views: entities (`<kind>:<id>`, fields merged by rule) and sorted sets
 * (members by score). Everything named here is derived from the audit topic alone, so
 * `rotor audit replay --rebuild` can build it again. The store keeps an entity's kind apart
 * from its id (the text before the first colon).
 */
export const ViewKeys = {
  lease: (leaseId: string) => `lease:${leaseId}`,
  secrets: 'secrets',
  version: (secret: string, version: number | string) => `version:${secret}|${version}`,
  /** One secret's versions, scored by version number. */
  secretVersions: (secret: string) => `versions:${secret}`,
  /** Every version as `secret|version`, by creation time. */
  versions: 'versions',
  copy: (id: string) => `copy:${id}`,
  /** One secret's copies by first-seen time; copies of no known secret are under ''. */
  secretCopies: (secret: string) => `copies:${secret}`,
  /** Every copy by first-seen time. */
  copies: 'copies',
  /** Copies found outside the inventory (copy.discovered), by first-seen time. */
  discoveredCopies: 'posture:discovered',
  /** Leases ever reported irrevocable, by first report; the lease says whether it still is. */
  irrevocableLeases: 'posture:irrevocable',
  /** Drift at one locator: the latest finding and the latest write or removal there. */
  drift: (locator: string) => `drift:${locator}`,
  /** Every locator with a drift finding, by first finding. */
  drifts: 'posture:drifts',
  breakGlass: (id: string) => `breakglass:${id}`,
  /** Every break-glass use, by time of use. */
  breakGlasses: 'posture:breakglass',
  /** One secret's versions created by a break-glass follow-up, scored by creation time. */
  breakGlassVersions: (secret: string) => `breakglass-versions:${secret}`,
  ownerLeases: (owner: string) => `owner:leases:${owner}`,
  /** Secrets whose versions name this owner, by first version. */
  ownerSecrets: (owner: string) => `owner:secrets:${owner}`,
} as const;

export type EntityKind = 'lease' | 'version' | 'copy' | 'drift' | 'breakglass';

/** An entity key's kind and id (split at the first colon; ids may hold colons). */
export function entityOf(key: string): { kind: EntityKind; id: string } {
  const colon = key.indexOf(':');
  return { kind: key.slice(0, colon) as EntityKind, id: key.slice(colon + 1) };
}

/** What the audit timeline is indexed by, besides time. */
export type EventIndexKind = 'lease' | 'workload' | 'secret' | 'actor';
