import type { Target } from '@rotor/catalog';
import type { TargetKind } from '@rotor/contracts';

import type { TargetWriter } from './target-writer';

/** The writer for each target kind this distributor can reach (kinds absent from the catalog have none). */
export class TargetWriters {
  constructor(private readonly writers: Partial<Record<TargetKind, TargetWriter>>) {}

  for<T extends Target>(target: T): TargetWriter<T> {
    const writer = this.writers[target.kind];
    if (!writer) throw new Error(`no writer for ${target.kind} targets`);
    return writer as unknown as TargetWriter<T>;
  }

  has(kind: TargetKind): boolean {
    return !!this.writers[kind];
  }
}
