import { createHash } from 'node:crypto';

import { Topics, type AuditRecord } from '@rotor/contracts';

import { ms, num, obj, str } from './event-fields';
import { postureCommands } from './posture-projection';
import { HEAD_ADVANCE_SHA, indexEarliest, latest, merge, opt, type MergeFields, type ViewCommand } from './view-commands';
import { ViewKeys } from './view-keys';

const SEEN_TTL_SECONDS = 30 * 86_400;

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

/**
 * The one projection of an audit record into the query views. The live auditor runs it after
 * each append and `rotor audit replay --rebuild` runs it over the topic, so both build the same
 * views. Every command is idempotent and commutes with those of other records.
 */
export function projectRecord(record: AuditRecord): ViewCommand[] {
  const ref = recordRef(record);
  const at = ms(record.event['time']) ?? Date.parse(record.recordedAt);
  const commands: ViewCommand[] = [
    ['set', ViewKeys.seen(record.eventId), ref, 'EX', SEEN_TTL_SECONDS],
    ['set', ViewKeys.record(ref), JSON.stringify(record)],
    ['zadd', ViewKeys.eventIndex('all'), at, ref],
  ];
  const index = eventIndexKeys(record);
  index.leases.forEach((lease) => commands.push(['zadd', ViewKeys.eventIndex('lease', lease), at, ref]));
  index.workloads.forEach((workload) => commands.push(['zadd', ViewKeys.eventIndex('workload', workload), at, ref]));
  index.secrets.forEach((secret) => commands.push(['zadd', ViewKeys.eventIndex('secret', secret), at, ref]));
  index.actors.forEach((actor) => commands.push(['zadd', ViewKeys.eventIndex('actor', actor), at, ref]));
  if (record.known) commands.push(...inventoryCommands(record.eventType, obj(record.event['data']), at));
  if (record.known) commands.push(...postureCommands({ type: record.eventType, data: obj(record.event['data']), id: record.eventId }, at));
  return commands;
}

/** Advances the record's chain head (also run by the rebuild, so a rebuilt Redis continues the chains). */
export const headCommand = (record: AuditRecord): ViewCommand => [
  'evalsha',
  HEAD_ADVANCE_SHA,
  1,
  ViewKeys.head(record.chain),
  record.seq,
  record.hash,
  record.sourceOffset,
];

function inventoryCommands(type: string, d: Record<string, unknown>, at: number): ViewCommand[] {
  switch (type) {
    case Topics.leaseIssued:
    case Topics.leaseRenewed:
    case Topics.leaseRevoked:
      return leaseCommands(type, d, at);
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
      return versionCommands(type, d, at);
    case Topics.deliveryCompleted:
    case Topics.deliveryRemoved:
    case Topics.deliveryFailed:
    case Topics.deliveryDriftDetected:
      return copyCommands(type, d, at);
    case Topics.copyDiscovered:
      return discoveredCopyCommands(d, at);
    default:
      return [];
  }
}

function leaseCommands(type: string, d: Record<string, unknown>, at: number): ViewCommand[] {
  const leaseId = str(d['leaseId']);
  if (!leaseId) return [];
  const workload = obj(d['workload']);
  const workloadKey = `${str(workload['namespace'])}/${str(workload['serviceAccount'])}`;
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
  // A renewal or revocation read before its issue event still places the lease in time.
  const start = ms(d['issuedAt']) ?? ms(d['renewedAt']) ?? ms(d['revokedAt']) ?? at;
  if (type === Topics.leaseIssued) fields['issuedAt'] = opt('min', ms(d['issuedAt']));
  if (type === Topics.leaseRenewed) fields['renewedAt'] = opt('max', ms(d['renewedAt']));
  if (type === Topics.leaseRevoked) {
    fields['revokedAt'] = opt('min', ms(d['revokedAt']));
    fields['revokeReason'] = opt('set', str(d['reason']));
  }
  return [
    merge(ViewKeys.lease(leaseId), fields),
    indexEarliest(ViewKeys.leases, start, leaseId),
    indexEarliest(ViewKeys.workloadLeases(workloadKey), start, leaseId),
  ];
}

function versionCommands(type: string, d: Record<string, unknown>, at: number): ViewCommand[] {
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
    ['zadd', ViewKeys.secretVersions(secret), version, String(version)],
    indexEarliest(ViewKeys.versions, start, `${secret}|${version}`),
    indexEarliest(ViewKeys.secrets, start, secret),
  ];
}

function copyCommands(type: string, d: Record<string, unknown>, at: number): ViewCommand[] {
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

function discoveredCopyCommands(d: Record<string, unknown>, at: number): ViewCommand[] {
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
