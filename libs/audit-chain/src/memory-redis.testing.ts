import type { HashFields } from './inventory';
import { HASH_MERGE_SHA, HEAD_ADVANCE_SHA, type ViewCommand } from './view-commands';

/**
 * For unit tests: just enough of Redis to run the projection's commands (strings, sorted sets,
 * the merge and head scripts), so order and repetition can be tested without I/O.
 */
export class MemoryRedis {
  readonly strings = new Map<string, string>();
  readonly hashes = new Map<string, Map<string, string>>();
  readonly zsets = new Map<string, Map<string, number>>();

  run(commands: ViewCommand[]): void {
    for (const [name, ...args] of commands) {
      if (name === 'set') this.strings.set(String(args[0]), String(args[1]));
      else if (name === 'zadd') this.zadd(args);
      else if (name === 'evalsha') this.eval(String(args[0]), String(args[2]), args.slice(3).map(String));
      else throw new Error(`unexpected command ${name}`);
    }
  }

  hash(key: string): HashFields {
    return Object.fromEntries(this.hashes.get(key) ?? []);
  }

  /** A sorted set's members, lowest score first. */
  members(key: string): string[] {
    return [...(this.zsets.get(key) ?? new Map<string, number>())].sort(([, a], [, b]) => a - b).map(([member]) => member);
  }

  /** Everything held, in a stable order: equal snapshots mean equal views. */
  snapshot(): string {
    const sorted = <V>(map: Map<string, V>) => [...map].sort(([a], [b]) => a.localeCompare(b));
    return JSON.stringify([
      sorted(this.strings),
      sorted(this.hashes).map(([k, v]) => [k, sorted(v)]),
      sorted(this.zsets).map(([k, v]) => [k, sorted(v)]),
    ]);
  }

  private zadd(args: (string | number)[]): void {
    const key = String(args[0]);
    const lt = args[1] === 'LT';
    const [score, member] = lt ? [Number(args[2]), String(args[3])] : [Number(args[1]), String(args[2])];
    const zset = this.zsets.get(key) ?? new Map<string, number>();
    const current = zset.get(member);
    if (!lt || current === undefined || score < current) zset.set(member, score);
    this.zsets.set(key, zset);
  }

  private eval(script: string, key: string, argv: string[]): void {
    if (script !== HEAD_ADVANCE_SHA && script !== HASH_MERGE_SHA) throw new Error(`unexpected script ${script}`);
    const hash = this.hashes.get(key) ?? new Map<string, string>();
    this.hashes.set(key, hash);
    if (script === HEAD_ADVANCE_SHA) {
      if (hash.has('seq') && Number(hash.get('seq')) >= Number(argv[0])) return;
      hash.set('seq', argv[0]!).set('hash', argv[1]!).set('sourceOffset', argv[2]!);
      return;
    }
    const stamp = (v: string) => Number(v.slice(0, v.indexOf('|')));
    for (let i = 0; i < argv.length; i += 3) {
      const [op, field, value] = [argv[i]!, argv[i + 1]!, argv[i + 2]!];
      const current = hash.get(field);
      const newer =
        op === 'set' ||
        current === undefined ||
        (op === 'max' && Number(value) > Number(current)) ||
        (op === 'min' && Number(value) < Number(current)) ||
        (op === 'latest' && (stamp(value) > stamp(current) || (stamp(value) === stamp(current) && value > current)));
      if (newer) hash.set(field, value);
    }
  }
}
