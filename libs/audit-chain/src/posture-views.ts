import type { HashFields } from './inventory';

/**
 * Reads the posture state the projection wrote (posture-projection.ts) back out of its hashes.
 * What is still open is decided here, from the stored times, so any `now` can be asked.
 */

const time = (value: string | undefined): number | undefined => (value === undefined || value === '' ? undefined : Number(value));
const latest = (value: string | undefined): { at: number; value: string } | undefined => {
  if (!value) return undefined;
  const bar = value.indexOf('|');
  return { at: Number(value.slice(0, bar)), value: value.slice(bar + 1) };
};

export interface DriftFinding {
  locator: string;
  target: { kind: string; name: string };
  drift: string;
  secret?: string;
  version?: number;
  foundAt: number;
  /** Open: not published as repaired, and nothing written or removed at the locator since. */
  open: boolean;
}

export function driftFinding(fields: HashFields): DriftFinding | undefined {
  const finding = latest(fields['finding']);
  if (!finding || !fields['locator']) return undefined;
  const parsed = JSON.parse(finding.value) as { drift: string; repaired: boolean; secret?: string; version?: number };
  const writtenAt = time(fields['writtenAt']);
  return {
    locator: fields['locator'],
    target: { kind: fields['targetKind'] ?? '', name: fields['targetName'] ?? '' },
    drift: parsed.drift,
    secret: parsed.secret,
    version: parsed.version,
    foundAt: finding.at,
    open: !parsed.repaired && (writtenAt === undefined || writtenAt < finding.at),
  };
}

export interface IrrevocableLease {
  leaseId: string;
  role?: string;
  owner?: string;
  workload: { namespace?: string; serviceAccount?: string };
  expiresAt?: number;
  revocationAttempts?: number;
  /** When it was last reported irrevocable. */
  reportedAt: number;
}

/** The lease if its latest revocation report says irrevocable and no revocation has succeeded since. */
export function irrevocableLease(fields: HashFields): IrrevocableLease | undefined {
  const flag = latest(fields['irrevocable']);
  if (!flag || flag.value !== 'true' || time(fields['revokedAt']) !== undefined) return undefined;
  return {
    leaseId: fields['leaseId'] ?? '',
    role: fields['role'],
    owner: fields['owner'],
    workload: { namespace: fields['namespace'], serviceAccount: fields['serviceAccount'] },
    expiresAt: time(fields['expiresAt']),
    revocationAttempts: time(fields['revocationAttempts']),
    reportedAt: flag.at,
  };
}

export interface BreakGlassUse {
  id: string;
  actor: string;
  ticket: string;
  reason: string;
  role?: string;
  secrets: string[];
  usedAt: number;
  expiresAt?: number;
  /** Set when the access was ended before its expiry. */
  endedAt?: number;
  followUp: Record<string, { attempts?: number; requestedAt?: number; lastRequestedAt?: number }>;
}

export function breakGlassUse(fields: HashFields): BreakGlassUse | undefined {
  const usedAt = time(fields['usedAt']);
  if (!fields['id'] || usedAt === undefined) return undefined; // only an early end or a follow-up seen so far
  const secrets = JSON.parse(fields['secrets'] ?? '[]') as string[];
  return {
    id: fields['id'],
    actor: fields['actor'] ?? '',
    ticket: fields['ticket'] ?? '',
    reason: fields['reason'] ?? '',
    role: fields['role'],
    secrets,
    usedAt,
    expiresAt: time(fields['expiresAt']),
    endedAt: time(fields['endedAt']),
    followUp: Object.fromEntries(
      secrets.map((secret) => [
        secret,
        {
          attempts: time(fields[`attempts:${secret}`]),
          requestedAt: time(fields[`requestedAt:${secret}`]),
          lastRequestedAt: time(fields[`lastRequestedAt:${secret}`]),
        },
      ]),
    ),
  };
}
