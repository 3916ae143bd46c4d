import { createHash } from 'node:crypto';

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

/** How a merged field combines with what the hash holds (see {@link HASH_MERGE_SCRIPT}). */
export type MergeOp = 'set' | 'min' | 'max' | 'latest';
export type MergeRule = [MergeOp, string | number];
/** Fields to merge, each with its rule; an undefined rule leaves the field alone. */
export type MergeFields = Record<string, MergeRule | undefined>;

/** Merges fields into the hash at `key`, each by its rule, with {@link HASH_MERGE_SCRIPT}. */
export const merge = (key: string, fields: MergeFields): ViewCommand => {
  const args: (string | number)[] = [];
  for (const [field, rule] of Object.entries(fields)) if (rule) args.push(rule[0], field, String(rule[1]));
  return ['evalsha', HASH_MERGE_SHA, 1, key, ...args];
};
/** ZADD LT: a member keeps its earliest score. */
export const indexEarliest = (key: string, score: number, member: string): ViewCommand => ['zadd', key, 'LT', score, member];

/** A rule for a value the event may lack. */
export const opt = (op: MergeOp, value: string | number | undefined): MergeRule | undefined =>
  value === undefined ? undefined : [op, value];
/** The newest value wins: stamped with its time (`<ms>|value`). */
export const latest = (at: number, value: string | undefined): MergeRule | undefined =>
  value === undefined ? undefined : ['latest', `${at}|${value}`];
