import { createHash } from 'node:crypto';

import { Topics, type AuditRecord } from '@rotor/contracts';

import { ms, num, obj, str } from './event-fields';
import { postureOps } from './posture-projection';
import { indexAt, indexEarliest, latest, merge, opt, type MergeFields, type ViewOp } from './view-ops';
import { ViewKeys } from './view-keys';

export const recordRef = (record: Pick<AuditRecord, 'chain' | 'seq'>): string => `${record.chain}|${record.seq}`;

/** A copy is one (secret, target, locator, version): a version written in place over another is a new copy. */
export const copyId = (identity: {
  secret: string;
  targetKind: string;
  targetName: string;
  locator: string;
  version: number | string;
}): string =>
  createHash('sha256')
    .update(JSON.stringify([identity.secret, identity.targetKind, identity.targetName, identity.locator, String(identity.version)]))
    .digest('hex')
    .slice(0, 32);

/** What an audit record indexes the event timeline by. */
export function eventIndexKeys(record: AuditRecord): { leases: string[]; workloads: string[]; secrets: string[]; actors: string[] } {
  const leases = new Set<string>();
  const workloads = new Set<string>();
  const secrets = new Set<string>();
  const actors = new Set<string>();
  if (record.known) {
    const data = obj(record.event['data']);
    const addWorkload = (value: unknown) => {
      const w = obj(value);
      if (typeof w['namespace'] === 'string' && typeof w['serviceAccount'] === 'string')
        workloads.add(`${w['namespace']}/${w['serviceAccount']}`);
    };
    const addActor = (value: unknown) => {
      const actor = obj(value);
      addWorkload(actor['workload']);
      if (actor['kind'] === 'operator' && typeof actor['subject'] === 'string') actors.add(actor['subject']);
    };
    const subject = obj(data['subject']);
    for (const lease of [data['leaseId'], subject['leaseId']]) if (typeof lease === 'string') leases.add(lease);
    for (const secret of [data['secret'], subject['secret']]) if (typeof secret === 'string') secrets.add(secret);
    if (Array.isArray(data['secrets'])) data['secrets'].filter((s): s is string => typeof s === 'string').forEach((s) => secrets.add(s));
    addWorkload(data['workload']);
    addActor(data['actor']);
    addActor(data['requestedBy']);
  }
  return { leases: [...leases], workloads: [...workloads], secrets: [...secrets], actors: [...actors] };
}

/** The time an audit record is indexed under: its event's time, else when it was recorded (epoch ms). */
export const recordTime = (record: AuditRecord): number => ms(record.event['time']) ?? Date.parse(record.recordedAt);

/**
 * The one projection of an audit record into the inventory and posture views. The live auditor
 * runs it after each append and `rotor audit replay --rebuild` runs it over the topic, so both
 * build the same views. Every operation is idempotent and commutes with those of other records.
 * (The record itself, its timeline index and its dedupe mark are the store's: see eventIndexKeys.)
 */
export function projectRecord(record: AuditRecord): ViewOp[] {
  if (!record.known) return [];
  const at = recordTime(record);
  const data = obj(record.event['data']);
  return [...inventoryOps(record.eventType, data, at), ...postureOps({ type: record.eventType, data, id: record.eventId }, at)];
}

function inventoryOps(type: string, d: Record<string, unknown>, at: number): ViewOp[] {
  switch (type) {
    case Topics.leaseIssued:
    case Topics.leaseRenewed:
    case Topics.leaseRevoked:
      return leaseOps(type, d);
    case Topics.revocationFailed: {
      const leaseId = str(d['leaseId']);
      if (!leaseId) return [];
      return [
        merge(ViewKeys.lease(leaseId), {
          leaseId: ['set', leaseId],
          revocationAttempts: opt('max', num(d['attempt'])),
          irrevocable: latest(at, String(d['irrevocable'])),
        }),
      ];
    }
    case Topics.secretVersionCreated:
    case Topics.secretVersionRetired:
      return versionOps(type, d, at);
    case Topics.deliveryCompleted:
    case Topics.deliveryRemoved:
    case Topics.deliveryFailed:
    case Topics.deliveryDriftDetected:
      return copyOps(type, d, at);
    case Topics.copyDiscovered:
      return discoveredCopyOps(d, at);
    default:
      return [];
  }
}

function leaseOps(type: string, d: Record<string, unknown>): ViewOp[] {
  const leaseId = str(d['leaseId']);
  if (!leaseId) return [];
  const workload = obj(d['workload']);
  const fields: MergeFields = {
    leaseId: ['set', leaseId],
    role: opt('set', str(d['role'])),
    owner: opt('set', str(d['owner'])),
    backend: opt('set', str(d['backend'])),
    namespace: opt('set', str(workload['namespace'])),
    serviceAccount: opt('set', str(workload['serviceAccount'])),
    podName: opt('set', str(workload['podName'])),
    task: opt('set', str(d['task'])),
    expiresAt: opt('max', ms(d['expiresAt'])),
    maxExpiresAt: opt('max', ms(d['maxExpiresAt'])),
  };
  if (type === Topics.leaseIssued) fields['issuedAt'] = opt('min', ms(d['issuedAt']));
  if (type === Topics.leaseRenewed) fields['renewedAt'] = opt('max', ms(d['renewedAt']));
  if (type === Topics.leaseRevoked) {
    fields['revokedAt'] = opt('min', ms(d['revokedAt']));
    fields['revokeReason'] = opt('set', str(d['reason']));
  }
  // No set of leases by workload or time: the store indexes a lease's lifetime and workload (liveSpan).
  return [merge(ViewKeys.lease(leaseId), fields)];
}

function versionOps(type: string, d: Record<string, unknown>, at: number): ViewOp[] {
  const secret = str(d['secret']);
  const version = num(d['version']);
  if (!secret || version === undefined) return [];
  const fields: MergeFields = { secret: ['set', secret], version: ['set', version], gsmVersion: opt('set', str(d['gsmVersion'])) };
  if (type === Topics.secretVersionCreated) {
    fields['owner'] = opt('set', str(d['owner']));
    fields['createdAt'] = opt('min', ms(d['createdAt']));
    fields['reason'] = opt('set', str(d['reason']));
  } else {
    fields['retiredAt'] = opt('min', ms(d['retiredAt']));
    fields['retireReason'] = opt('set', str(d['reason']));
  }
  const start = ms(d['createdAt']) ?? ms(d['retiredAt']) ?? at;
  return [
    merge(ViewKeys.version(secret, version), fields),
    indexAt(ViewKeys.secretVersions(secret), version, String(version)),
    indexEarliest(ViewKeys.versions, start, `${secret}|${version}`),
    indexEarliest(ViewKeys.secrets, start, secret),
  ];
}

function copyOps(type: string, d: Record<string, unknown>, at: number): ViewOp[] {
  const target = obj(d['target']);
  const secret = str(d['secret']) ?? '';
  const identity = {
    secret,
    targetKind: str(target['kind']) ?? '',
    targetName: str(target['name']) ?? '',
    // delivery.failed has no locator: a failure is recorded per (target, version).
    locator: str(d['locator']) ?? '',
    version: num(d['version']) ?? '',
  };
  const id = copyId(identity);
  const fields: MergeFields = {
    secret: ['set', identity.secret],
    targetKind: ['set', identity.targetKind],
    targetName: ['set', identity.targetName],
    locator: ['set', identity.locator],
    version: ['set', identity.version],
    origin: ['set', 'delivery'],
  };
  let start = at;
  if (type === Topics.deliveryCompleted) {
    start = ms(d['deliveredAt']) ?? at;
    fields['deliveredAt'] = ['min', start];
    fields['lastDeliveredAt'] = ['max', start];
    fields['contentHash'] = opt('set', str(d['contentHash']));
  } else if (type === Topics.deliveryRemoved) {
    fields['removedAt'] = opt('max', ms(d['removedAt']) ?? at);
    fields['removeReason'] = latest(ms(d['removedAt']) ?? at, str(d['reason']) ?? 'unspecified');
  } else if (type === Topics.deliveryFailed) {
    fields['failedAt'] = ['max', at];
    fields['failure'] = latest(at, `attempt ${num(d['attempt']) ?? '?'}: ${str(d['reason']) ?? ''}`);
  } else {
    fields['driftAt'] = ['max', at];
    fields['drift'] = latest(at, `${str(d['drift']) ?? 'unknown'}${d['repaired'] === true ? ' (repaired)' : ''}`);
  }
  return [
    merge(ViewKeys.copy(id), fields),
    indexEarliest(ViewKeys.secretCopies(secret), start, id),
    indexEarliest(ViewKeys.copies, start, id),
  ];
}

function discoveredCopyOps(d: Record<string, unknown>, at: number): ViewOp[] {
  const secret = str(d['secret']);
  const version = num(d['version']);
  if (!secret || version === undefined) return [];
  const location = obj(d['location']);
  const locator = ['namespace', 'name', 'key', 'path', 'line']
    .filter((part) => location[part] !== undefined)
    .map((part) => `${part}=${String(location[part])}`)
    .join(',');
  const identity = { secret, targetKind: `discovered:${str(location['kind']) ?? 'unknown'}`, targetName: '', locator, version };
  const id = copyId(identity);
  const discoveredAt = ms(d['discoveredAt']) ?? at;
  return [
    merge(ViewKeys.copy(id), {
      secret: ['set', secret],
      targetKind: ['set', identity.targetKind],
      targetName: ['set', ''],
      locator: ['set', locator],
      version: ['set', version],
      origin: ['set', 'discovered'],
      owner: opt('set', str(d['owner'])),
      form: opt('set', str(d['form'])),
      discoveredAt: ['min', discoveredAt],
      lastDiscoveredAt: ['max', discoveredAt],
      // `copies: remove` in the catalog: the distributor removed it when it found it.
      removedAt: d['removed'] === true ? ['max', discoveredAt] : undefined,
      removeReason: d['removed'] === true ? latest(discoveredAt, 'removed-on-discovery') : undefined,
    }),
    indexEarliest(ViewKeys.secretCopies(secret), discoveredAt, id),
    indexEarliest(ViewKeys.copies, discoveredAt, id),
    indexEarliest(ViewKeys.discoveredCopies, discoveredAt, id),
  ];
}
