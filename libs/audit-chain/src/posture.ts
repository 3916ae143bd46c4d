import type { Finding, PostureReport, Severity } from '@rotor/rest-contract';

import type { CopyView, VersionView } from './inventory';
import { FindingReferences, References, type FindingKind, type Reference } from './posture-references';
import type { BreakGlassUse, DriftFinding, IrrevocableLease } from './posture-views';

/**
 * The posture report: what in the inventory needs someone's attention, each finding with its
 * owner and the OWASP NHI / NIST CSF references it answers to. Pure: the auditor gathers the
 * inputs from its views and the catalog; nothing here reads a clock, Redis or a secret value.
 */

/** The report's shapes are rest-contract's; re-exported under the names this module always used. */
export type { Finding, PostureReport, Severity };
export type FollowUpState = 'active' | 'completed' | 'pending' | 'overdue' | 'never-requested';

export interface PostureInput {
  now: number;
  catalog: {
    roles: { name: string; owner: string; ttlMs: number; maxTtlMs: number }[];
    managedSecrets: { name: string; owner: string; rotationPeriodMs: number }[];
    maxTtlCeilingMs?: number;
  };
  /** Each managed secret's versions (the inventory's version views). */
  versions: Record<string, VersionView[]>;
  /** Each secret's copies as they stand now (delivered and discovered). */
  copies: Record<string, CopyView[]>;
  discoveredCopies: CopyView[];
  drifts: DriftFinding[];
  irrevocableLeases: IrrevocableLease[];
  breakGlass: BreakGlassUse[];
  /** Creation times of each secret's versions made by a break-glass follow-up. */
  breakGlassVersions: Record<string, number[]>;
  options?: {
    /** Extra time past a rotation period before a secret counts as overdue (default: 10% of the period, at most 1h). */
    rotationToleranceMs?: number;
    /** How long after an access ends the revoker has to request its follow-up (default 5 min). */
    followUpGraceMs?: number;
    /** How far back settled things (removed copies, completed follow-ups) are still listed (default 30 days). */
    historyMs?: number;
  };
}

export interface BreakGlassSecretFollowUp {
  secret: string;
  state: 'rotated' | 'pending' | 'overdue' | 'never-requested' | 'not-yet-due';
  attempts: number;
  rotatedAt?: string;
}

const DAY = 86_400_000;
const SEVERITY_ORDER: Record<Severity, number> = { high: 0, medium: 1, low: 2 };
const KINDS: FindingKind[] = ['rotation-overdue', 'irrevocable-lease', 'drift', 'manual-copy', 'break-glass', 'ttl-above-ceiling'];
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
const days = (ms: number) => Math.round((ms / DAY) * 100) / 100;
const EXACT_UNITS: [number, string][] = [
  [DAY, 'd'],
  [3_600_000, 'h'],
  [60_000, 'm'],
  [1000, 's'],
];
/** A duration for people: a catalog duration as written (1h, 30d), anything else rounded (61s, 26h, 3.5d). */
export const humanDuration = (ms: number): string => {
  const exact = EXACT_UNITS.find(([unit]) => ms > 0 && ms % unit === 0);
  if (exact) return `${ms / exact[0]}${exact[1]}`;
  return ms < 120_000
    ? `${Math.round(ms / 1000)}s`
    : ms < 2 * 3_600_000
      ? `${Math.round(ms / 60_000)}m`
      : ms < 2 * DAY
        ? `${Math.round((ms / 3_600_000) * 10) / 10}h`
        : `${days(ms)}d`;
};

export function assessPosture(input: PostureInput): PostureReport {
  const owners = new Map(input.catalog.managedSecrets.map((secret) => [secret.name, secret.owner]));
  const roleOwners = new Map(input.catalog.roles.map((role) => [role.name, role.owner]));
  const findings: Finding[] = [];
  const add = (finding: Omit<Finding, 'references'> & { references?: Reference[] }) =>
    findings.push({ ...finding, references: finding.references ?? [...FindingReferences[finding.kind]] });
  const historyFrom = input.now - (input.options?.historyMs ?? 30 * DAY);

  const rotationAge = rotation(input, add);
  ttlAboveCeiling(input, add);

  for (const lease of input.irrevocableLeases) {
    const workload = `${lease.workload.namespace ?? '?'}/${lease.workload.serviceAccount ?? '?'}`;
    add({
      kind: 'irrevocable-lease',
      severity: 'high',
      subject: lease.leaseId,
      owner: lease.owner ?? (lease.role ? roleOwners.get(lease.role) : undefined),
      message: `lease ${lease.leaseId} (role ${lease.role ?? '?'}, ${workload}) could not be revoked at its backend after ${lease.revocationAttempts ?? '?'} attempts: the credential may still work`,
      details: {
        leaseId: lease.leaseId,
        role: lease.role,
        workload: lease.workload,
        expiresAt: iso(lease.expiresAt),
        revocationAttempts: lease.revocationAttempts,
        reportedAt: iso(lease.reportedAt),
      },
    });
  }

  for (const drift of input.drifts.filter((finding) => finding.open)) {
    // A retired value still in place, or a copy nobody accounts for, is a live leak; an edit or a deletion is not.
    const severity: Severity =
      drift.drift === 'retired-version' || drift.drift === 'unaccounted' ? 'high' : drift.drift === 'edited' ? 'medium' : 'low';
    add({
      kind: 'drift',
      severity,
      subject: drift.locator,
      owner: drift.secret ? owners.get(drift.secret) : undefined,
      message: `${drift.drift} at ${drift.locator} (${drift.target.kind} ${drift.target.name})${drift.secret ? ` for secret ${drift.secret}${drift.version ? ` version ${drift.version}` : ''}` : ''}, open since ${iso(drift.foundAt)}`,
      details: {
        locator: drift.locator,
        target: drift.target,
        drift: drift.drift,
        secret: drift.secret,
        version: drift.version,
        foundAt: iso(drift.foundAt),
      },
    });
  }

  for (const copy of input.discoveredCopies) {
    const removed = copy.state === 'removed';
    const lastSeen = Date.parse(copy.removedAt ?? copy.from ?? '') || input.now;
    if (removed && lastSeen < historyFrom) continue;
    const location = `${copy.target.kind.replace(/^discovered:/, '')} ${copy.locator}`;
    add({
      kind: 'manual-copy',
      severity: removed ? 'low' : 'high',
      subject: copy.secret,
      owner: copy.owner ?? owners.get(copy.secret),
      message: `a copy of secret ${copy.secret} version ${copy.version ?? '?'} outside the inventory at ${location}${removed ? ' (removed)' : ''}`,
      details: {
        secret: copy.secret,
        version: copy.version,
        location,
        kind: copy.target.kind.replace(/^discovered:/, ''),
        locator: copy.locator,
        form: copy.form,
        removed,
        discoveredAt: copy.from,
        removedAt: copy.removedAt,
      },
    });
  }

  for (const use of input.breakGlass) breakGlass(input, use, owners, historyFrom, add);

  findings.sort(
    (a, b) =>
      SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity] ||
      KINDS.indexOf(a.kind) - KINDS.indexOf(b.kind) ||
      a.subject.localeCompare(b.subject),
  );
  const bySeverity: Record<Severity, number> = { high: 0, medium: 0, low: 0 };
  const byKind = Object.fromEntries(KINDS.map((kind) => [kind, 0])) as Record<FindingKind, number>;
  for (const finding of findings) {
    bySeverity[finding.severity] += 1;
    byKind[finding.kind] += 1;
  }
  const secrets = [...new Set([...input.catalog.managedSecrets.map((secret) => secret.name), ...Object.keys(input.copies)])].sort();
  return {
    generatedAt: new Date(input.now).toISOString(),
    summary: { findings: findings.length, bySeverity, byKind },
    findings,
    charts: {
      rotationAge,
      copies: secrets.map((secret) => {
        const live = (input.copies[secret] ?? []).filter((copy) => copy.state !== 'removed' && copy.state !== 'failed');
        // A drift finding where rotor never delivered (unaccounted) is a copy outside the inventory too.
        const outside = live.filter(
          (copy) => copy.origin === 'discovered' || (copy.state === 'drifted' && copy.deliveredAt === undefined),
        ).length;
        return { secret, delivered: live.length - outside, outside };
      }),
    },
  };
}

type Add = (finding: Omit<Finding, 'references'> & { references?: Reference[] }) => void;

function rotation(input: PostureInput, add: Add): PostureReport['charts']['rotationAge'] {
  return input.catalog.managedSecrets.map((secret) => {
    const current = (input.versions[secret.name] ?? []).find((version) => version.state === 'current');
    const createdAt = current?.createdAt ? Date.parse(current.createdAt) : undefined;
    const tolerance = input.options?.rotationToleranceMs ?? Math.min(secret.rotationPeriodMs * 0.1, 3_600_000);
    const age = createdAt === undefined ? undefined : input.now - createdAt;
    const overdue = age === undefined || age > secret.rotationPeriodMs + tolerance;
    if (overdue) {
      add({
        kind: 'rotation-overdue',
        severity: age !== undefined && age > 2 * secret.rotationPeriodMs ? 'high' : 'medium',
        subject: secret.name,
        owner: secret.owner,
        message:
          age === undefined
            ? `secret ${secret.name} has no current version (rotation period ${humanDuration(secret.rotationPeriodMs)})`
            : `secret ${secret.name} version ${current!.version} is ${humanDuration(age)} old; its rotation period is ${humanDuration(secret.rotationPeriodMs)}`,
        details: {
          secret: secret.name,
          version: current?.version,
          createdAt: current?.createdAt,
          ageMs: age,
          rotationPeriodMs: secret.rotationPeriodMs,
        },
      });
    }
    return {
      secret: secret.name,
      owner: secret.owner,
      ageDays: age === undefined ? undefined : days(age),
      periodDays: days(secret.rotationPeriodMs),
      overdue,
    };
  });
}

function ttlAboveCeiling(input: PostureInput, add: Add): void {
  const ceiling = input.catalog.maxTtlCeilingMs;
  if (ceiling === undefined) return;
  for (const role of input.catalog.roles) {
    const above = [
      role.ttlMs > ceiling ? `ttl ${humanDuration(role.ttlMs)}` : undefined,
      role.maxTtlMs > ceiling ? `maxTtl ${humanDuration(role.maxTtlMs)}` : undefined,
    ].filter(Boolean);
    if (above.length === 0) continue;
    add({
      kind: 'ttl-above-ceiling',
      severity: 'medium',
      subject: role.name,
      owner: role.owner,
      message: `role ${role.name}: ${above.join(' and ')} above the policy ceiling of ${humanDuration(ceiling)}`,
      details: { role: role.name, ttlMs: role.ttlMs, maxTtlMs: role.maxTtlMs, maxTtlCeilingMs: ceiling },
    });
  }
}

function breakGlass(input: PostureInput, use: BreakGlassUse, owners: Map<string, string>, historyFrom: number, add: Add): void {
  const end = Math.min(use.endedAt ?? Infinity, use.expiresAt ?? Infinity);
  const ended = end <= input.now;
  const grace = input.options?.followUpGraceMs ?? 300_000;
  const perSecret: BreakGlassSecretFollowUp[] = use.secrets.map((secret) => {
    const followUp = use.followUp[secret] ?? {};
    const rotatedAt = ended ? (input.breakGlassVersions[secret] ?? []).filter((at) => at >= end).sort((a, b) => a - b)[0] : undefined;
    const attempts = followUp.attempts ?? 0;
    const state: BreakGlassSecretFollowUp['state'] =
      rotatedAt !== undefined
        ? 'rotated'
        : !ended
          ? 'not-yet-due'
          : attempts > 1
            ? 'overdue'
            : attempts === 1
              ? 'pending'
              : input.now > end + grace
                ? 'never-requested'
                : 'pending';
    return { secret, state, attempts, rotatedAt: iso(rotatedAt) };
  });
  const states = new Set(perSecret.map((secret) => secret.state));
  const state: FollowUpState = !ended
    ? 'active'
    : states.has('never-requested')
      ? 'never-requested'
      : states.has('overdue')
        ? 'overdue'
        : states.has('pending')
          ? 'pending'
          : 'completed';
  if (state === 'completed' && end < historyFrom) return;
  const severity: Severity = state === 'completed' ? 'low' : state === 'overdue' || state === 'never-requested' ? 'high' : 'medium';
  const secretOwners = [...new Set(use.secrets.map((secret) => owners.get(secret)).filter((owner): owner is string => !!owner))];
  const followUpText: Record<FollowUpState, string> = {
    active: 'access still open',
    completed: 'every exposed secret rotated since',
    pending: 'follow-up rotation requested, not yet done',
    overdue: 'follow-up rotation overdue and requested again',
    'never-requested': 'no follow-up rotation was requested',
  };
  add({
    kind: 'break-glass',
    severity,
    subject: use.id,
    owner: secretOwners.join(', ') || undefined,
    message: `break-glass by ${use.actor} (ticket ${use.ticket}: ${use.reason}) on ${use.secrets.join(', ') || `role ${use.role ?? '?'}`}, ${ended ? `ended ${iso(end)}` : `until ${iso(end)}`}: ${followUpText[state]}`,
    details: {
      id: use.id,
      actor: use.actor,
      ticket: use.ticket,
      reason: use.reason,
      role: use.role,
      secrets: use.secrets,
      usedAt: iso(use.usedAt),
      expiresAt: iso(use.expiresAt),
      endedEarlyAt: iso(use.endedAt),
      followUp: state,
      perSecret,
    },
    references:
      state === 'completed' || state === 'active'
        ? undefined
        : [...FindingReferences['break-glass'], References.longLivedSecrets, References.identitiesManaged],
  });
}
