import { createHash } from 'node:crypto';

import { Topics, type AuditRecord } from '@rotor/contracts';

import { postureCommands } from './posture-projection';
import { ViewKeys } from './view-keys';

/** A raw Redis command (`['zadd', key, …]`), so the projection stays pure and any client can run it. */
export type ViewCommand = [string, ...(string | number)[]];

/**
 * Merges fields into a hash, each by its own rule, so that applying records in any order
 * across chains, or the same record twice, ends in the same state:
 * `set` (a fact every event states alike), `min`/`max` (epoch ms), `latest` ("<ms>|value": the newest wins).
 */
export const HASH_MERGE_SCRIPT = `
for i = 1, #ARGV, 3 do
  local op, field, value = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if op == 'set' then
    redis.call('HSET', KEYS[1], field, value)
  else
    local current = redis.call('HGET', KEYS[1], field)
    local newer
    if not current then newer = true
    elseif op == 'max' then newer = tonumber(value) > tonumber(current)
    elseif op == 'min' then newer = tonumber(value) < tonumber(current)
    else
      local t, tc = tonumber(string.match(value, '^(%d+)|')), tonumber(string.match(current, '^(%d+)|'))
      newer = t > tc or (t == tc and value > current)
    end
    if newer then redis.call('HSET', KEYS[1], field, value) end
  end
end
return 1`;

/** Moves a chain head forward, never back: a late or repeated record cannot rewind it. */
export const HEAD_ADVANCE_SCRIPT = `
local seq = redis.call('HGET', KEYS[1], 'seq')
if seq and tonumber(seq) >= tonumber(ARGV[1]) then
  if redis.call('HGET', KEYS[1], 'pendingHash') == ARGV[2] then redis.call('HDEL', KEYS[1], 'pendingFirst', 'pendingHash', 'pendingOffset') end
  return 0
end
redis.call('HSET', KEYS[1], 'seq', ARGV[1], 'hash', ARGV[2], 'sourceOffset', ARGV[3])
redis.call('HDEL', KEYS[1], 'pendingFirst', 'pendingHash', 'pendingOffset')
return 1`;

/** The scripts by SHA-1: commands run them with EVALSHA (the body is ~0.5 KB per call otherwise); load them with {@link SCRIPT_LOADS} first. */
const sha1 = (text: string) => createHash('sha1').update(text).digest('hex');
export const HASH_MERGE_SHA = sha1(HASH_MERGE_SCRIPT);
export const HEAD_ADVANCE_SHA = sha1(HEAD_ADVANCE_SCRIPT);
/** Run these before the commands (again after a NOSCRIPT error: a restarted Redis forgets scripts). */
export const SCRIPT_LOADS: ViewCommand[] = [
  ['script', 'load', HASH_MERGE_SCRIPT],
  ['script', 'load', HEAD_ADVANCE_SCRIPT],
];

type MergeOp = 'set' | 'min' | 'max' | 'latest';
type Fields = Record<string, [MergeOp, string | number] | undefined>;

const SEEN_TTL_SECONDS = 30 * 86_400;

const merge = (key: string, fields: Fields): ViewCommand => {
  const args: (string | number)[] = [];
  for (const [field, rule] of Object.entries(fields)) if (rule) args.push(rule[0], field, String(rule[1]));
  return ['evalsha', HASH_MERGE_SHA, 1, key, ...args];
};
/** ZADD LT: a member keeps its earliest score. */
const indexEarliest = (key: string, score: number, member: string): ViewCommand => ['zadd', key, 'LT', score, member];

const ms = (iso: unknown): number | undefined => (typeof iso === 'string' && !Number.isNaN(Date.parse(iso)) ? Date.parse(iso) : undefined);
const opt = (op: MergeOp, value: string | number | undefined): [MergeOp, string | number] | undefined =>
  value === undefined ? undefined : [op, value];
const latest = (at: number, value: string | undefined): [MergeOp, string] | undefined =>
  value === undefined ? undefined : ['latest', `${at}|${value}`];
const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const num = (value: unknown): number | undefined => (typeof value === 'number' ? value : undefined);
const obj = (value: unknown): Record<string, unknown> =>
  typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};

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
  if (record.known) commands.push(...postureCommands(record.eventType, obj(record.event['data']), at, record.eventId));
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
  const fields: Fields = {
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
  const fields: Fields = { secret: ['set', secret], version: ['set', version], gsmVersion: opt('set', str(d['gsmVersion'])) };
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
  const fields: Fields = {
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
