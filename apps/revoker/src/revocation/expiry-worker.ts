import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';

import { sleep } from '@rotor/kafka';
import { LOGGER } from '@rotor/service-kit';
import type { Logger } from '@rotor/telemetry';

import type { RevokerConfig } from '../config';
import { LeaseClock } from '../leases/lease-clock';
import { REVOKER_CONFIG } from '../platform/tokens';

import { RevocationService } from './revocation.service';

/**
 * Polls the TTL clock for due leases and revokes them with bounded concurrency. Claims are
 * atomic in Redis, so any number of revoker replicas can run this loop side by side.
 */
@Injectable()
export class ExpiryWorker implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly stopping = new AbortController();
  private loop?: Promise<void>;

  constructor(
    private readonly clock: LeaseClock,
    private readonly revocation: RevocationService,
    @Inject(REVOKER_CONFIG) private readonly config: RevokerConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.loop = this.run();
  }

  /** Finishes the batch in hand; unfinished claims return to the queue at their deadline anyway. */
  async onApplicationShutdown(): Promise<void> {
    this.stopping.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    const { pollMs, batch, concurrency, visibilityMs } = this.config.revocation;
    while (!this.stopping.signal.aborted) {
      let claimed: string[] = [];
      try {
        claimed = await this.clock.schedule.claimDue({ nowMs: Date.now(), limit: batch, visibilityMs });
        await forEachLimited(claimed, concurrency, (leaseId) =>
          this.revocation.revokeClaimed(leaseId).catch((error: unknown) => {
            // Left claimed: it returns to the queue when its visibility deadline passes.
            this.logger.error({ leaseId, err: (error as Error).message }, 'revocation step failed; the claim will be retried');
          }),
        );
      } catch (error) {
        this.logger.error({ err: (error as Error).message }, 'could not claim due leases');
      }
      // A full batch means more is due: go again at once.
      if (claimed.length < batch) await sleep(pollMs, this.stopping.signal);
    }
  }
}

async function forEachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  });
  await Promise.all(workers);
}
