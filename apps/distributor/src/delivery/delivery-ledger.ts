import { Inject, Injectable } from '@nestjs/common';

import type { TargetRef } from '@rotor/contracts';
import { REDIS } from '@rotor/nest-redis';
import type { Redis } from '@rotor/redis-store';

export type CopyState = 'delivered' | 'failed' | 'removing' | 'removed';

/** One copy of a managed-secret version at one target: an inventory fact. */
export interface DeliveredCopy {
  secret: string;
  version: number;
  target: TargetRef;
  locator: string;
  state: CopyState;
  contentHash?: string;
  updatedAt: string;
  lastError?: string;
}

const copiesKey = (secret: string) => `distributor:copies:${secret}`;
const copyField = (copy: Pick<DeliveredCopy, 'version' | 'target'>) => `${copy.version}|${copy.target.kind}|${copy.target.name}`;

/** The distributor's record of every copy it made, in its own Redis keys. */
@Injectable()
export class DeliveryLedger {
  constructor(@Inject(REDIS) private readonly redis: Redis) {}

  async record(copy: DeliveredCopy): Promise<void> {
    await this.redis.hset(copiesKey(copy.secret), copyField(copy), JSON.stringify(copy));
  }

  async copiesOf(secret: string): Promise<DeliveredCopy[]> {
    const fields = await this.redis.hvals(copiesKey(secret));
    return fields.map((value) => JSON.parse(value) as DeliveredCopy).sort((a, b) => b.version - a.version || a.target.name.localeCompare(b.target.name));
  }
}
