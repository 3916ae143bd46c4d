import type { Redis } from '@rotor/redis-store';

/** When the sweep first saw something amiss and, once it acted, when and why. */
export interface Sighting {
  firstSeenAt: number;
  actedAt?: number;
  /** A word saying why it acted (no colons). */
  reason?: string;
}

/**
 * One Redis hash of things a reconciliation sweep saw out of place, with the time it first
 * saw each. Acting only on entries older than a margin makes the sweep patient with what is
 * merely late (an issued lease the clock has not tracked yet). Lost with Redis, it starts
 * again from now: a later revocation, never an earlier one.
 */
export class Sightings {
  constructor(
    private readonly redis: Redis,
    private readonly key: string,
  ) {}

  /** Records `field` as seen now unless it was seen before; answers the first sighting. */
  async see(field: string, nowMs: number): Promise<Sighting> {
    const results = (await this.redis.pipeline().hsetnx(this.key, field, String(nowMs)).hget(this.key, field).exec()) ?? [];
    const failed = results.find(([error]) => error);
    if (failed?.[0]) throw failed[0];
    return parse(results[1]?.[1] as string | null) ?? { firstSeenAt: nowMs };
  }

  /** Kept until what follows the action (an event) is done, so a crash in between is finished by the next sweep. */
  async markActed(field: string, action: { firstSeenAt: number; actedAt: number; reason: string }): Promise<void> {
    await this.redis.hset(this.key, field, `${action.firstSeenAt}:${action.actedAt}:${action.reason}`);
  }

  async forget(...fields: string[]): Promise<void> {
    if (fields.length) await this.redis.hdel(this.key, ...fields);
  }

  async all(): Promise<Map<string, Sighting>> {
    const entries = await this.redis.hgetall(this.key);
    return new Map(Object.entries(entries).flatMap(([field, value]) => (parse(value) ? [[field, parse(value)!] as const] : [])));
  }
}

const parse = (value: string | null | undefined): Sighting | undefined => {
  const match = value ? /^(\d+)(?::(\d+):([a-z-]+))?$/.exec(value) : null;
  if (!match) return undefined;
  return { firstSeenAt: Number(match[1]), ...(match[2] ? { actedAt: Number(match[2]), reason: match[3]! } : {}) };
};
