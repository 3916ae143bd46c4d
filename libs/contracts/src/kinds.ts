import { z } from 'zod';

/**
 * The kinds of dynamic-credential backend and of delivery target: each listed here once.
 * The catalog schema, the backend registry, the delivery queues, config and readiness are
 * typed against these lists, so a kind added here and nowhere else fails to compile at each
 * place that still has to handle it (docs/extending.md).
 */
export const BackendKindSchema = z.enum(['opaque-token', 'postgres', 'redis-acl']);
export type BackendKind = z.infer<typeof BackendKindSchema>;

export const TargetKindSchema = z.enum(['kubernetes-secret', 'file', 'webhook']);
export type TargetKind = z.infer<typeof TargetKindSchema>;

/** One value per kind, in the list's order (e.g. a schedule per target kind). */
export function byKind<K extends string, V>(kinds: readonly K[], valueFor: (kind: K) => V): Record<K, V> {
  const record = {} as Record<K, V>;
  for (const kind of kinds) record[kind] = valueFor(kind);
  return record;
}

/** `true` when two unions of kinds are the same set: used in compile-time checks that a per-kind list covers exactly the kinds. */
export type SameKinds<A extends string, B extends string> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** Compiles only for `true`: `type _Check = AssertTrue<SameKinds<A, B>>`. */
export type AssertTrue<T extends true> = T;
