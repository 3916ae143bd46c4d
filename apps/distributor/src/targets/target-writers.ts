import type { Target } from '@rotor/catalog';

import type { AnyTarget, TargetWriter } from './target-writer';

/**
 * The writer for each target kind this distributor can reach (kinds absent from the catalog
 * have none). A test may add kinds of its own: `new TargetWriters<Target | MemoryTarget>(…)`.
 */
export class TargetWriters<Any extends AnyTarget = Target> {
  constructor(private readonly writers: Partial<Record<Any['kind'], TargetWriter<Any>>>) {}

  for<T extends Any>(target: T): TargetWriter<T> {
    const kind: Any['kind'] = target.kind;
    const writer = this.writers[kind];
    if (!writer) throw new Error(`no writer for ${target.kind} targets`);
    return writer as unknown as TargetWriter<T>;
  }

  has(kind: Any['kind']): boolean {
    return !!this.writers[kind];
  }
}
