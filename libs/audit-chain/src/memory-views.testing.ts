import {
  LEASE_FILTER_FIELDS,
  leaseView,
  liveSpan,
  type AuditViewsReader,
  type HashFields,
  type LeaseFilter,
  type LivingKind,
} from './inventory';
import { entityOf } from './view-keys';
import { mergeFields, type ViewOp } from './view-ops';

const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** For unit tests: the view store in memory, applying the projection's operations as the PostgreSQL store does. */
export class MemoryViews implements AuditViewsReader {
  readonly hashes = new Map<string, HashFields>();
  readonly zsets = new Map<string, Map<string, number>>();

  apply(ops: ViewOp[]): this {
    for (const op of ops) {
      if (op.op === 'merge') this.hashes.set(op.key, mergeFields(this.hashes.get(op.key) ?? {}, op.fields));
      else {
        const zset = this.zsets.get(op.set) ?? new Map<string, number>();
        const current = zset.get(op.member);
        if (op.keep === 'assign' || current === undefined || op.score < current) zset.set(op.member, op.score);
        this.zsets.set(op.set, zset);
      }
    }
    return this;
  }

  /** Seeds an entity as it would be stored (tests of the readers). */
  hash(key: string, fields?: HashFields): HashFields {
    if (fields) this.hashes.set(key, fields);
    return { ...(this.hashes.get(key) ?? {}) };
  }

  zadd(set: string, score: number, member: string): void {
    this.apply([{ op: 'member', set, member, score, keep: 'assign' }]);
  }

  /** A sorted set's members, lowest score first. */
  sorted(set: string): [string, number][] {
    return [...(this.zsets.get(set) ?? new Map<string, number>())].sort(([ma, a], [mb, b]) => a - b || byteOrder(ma, mb));
  }

  memberList(set: string): string[] {
    return this.sorted(set).map(([member]) => member);
  }

  members(set: string, maxScore = Infinity): Promise<string[]> {
    return Promise.resolve(
      this.sorted(set)
        .filter(([, score]) => score <= maxScore)
        .map(([member]) => member),
    );
  }

  scoredMembers(set: string): Promise<[string, number][]> {
    return Promise.resolve(this.sorted(set));
  }

  entities(keys: string[]): Promise<HashFields[]> {
    return Promise.resolve(keys.map((key) => this.hash(key)));
  }

  liveAt(kind: LivingKind, at: number): Promise<{ id: string; fields: HashFields }[]> {
    const found: { id: string; fields: HashFields }[] = [];
    for (const [key, fields] of [...this.hashes].sort(([a], [b]) => byteOrder(a, b))) {
      const entity = entityOf(key);
      if (entity.kind !== kind) continue;
      const span = liveSpan(kind, fields);
      if ((span.from === undefined || span.from <= at) && (span.to === undefined || at < span.to)) found.push({ id: entity.id, fields });
    }
    return Promise.resolve(found);
  }

  async workloadLeasesLiveAt(workload: string, at: number): Promise<{ id: string; fields: HashFields }[]> {
    return (await this.liveAt('lease', at)).filter(({ fields }) => `${fields['namespace']}/${fields['serviceAccount']}` === workload);
  }

  async leases(filter: LeaseFilter, { at, after, limit }: { at: number; after?: string; limit: number }) {
    const matching: { id: string; fields: HashFields }[] = [];
    for (const [key, fields] of [...this.hashes].sort(([a], [b]) => byteOrder(a, b))) {
      const entity = entityOf(key);
      if (entity.kind !== 'lease' || (after !== undefined && byteOrder(entity.id, after) <= 0)) continue;
      const fieldsMatch = Object.entries(LEASE_FILTER_FIELDS).every(
        ([name, field]) =>
          filter[name as keyof typeof LEASE_FILTER_FIELDS] === undefined ||
          fields[field] === filter[name as keyof typeof LEASE_FILTER_FIELDS],
      );
      if (fieldsMatch && (filter.state === undefined || leaseView(fields, at).state === filter.state))
        matching.push({ id: entity.id, fields });
      if (matching.length === limit) break;
    }
    return Promise.resolve(matching);
  }

  /** Everything held, in a stable order: equal snapshots mean equal views. */
  snapshot(): string {
    const sorted = <V>(map: Map<string, V>) => [...map].sort(([a], [b]) => byteOrder(a, b));
    return JSON.stringify([
      sorted(this.hashes).map(([k, v]) => [k, Object.entries(v).sort(([a], [b]) => byteOrder(a, b))]),
      sorted(this.zsets).map(([k, v]) => [k, sorted(v)]),
    ]);
  }
}
