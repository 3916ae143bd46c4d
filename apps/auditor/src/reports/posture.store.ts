import { Inject, Injectable } from '@nestjs/common';

import {
  breakGlassUse,
  copyView,
  driftFinding,
  irrevocableLease,
  ViewKeys,
  type BreakGlassUse,
  type CopyView,
  type DriftFinding,
  type HashFields,
  type IrrevocableLease,
} from '@rotor/audit-chain';
import { REDIS } from '@rotor/nest-redis';
import { readHashes, type Redis } from '@rotor/redis-store';

/** Reads the posture state the audit projection keeps (libs/audit-chain posture-projection.ts). */
@Injectable()
export class PostureStore {
  constructor(@Inject(REDIS) private readonly redis: Redis) {}

  async discoveredCopies(now: number): Promise<CopyView[]> {
    const ids = await this.redis.zrange(ViewKeys.discoveredCopies, 0, -1);
    const fields = await this.hashes(ids.map(ViewKeys.copy));
    return ids.map((id, index) => copyView(id, fields[index]!, now));
  }

  async drifts(): Promise<DriftFinding[]> {
    const locators = await this.redis.zrange(ViewKeys.drifts, 0, -1);
    return (await this.hashes(locators.map(ViewKeys.drift))).flatMap((fields) => driftFinding(fields) ?? []);
  }

  async irrevocableLeases(): Promise<IrrevocableLease[]> {
    const ids = await this.redis.zrange(ViewKeys.irrevocableLeases, 0, -1);
    return (await this.hashes(ids.map(ViewKeys.lease))).flatMap((fields) => irrevocableLease(fields) ?? []);
  }

  async breakGlass(): Promise<{ uses: BreakGlassUse[]; versions: Record<string, number[]> }> {
    const ids = await this.redis.zrange(ViewKeys.breakGlasses, 0, -1);
    const uses = (await this.hashes(ids.map(ViewKeys.breakGlass))).flatMap((fields) => breakGlassUse(fields) ?? []);
    const secrets = [...new Set(uses.flatMap((use) => use.secrets))];
    const scores = await Promise.all(secrets.map((secret) => this.redis.zrange(ViewKeys.breakGlassVersions(secret), 0, -1, 'WITHSCORES')));
    const versions = Object.fromEntries(secrets.map((secret, index) => [secret, scores[index]!.filter((_, i) => i % 2 === 1).map(Number)]));
    return { uses, versions };
  }

  private hashes(keys: string[]): Promise<HashFields[]> {
    return readHashes(this.redis, keys);
  }
}
