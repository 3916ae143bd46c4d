import type { Target } from '@rotor/catalog';

/** A target of any kind, rotor's own or one a test adds (docs/extending.md). */
export type AnyTarget = { kind: string; name: string };

/** What a writer puts at a target: one version of one managed secret. */
export interface VersionCopy {
  secret: string;
  version: number;
  gsmVersion: string;
  /** Keyed hash of the value, recorded next to the copy so edits by hand are detectable. */
  contentHash: string;
  /** The value, for targets that hold it (Secrets, files); webhooks never send it. */
  value: Buffer;
}

export type WriteOutcome =
  /** The target now holds this version. */
  | { kind: 'written'; locator: string }
  /** The target already held exactly this version and content (a repeated job). */
  | { kind: 'unchanged'; locator: string }
  /** The target holds a newer version: this copy is not needed any more. */
  | { kind: 'superseded'; locator: string; heldVersion: number };

export type RemoveOutcome =
  | { kind: 'removed'; locator: string }
  /** Nothing of that version is at the target (already removed, or never written). */
  | { kind: 'absent'; locator: string }
  /** The target holds another version now; that one is not ours to remove. */
  | { kind: 'holds-other-version'; locator: string; heldVersion: number };

/** What is at a target now, for drift detection. */
export type Observation =
  | { kind: 'missing'; locator: string }
  | { kind: 'present'; locator: string; version?: number; recordedHash?: string; actualHash: string; managedByRotor: boolean };

/**
 * One kind of delivery target. Writes are idempotent and conditional (never a blind
 * overwrite), so a job repeated after a crash has the effect of one delivery.
 */
export interface TargetWriter<T extends AnyTarget = Target> {
  readonly kind: T['kind'];
  locator(target: T): string;
  write(target: T, copy: VersionCopy): Promise<WriteOutcome>;
  remove(target: T, copy: { secret: string; version: number; gsmVersion: string }): Promise<RemoveOutcome>;
  /** Undefined for targets whose content rotor cannot observe (webhooks). */
  observe?(target: T, hashOf: (value: Buffer) => string): Promise<Observation>;
}

/** A failure that retrying will not fix until someone changes the target (e.g. a Secret rotor does not own). */
export class TargetRefusedError extends Error {
  override readonly name = 'TargetRefusedError';
}

/** Stands in for a kind of target this distributor has no way to reach; every job fails with the reason and is retried. */
export class UnreachableTargetWriter implements TargetWriter {
  constructor(
    readonly kind: Target['kind'],
    private readonly reason: string,
  ) {}

  locator(target: Target): string {
    return `${target.kind}:${target.name}`;
  }

  write(): Promise<WriteOutcome> {
    return Promise.reject(new TargetRefusedError(this.reason));
  }

  remove(): Promise<RemoveOutcome> {
    return Promise.reject(new TargetRefusedError(this.reason));
  }
}
