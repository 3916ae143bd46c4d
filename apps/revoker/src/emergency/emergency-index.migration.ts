import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';

import { REDIS } from '@rotor/nest-redis';
import { forEachKey, runLayoutUpgrade, type Redis } from '@rotor/redis-store';
import { LOGGER } from '@rotor/service-kit';
import type { Logger } from '@rotor/telemetry';

import { emergencyTag } from './emergency-counters';
import { EmergencyIndex, runIndexKey } from './emergency-index';
import type { EmergencyScope } from './emergency.store';

export interface EmergencyIndexMigrationResult {
  /** Runs found without their list entry: started before the lists existed, or a start cut short between record and entry. */
  indexed: number;
  /** List entries whose record has expired. */
  pruned: number;
}

const SCOPES: readonly EmergencyScope[] = ['rotation', 'lease-revocation'];

/**
 * Lists every run the revoker still keeps: the records written before the run lists existed
 * (no scope field: emergency rotations) get their entry, by their `startedAt`. It also repairs
 * a start that stored its record but crashed before listing it, and drops entries whose record
 * has expired. One SCAN of the records (`revoker:emergency:{<id>}`, not their sets); idempotent
 * and safe on several replicas at once (ZADD NX).
 */
@Injectable()
export class EmergencyIndexMigration implements OnApplicationBootstrap {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    private readonly index: EmergencyIndex,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const result = await runLayoutUpgrade(this.redis, 'revoker:layout-upgrade:emergency-index', () => this.run());
    if (result && result.indexed + result.pruned > 0)
      this.logger.info({ ...result }, 'emergency rotation and lease revocation lists brought up to date');
  }

  async run(): Promise<EmergencyIndexMigrationResult> {
    const result: EmergencyIndexMigrationResult = { indexed: 0, pruned: 0 };
    // The pattern ends at the tag's brace: the record only, not its `:leases`, `:secrets` or counter sets.
    await forEachKey(this.redis, 'revoker:emergency:{*}', async (key) => {
      const [id, scope, startedAt] = await this.redis.hmget(key, 'id', 'scope', 'startedAt');
      if (!id || !startedAt) return;
      const runScope = (scope as EmergencyScope | null) ?? 'rotation';
      if ((await this.redis.zscore(runIndexKey(runScope), id)) !== null) return;
      await this.index.add(runScope, id, startedAt);
      result.indexed++;
    });
    for (const scope of SCOPES) result.pruned += await this.prune(scope);
    return result;
  }

  private async prune(scope: EmergencyScope): Promise<number> {
    const key = runIndexKey(scope);
    let pruned = 0;
    for (let start = 0; ; start += 500) {
      const ids = await this.redis.zrange(key, start, start + 499);
      const exists = await Promise.all(ids.map((id) => this.redis.exists(emergencyTag(id))));
      const gone = ids.filter((_, index) => exists[index] === 0);
      await this.index.remove(scope, gone);
      pruned += gone.length;
      start -= gone.length;
      if (ids.length < 500) return pruned;
    }
  }
}
