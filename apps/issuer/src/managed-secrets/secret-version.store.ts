import { Inject, Injectable, Optional } from '@nestjs/common';

import { DEFAULT_DEDUPE_WINDOW_SECONDS } from '@rotor/config';
import { REDIS } from '@rotor/nest-redis';
import { sleep } from '@rotor/backoff';
import { DomainError } from '@rotor/errors';
import { acquireLock, DueSchedule, type Redis } from '@rotor/redis-store';

import { DEDUPE_WINDOW_MS } from '../platform/tokens';

export interface CurrentVersion {
  version: number;
  gsmVersion: string;
  createdAt: Date;
}

const currentKey = (secret: string) => `issuer:secret:${secret}`;
const handledKey = (eventId: string) => `issuer:rotation-request:${eventId}`;
const rotationLockKey = (secret: string) => `issuer:rotation-lock:${secret}`;

/** Longer than one rotation's GSM calls and produce, each bounded by the dependency timeout. */
const ROTATION_LOCK_TTL_MS = 30_000;

/** The issuer's view of managed secrets: which version is current, and when each rotates next. */
@Injectable()
export class SecretVersionStore {
  readonly rotations: DueSchedule;
  private readonly windowMs: number;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Optional() @Inject(DEDUPE_WINDOW_MS) windowMs?: number,
  ) {
    this.windowMs = windowMs ?? DEFAULT_DEDUPE_WINDOW_SECONDS * 1000;
    this.rotations = new DueSchedule(redis, { prefix: 'issuer:schedule:rotation' });
  }

  /**
   * Runs one rotation of `secret` while no other replica or request rotates it, waiting up to
   * `waitMs` for a running one to finish. Two rotations at once (a scheduled one and an
   * emergency's) would both name the same previous version, and the version between them would
   * never be retired.
   */
  async whileRotating<T>(secret: string, task: () => Promise<T>, waitMs = ROTATION_LOCK_TTL_MS): Promise<T> {
    const deadline = Date.now() + waitMs;
    for (let pause = 25; ; pause = Math.min(pause * 2, 500)) {
      const release = await acquireLock(this.redis, rotationLockKey(secret), ROTATION_LOCK_TTL_MS);
      if (release) {
        try {
          return await task();
        } finally {
          await release();
        }
      }
      if (Date.now() >= deadline) {
        throw new DomainError(
          'unavailable',
          'rotation-in-progress',
          `managed secret ${secret} is being rotated by another request; try again`,
        );
      }
      await sleep(pause);
    }
  }

  async current(secret: string): Promise<CurrentVersion | undefined> {
    const fields = await this.redis.hgetall(currentKey(secret));
    if (!fields['gsmVersion']) return undefined;
    return { version: Number(fields['version']), gsmVersion: fields['gsmVersion'], createdAt: new Date(fields['createdAt']!) };
  }

  /** Records a new current version; a lower version (a late, concurrent rotation) never replaces a higher one. */
  async setCurrent(secret: string, current: CurrentVersion): Promise<void> {
    await this.redis.eval(
      `local v = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
       if tonumber(ARGV[1]) > v then redis.call('HSET', KEYS[1], 'version', ARGV[1], 'gsmVersion', ARGV[2], 'createdAt', ARGV[3]) end
       return 1`,
      1,
      currentKey(secret),
      current.version,
      current.gsmVersion,
      current.createdAt.toISOString(),
    );
  }

  async wasHandled(eventId: string): Promise<boolean> {
    return (await this.redis.exists(handledKey(eventId))) === 1;
  }

  /** Remembered for the dedupe window (ROTOR_DEDUPE_WINDOW_SECONDS), then forgotten. */
  async markHandled(eventId: string): Promise<void> {
    await this.redis.set(handledKey(eventId), '1', 'PX', this.windowMs);
  }
}
