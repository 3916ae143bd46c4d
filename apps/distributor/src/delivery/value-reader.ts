import { randomUUID } from 'node:crypto';

import { Inject, Injectable } from '@nestjs/common';

import { createEvent, Topics } from '@rotor/contracts';
import { EventPublisher } from '@rotor/kafka';
import { GsmSecretStore } from '@rotor/secret-store';

import type { DistributorConfig } from '../config';
import { DISTRIBUTOR_CONFIG } from '../platform/tokens';

import { ContentHasher } from './content-hasher';

/** How long a value read for one fan-out is kept in memory, so 500 targets cost one GSM access. */
const VALUE_TTL_MS = 30_000;

/**
 * Reads version values from GSM for the targets that hold them, one access per version per
 * fan-out, each logged as an access event. Values live only in this short-lived memo and in
 * the call that writes them; the content hash is keyed so it reveals nothing about the value.
 */
@Injectable()
export class ValueReader {
  private readonly memo = new Map<string, { value: Promise<Buffer>; expiresAt: number }>();

  constructor(
    private readonly gsm: GsmSecretStore,
    private readonly publisher: EventPublisher,
    @Inject(DISTRIBUTOR_CONFIG) private readonly config: DistributorConfig,
  ) {}

  /** The GSM name is built here from the configured project: no name from an event or a stored job reaches GSM. */
  async read(secret: string, version: number): Promise<Buffer> {
    const gsmVersion = this.gsm.versionName(secret, version);
    const now = Date.now();
    for (const [key, entry] of this.memo) if (entry.expiresAt <= now) this.memo.delete(key);
    const cached = this.memo.get(gsmVersion);
    if (cached) return cached.value;
    const value = this.access(secret, version, gsmVersion);
    this.memo.set(gsmVersion, { value, expiresAt: now + VALUE_TTL_MS });
    value.catch(() => this.memo.delete(gsmVersion));
    return value;
  }

  /** `<keyId>:<hex>` under the newest ROTOR_CONTENT_HASH_KEY: what is recorded with a new copy. */
  contentHash(value: Buffer): string {
    return new ContentHasher(this.config.contentHashKeys).hash(value);
  }

  /** The hash of `value` comparable with `recorded` across a key rotation (see ContentHasher.hashLike). */
  contentHashLike(value: Buffer, recorded: string | undefined): string {
    return new ContentHasher(this.config.contentHashKeys).hashLike(value, recorded);
  }

  private async access(secret: string, version: number, gsmVersion: string): Promise<Buffer> {
    const value = await this.gsm.access(gsmVersion);
    await this.publisher.publish(
      createEvent({
        topic: Topics.access,
        id: randomUUID(),
        source: '/rotor/distributor',
        subject: secret,
        data: { actor: { kind: 'service', service: 'distributor' }, action: 'read-secret', secret, version, at: new Date().toISOString() },
      }),
      { key: secret },
    );
    return value;
  }
}
