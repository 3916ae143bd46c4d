import type { HashFields } from './inventory';

/**
 * What the projection asks of the view store, independent of the store (PostgreSQL in the
 * auditor, memory in unit tests). Every operation is idempotent and commutes with those of
 * other records, so applying records in any order, or the same record twice, ends in the same
 * state: the live views and a rebuild from the audit topic are equal.
 *
 * - `merge`: fields merged into the entity `key` (kind:id), each by its own rule.
 * - `member`: `member` in the sorted set `set` with `score`; `earliest` keeps the lowest score
 *   (a thing's first time), `assign` the score given (a fixed value, such as a version number).
 */
export type ViewOp =
  | { op: 'merge'; key: string; fields: MergeFields }
  | { op: 'member'; set: string; member: string; score: number; keep: 'earliest' | 'assign' };

/**
 * How a merged field combines with what the entity holds: `set` (a fact every event states
 * alike), `min`/`max` (epoch ms or counts), `latest` ("<ms>|value": the newest wins, ties by value).
 */
export type MergeOp = 'set' | 'min' | 'max' | 'latest';
export type MergeRule = [MergeOp, string | number];
/** Fields to merge, each with its rule; an undefined rule leaves the field alone. */
export type MergeFields = Record<string, MergeRule | undefined>;

export const merge = (key: string, fields: MergeFields): ViewOp => ({ op: 'merge', key, fields });
/** A member keeps its earliest score. */
export const indexEarliest = (set: string, score: number, member: string): ViewOp => ({
  op: 'member',
  set,
  member,
  score,
  keep: 'earliest',
});
export const indexAt = (set: string, score: number, member: string): ViewOp => ({ op: 'member', set, member, score, keep: 'assign' });

/** A rule for a value the event may lack. */
export const opt = (op: MergeOp, value: string | number | undefined): MergeRule | undefined =>
  value === undefined ? undefined : [op, value];
/** The newest value wins: stamped with its time (`<ms>|value`). */
export const latest = (at: number, value: string | undefined): MergeRule | undefined =>
  value === undefined ? undefined : ['latest', `${at}|${value}`];

const stamp = (value: string): number => Number(value.slice(0, value.indexOf('|')));
/** Byte order, as every store compares (never a locale's collation). */
const after = (a: string, b: string): boolean => Buffer.compare(Buffer.from(a), Buffer.from(b)) > 0;

/** The entity's fields after merging `fields` in by their rules (pure: `current` is not changed). */
export function mergeFields(current: HashFields, fields: MergeFields): HashFields {
  const next: HashFields = { ...current };
  for (const [field, rule] of Object.entries(fields)) {
    if (!rule) continue;
    const [op, raw] = rule;
    const value = String(raw);
    const held = next[field];
    const newer =
      held === undefined ||
      op === 'set' ||
      (op === 'max' && Number(value) > Number(held)) ||
      (op === 'min' && Number(value) < Number(held)) ||
      (op === 'latest' && (stamp(value) > stamp(held) || (stamp(value) === stamp(held) && after(value, held))));
    if (newer) next[field] = value;
  }
  return next;
}

/** Two rule sets as one, as if applied one after the other (rules of one field agree across events). */
export function combineFields(a: MergeFields, b: MergeFields): MergeFields {
  const combined: MergeFields = { ...a };
  for (const [field, rule] of Object.entries(b)) {
    if (!rule) continue;
    const held = combined[field];
    if (!held) {
      combined[field] = rule;
      continue;
    }
    const merged = mergeFields({ [field]: String(held[1]) }, { [field]: rule })[field]!;
    combined[field] = [rule[0], merged];
  }
  return combined;
}
