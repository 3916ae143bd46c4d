/**
 * Remembers the delivery ids a receiver has accepted, so a captured notice sent again is
 * refused. An id only needs remembering until its signed timestamp leaves the tolerance
 * window: after that the replay is refused as stale anyway (the timestamp is signed).
 * Several receiver replicas share one guard only if it is shared storage (e.g. Redis SET NX PX).
 */
export interface ReplayGuard {
  /** Records the id until `expiresAt`; false if it is already recorded and unexpired. */
  remember(deliveryId: string, expiresAt: Date): boolean | Promise<boolean>;
  /** Drops an id again, so a notice whose handling failed can be delivered again. */
  forget(deliveryId: string): void | Promise<void>;
}

/**
 * A ReplayGuard for one process. Memory is bounded: expired ids are swept as new ones arrive,
 * and past `maxEntries` the oldest is dropped (only signed notices get here, so a flood needs the key).
 */
export class InMemoryReplayGuard implements ReplayGuard {
  private readonly expiries = new Map<string, number>();
  private readonly maxEntries: number;
  private readonly clock: () => number;

  constructor(options: { maxEntries?: number; clock?: () => number } = {}) {
    this.maxEntries = options.maxEntries ?? 100_000;
    this.clock = options.clock ?? Date.now;
  }

  get size(): number {
    return this.expiries.size;
  }

  remember(deliveryId: string, expiresAt: Date): boolean {
    const now = this.clock();
    this.sweep(now);
    const known = this.expiries.get(deliveryId);
    if (known !== undefined && known > now) return false;
    this.expiries.delete(deliveryId);
    if (this.expiries.size >= this.maxEntries) this.sweep(now, true);
    while (this.expiries.size >= this.maxEntries) this.expiries.delete(this.expiries.keys().next().value!);
    this.expiries.set(deliveryId, expiresAt.getTime());
    return true;
  }

  forget(deliveryId: string): void {
    this.expiries.delete(deliveryId);
  }

  /** Drops expired ids from the oldest end (insertion order ≈ expiry order); `full` scans all. */
  private sweep(now: number, full = false): void {
    for (const [id, expiresAt] of this.expiries) {
      if (expiresAt <= now) this.expiries.delete(id);
      else if (!full) return;
    }
  }
}
