import { Topics } from '@rotor/contracts';

import { ms, nonEmptyStr, num, obj } from './event-fields';
import { indexAt, indexEarliest, merge, type ViewOp } from './view-ops';
import { ViewKeys } from './view-keys';

/**
 * The part of the audit projection that keeps what the posture report and the owner views
 * read: open drift per locator, irrevocable leases, break-glass uses with their follow-up,
 * and owner indexes. Same rules as the rest of the projection: every operation is idempotent
 * and commutes with those of other records, so live views and `--rebuild` end up equal.
 */

/** The revoker's follow-up rotation ids: `<break-glass id>:<secret>:breakglass-rotation:<attempt>`. */
const FOLLOW_UP_ID = /^([0-9a-f-]{36}):([^:]+):breakglass-rotation:(\d+)$/;

/** Who acted, as recorded (an operator's subject is already a pseudonym in the audit record). */
export const actorLabel = (actor: Record<string, unknown>): string => {
  if (actor['kind'] === 'operator') return `operator ${nonEmptyStr(actor['subject']) ?? '?'}`;
  if (actor['kind'] === 'service') return `service ${nonEmptyStr(actor['service']) ?? '?'}`;
  const workload = obj(actor['workload']);
  return `workload ${nonEmptyStr(workload['namespace']) ?? '?'}/${nonEmptyStr(workload['serviceAccount']) ?? '?'}`;
};

/** The posture and owner views' operations for one known event (`at`: its time in epoch ms). */
export function postureOps(event: { type: string; data: Record<string, unknown>; id: string }, at: number): ViewOp[] {
  const { type, data: d, id: eventId } = event;
  switch (type) {
    case Topics.leaseIssued:
    case Topics.leaseRenewed:
    case Topics.leaseRevoked: {
      const leaseId = nonEmptyStr(d['leaseId']);
      const owner = nonEmptyStr(d['owner']);
      return leaseId && owner
        ? [indexEarliest(ViewKeys.ownerLeases(owner), ms(d['issuedAt']) ?? ms(d['renewedAt']) ?? ms(d['revokedAt']) ?? at, leaseId)]
        : [];
    }
    case Topics.revocationFailed: {
      const leaseId = nonEmptyStr(d['leaseId']);
      return leaseId && d['irrevocable'] === true ? [indexEarliest(ViewKeys.irrevocableLeases, at, leaseId)] : [];
    }
    case Topics.secretVersionCreated:
      return versionCreated(d, at);
    case Topics.deliveryDriftDetected:
    case Topics.deliveryCompleted:
    case Topics.deliveryRemoved:
      return driftOps(type, d, at);
    case Topics.breakglassUsed:
      return breakGlassUsed(d, at);
    case Topics.revocationRequested: {
      const subject = obj(d['subject']);
      const id = nonEmptyStr(subject['leaseId']);
      // An early end of a break-glass access; for an ordinary lease the hash is never indexed, and unread.
      return d['reason'] === 'breakglass-ended' && id ? [merge(ViewKeys.breakGlass(id), { id: ['set', id], endedAt: ['min', at] })] : [];
    }
    case Topics.rotationRequested: {
      const match = d['reason'] === 'breakglass' ? FOLLOW_UP_ID.exec(eventId) : null;
      if (!match) return [];
      const [, id, secret, attempt] = match as unknown as [string, string, string, string];
      return [
        merge(ViewKeys.breakGlass(id), {
          id: ['set', id],
          [`attempts:${secret}`]: ['max', Number(attempt)],
          [`requestedAt:${secret}`]: ['min', at],
          [`lastRequestedAt:${secret}`]: ['max', at],
        }),
      ];
    }
    default:
      return [];
  }
}

function versionCreated(d: Record<string, unknown>, at: number): ViewOp[] {
  const secret = nonEmptyStr(d['secret']);
  const version = num(d['version']);
  if (!secret || version === undefined) return [];
  const createdAt = ms(d['createdAt']) ?? at;
  const commands: ViewOp[] = [];
  const owner = nonEmptyStr(d['owner']);
  if (owner) commands.push(indexEarliest(ViewKeys.ownerSecrets(owner), createdAt, secret));
  if (d['reason'] === 'breakglass') commands.push(indexAt(ViewKeys.breakGlassVersions(secret), createdAt, String(version)));
  return commands;
}

/**
 * A drift finding stays open until a later write at its locator (a repair, or the next version)
 * or a removal there; a finding published as repaired is closed from the start. Deliveries at
 * locators that never drifted touch the hash only (the drift index lists only real findings).
 */
function driftOps(type: string, d: Record<string, unknown>, at: number): ViewOp[] {
  const locator = nonEmptyStr(d['locator']);
  if (!locator) return [];
  const target = obj(d['target']);
  if (type === Topics.deliveryCompleted) return [merge(ViewKeys.drift(locator), { writtenAt: ['max', ms(d['deliveredAt']) ?? at] })];
  if (type === Topics.deliveryRemoved) return [merge(ViewKeys.drift(locator), { writtenAt: ['max', ms(d['removedAt']) ?? at] })];
  const finding = JSON.stringify({
    drift: nonEmptyStr(d['drift']) ?? 'unknown',
    repaired: d['repaired'] === true,
    secret: nonEmptyStr(d['secret']),
    version: num(d['version']),
  });
  return [
    merge(ViewKeys.drift(locator), {
      locator: ['set', locator],
      targetKind: ['set', nonEmptyStr(target['kind']) ?? ''],
      targetName: ['set', nonEmptyStr(target['name']) ?? ''],
      firstFoundAt: ['min', at],
      finding: ['latest', `${at}|${finding}`],
    }),
    indexEarliest(ViewKeys.drifts, at, locator),
  ];
}

function breakGlassUsed(d: Record<string, unknown>, at: number): ViewOp[] {
  const id = nonEmptyStr(d['leaseId']);
  if (!id) return [];
  const secrets = Array.isArray(d['secrets']) ? d['secrets'].filter((s): s is string => typeof s === 'string') : [];
  return [
    merge(ViewKeys.breakGlass(id), {
      id: ['set', id],
      actor: ['set', actorLabel(obj(d['actor']))],
      ticket: ['set', nonEmptyStr(d['ticket']) ?? ''],
      reason: ['set', nonEmptyStr(d['reason']) ?? ''],
      role: nonEmptyStr(d['role']) ? ['set', nonEmptyStr(d['role'])!] : undefined,
      secrets: ['set', JSON.stringify(secrets)],
      usedAt: ['min', at],
      expiresAt: ms(d['expiresAt']) !== undefined ? ['max', ms(d['expiresAt'])!] : undefined,
    }),
    indexEarliest(ViewKeys.breakGlasses, at, id),
  ];
}
