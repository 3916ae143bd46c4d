import { Inject, Injectable } from '@nestjs/common';

import type { Catalog } from '@rotor/catalog';
import { REDIS } from '@rotor/nest-redis';
import type { Redis } from '@rotor/redis-store';
import { LOGGER } from '@rotor/service-kit';
import { Metrics, type Logger } from '@rotor/telemetry';

import { BreakGlassFollowUp } from '../break-glass/break-glass-follow-up';
import type { RevokerConfig } from '../config';
import { LeaseClock } from '../leases/lease-clock';
import { CATALOG, REVOKER_CONFIG } from '../platform/tokens';

import { withdrawalOf } from './catalog-allowance';
import { Sightings } from './sightings';

export interface WithdrawalSweepResult {
  /** Unrevoked leases examined. */
  examined: number;
  /** No longer allowed, still inside the grace. */
  waiting: number;
  /** Asked to be revoked now (reason catalog-withdrawn). */
  requested: number;
}

const PAGE = 500;

/**
 * When the catalog drops a role or a binding, the leases it no longer allows end after a
 * grace: each is asked to be revoked (reason `catalog-withdrawn`) through the clock, so the
 * usual revocation path, with its retries and its `lease.revoked` event, does the work. The
 * grace runs from the first sweep that saw the lease disallowed, so replicas rolling onto a new
 * catalog one by one do not cut it short; a lease allowed again is forgotten. Break-glass
 * leases are outside the bindings by design and end on their own short TTL.
 */
@Injectable()
export class CatalogWithdrawal {
  private readonly sightings: Sightings;
  private readonly requestedTotal;

  constructor(
    @Inject(REDIS) redis: Redis,
    private readonly clock: LeaseClock,
    private readonly breakGlass: BreakGlassFollowUp,
    @Inject(CATALOG) private readonly catalog: Catalog,
    @Inject(REVOKER_CONFIG) private readonly config: RevokerConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    metrics: Metrics,
  ) {
    this.sightings = new Sightings(redis, 'revoker:reconcile:withdrawn');
    this.requestedTotal = metrics.counter(
      'rotor_catalog_withdrawn_leases_total',
      'Leases the catalog no longer allows, asked to be revoked after the grace, by why',
      ['withdrawal'],
    );
  }

  async sweep(now = Date.now()): Promise<WithdrawalSweepResult> {
    const result: WithdrawalSweepResult = { examined: 0, waiting: 0, requested: 0 };
    const disallowed = new Set<string>();
    let cursor = '0';
    do {
      const [next, ids] = await this.clock.scanIndex('all', cursor, PAGE);
      cursor = next;
      const leases = await this.clock.matchFields(ids);
      for (const [index, lease] of leases.entries()) {
        const id = ids[index]!;
        if (!lease) continue;
        result.examined++;
        const withdrawal = withdrawalOf(this.catalog, lease);
        if (!withdrawal || (await this.breakGlass.get(id))) continue;
        disallowed.add(id);
        const sighting = await this.sightings.see(id, now);
        if (now - sighting.firstSeenAt < this.config.reconciliation.withdrawalGraceMs) {
          result.waiting++;
          continue;
        }
        // Already on its way out (asked for by anyone, this sweep included): nothing to add.
        if ((await this.clock.get(id))?.requestedReason) continue;
        await this.clock.requestNow(id, 'catalog-withdrawn');
        this.requestedTotal.inc({ withdrawal });
        this.logger.warn({ leaseId: id, role: lease.role, withdrawal }, 'the catalog no longer allows this lease; revoking it');
        result.requested++;
      }
    } while (cursor !== '0');
    // Allowed again, revoked meanwhile, or asked for above: nothing left to wait for.
    const stale = [...(await this.sightings.all()).keys()].filter((id) => !disallowed.has(id));
    await this.sightings.forget(...stale);
    return result;
  }
}
