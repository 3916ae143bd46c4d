import { Inject, Injectable } from '@nestjs/common';

import type { Target } from '@rotor/catalog';
import { REDIS } from '@rotor/nest-redis';
import type { Redis } from '@rotor/redis-store';

/**
 * pending: queued; delivered: the target holds it; failed: writing keeps failing (retried);
 * skipped: not written because the target already held a newer version or the version was retired first;
 * removal-failed: removing keeps failing (retried); removed: gone from the target.
 */
export type CopyState = 'pending' | 'delivered' | 'failed' | 'skipped' | 'removal-failed' | 'removed';

/** One copy of a managed-secret version at one target: an inventory fact. */
export interface DeliveredCopy {
  secret: string;
  version: number;
  gsmVersion: string;
  target: Target;
  locator?: string;
  state: CopyState;
  contentHash?: string;
  attempts: number;
  lastError?: string;
  updatedAt: string;
}

/** Which copy: a version of a secret at the target named `targetName`. */
export interface CopyRef {
  secret: string;
  version: number;
  targetName: string;
}

/** What the distributor last put at a target. */
export interface HeldVersion {
  version: number;
  gsmVersion: string;
  contentHash: string;
  locator: string;
}

const copiesKey = (secret: string) => `distributor:copies:{${secret}}`;
const heldKey = (secret: string) => `distributor:held:{${secret}}`;
const retiredKey = (secret: string) => `distributor:retired:{${secret}}`;
const copyField = (version: number, targetName: string) => `${version}|${targetName}`;

/** The distributor's record of every copy it made, in its own Redis keys; one hash tag per secret. */
@Injectable()
export class DeliveryLedger {
  constructor(@Inject(REDIS) private readonly redis: Redis) {}

  /** True when the distributor ever recorded a copy or a retirement of this secret. */
  async knows(secret: string): Promise<boolean> {
    return (await this.redis.exists(copiesKey(secret), retiredKey(secret))) > 0;
  }

  async get(secret: string, version: number, targetName: string): Promise<DeliveredCopy | undefined> {
    const text = await this.redis.hget(copiesKey(secret), copyField(version, targetName));
    return text ? (JSON.parse(text) as DeliveredCopy) : undefined;
  }

  /** Records a copy as pending unless it is already known; true when it was new. */
  async addPending(copy: Omit<DeliveredCopy, 'state' | 'attempts' | 'updatedAt'>): Promise<boolean> {
    const record: DeliveredCopy = { ...copy, state: 'pending', attempts: 0, updatedAt: new Date().toISOString() };
    return (await this.redis.hsetnx(copiesKey(copy.secret), copyField(copy.version, copy.target.name), JSON.stringify(record))) === 1;
  }

  async update(
    { secret, version, targetName }: CopyRef,
    change: Partial<Omit<DeliveredCopy, 'secret' | 'version'>>,
  ): Promise<DeliveredCopy | undefined> {
    const existing = await this.get(secret, version, targetName);
    if (!existing) return undefined;
    const next: DeliveredCopy = { ...existing, ...change, updatedAt: new Date().toISOString() };
    if (change.state && change.state !== 'failed' && change.state !== 'removal-failed') delete next.lastError;
    await this.redis.hset(copiesKey(secret), copyField(version, targetName), JSON.stringify(next));
    return next;
  }

  async copiesOf(secret: string): Promise<DeliveredCopy[]> {
    const values = await this.redis.hvals(copiesKey(secret));
    return values
      .map((value) => JSON.parse(value) as DeliveredCopy)
      .sort((a, b) => b.version - a.version || a.target.name.localeCompare(b.target.name));
  }

  async copiesOfVersion(secret: string, version: number): Promise<DeliveredCopy[]> {
    return (await this.copiesOf(secret)).filter((copy) => copy.version === version);
  }

  async held(secret: string, targetName: string): Promise<HeldVersion | undefined> {
    const text = await this.redis.hget(heldKey(secret), targetName);
    return text ? (JSON.parse(text) as HeldVersion) : undefined;
  }

  /** Records what a target holds; an older version never replaces a newer one. */
  async setHeld(secret: string, targetName: string, held: HeldVersion): Promise<void> {
    await this.redis.eval(
      `local current = redis.call('HGET', KEYS[1], ARGV[1])
       if current and cjson.decode(current)['version'] > tonumber(ARGV[2]) then return 0 end
       redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
       return 1`,
      1,
      heldKey(secret),
      targetName,
      held.version,
      JSON.stringify(held),
    );
  }

  async clearHeld(secret: string, targetName: string, version: number): Promise<void> {
    const held = await this.held(secret, targetName);
    if (held?.version === version) await this.redis.hdel(heldKey(secret), targetName);
  }

  async markRetired(secret: string, version: number, at: Date): Promise<void> {
    await this.redis.zadd(retiredKey(secret), at.getTime(), String(version));
  }

  async isRetired(secret: string, version: number): Promise<boolean> {
    return (await this.redis.zscore(retiredKey(secret), String(version))) !== null;
  }
}
