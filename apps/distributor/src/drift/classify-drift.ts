import type { Observation } from '../targets/target-writer';

export type DriftKind = 'unaccounted' | 'edited' | 'retired-version' | 'missing';

/** What the distributor believes a target holds. */
export interface Expected {
  version: number;
  contentHash: string;
}

/**
 * Compares what is at a declared target with what the distributor put there. Pure, so the
 * rules are tested without a cluster: a copy deleted by hand is missing; content whose keyed
 * hash differs from the one recorded is edited; a retired version still in place is
 * retired-version; rotor-labelled content rotor has no record of is unaccounted. Content
 * that is not rotor's (no label) is never called drift: rotor refuses to write there.
 */
export function classifyDrift(
  expected: Expected | undefined,
  observed: Observation,
  isRetired: (version: number) => boolean,
): DriftKind | undefined {
  if (observed.kind === 'missing') return expected ? 'missing' : undefined;
  if (!observed.managedByRotor) return undefined;
  if (observed.version !== undefined && isRetired(observed.version)) return 'retired-version';
  if (!expected) return 'unaccounted';
  if (observed.actualHash !== expected.contentHash) return 'edited';
  if (observed.recordedHash !== undefined && observed.recordedHash !== observed.actualHash) return 'edited';
  if (observed.version !== undefined && observed.version !== expected.version) return 'edited';
  return undefined;
}
