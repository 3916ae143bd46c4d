import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';

import { LEGACY_VIEW_PREFIX, VIEW_PREFIX } from '@rotor/audit-chain';
import { REDIS } from '@rotor/nest-redis';
import { allKeys, Cluster, type Redis } from '@rotor/redis-store';
import { LOGGER } from '@rotor/service-kit';
import type { Logger } from '@rotor/telemetry';

export interface ViewKeysMigrationResult {
  /** Keys of the previous layout now under the hash tag. */
  moved: number;
  /** Keys of the previous layout dropped because the current layout already had them (written since). */
  superseded: number;
}

const LEGACY_MARKER = `${LEGACY_VIEW_PREFIX}state`;

/**
 * Moves the auditor's state from the layout before the hash tag (`auditor:chain:…`) to
 * `{auditor:views}:chain:…` at start-up, before anything reads it, so an upgraded auditor keeps its
 * chain heads, dedupe marks and views. RENAMENX keeps each value and its TTL and never overwrites a
 * key the current layout already holds; the state marker moves last, so a start cut short leaves the
 * state unmarked until the next start finishes the move. Idempotent; replicas may run it at once.
 * Stop auditors of the previous version first: one still running would keep writing the old keys.
 *
 * A Redis Cluster never held a usable previous layout (its MULTI spanned slots and was refused), and
 * RENAME across slots is refused too: there the old keys are left alone, and a missing marker makes
 * the auditor ask for `rotor audit replay --rebuild` if the audit topic has records.
 */
@Injectable()
export class ViewKeysMigration implements OnModuleInit {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async onModuleInit(): Promise<void> {
    if (this.redis instanceof Cluster) return;
    const result = await this.run();
    if (result.moved + result.superseded > 0)
      this.logger.info({ ...result }, 'auditor state moved to the hash-tagged Redis layout ({auditor:views}:)');
  }

  async run(): Promise<ViewKeysMigrationResult> {
    const result: ViewKeysMigrationResult = { moved: 0, superseded: 0 };
    const keys = (await allKeys(this.redis, `${LEGACY_VIEW_PREFIX}*`)).filter((key) => key !== LEGACY_MARKER);
    for (const key of [...keys, LEGACY_MARKER]) {
      const target = `${VIEW_PREFIX}${key.slice(LEGACY_VIEW_PREFIX.length)}`;
      try {
        if ((await this.redis.renamenx(key, target)) === 1) result.moved++;
        else if ((await this.redis.del(key)) === 1) result.superseded++;
      } catch (error) {
        // Moved by another replica meanwhile (or the marker never existed).
        if (!(error instanceof Error && /no such key/i.test(error.message))) throw error;
      }
    }
    return result;
  }
}
