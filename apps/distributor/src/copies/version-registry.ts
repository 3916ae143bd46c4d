import { Inject, Injectable } from '@nestjs/common';

import type { Fingerprint } from '@rotor/copy-fingerprint';
import { REDIS } from '@rotor/nest-redis';
import type { Redis } from '@rotor/redis-store';

/** What the distributor remembers of one managed version, for copy discovery: never the value. */
export interface KnownVersion {
  secret: string;
  version: number;
  gsmVersion: string;
  createdAt: string;
  retiredAt?: string;
  /** Keyed hashes under the installation's scan key, taken while the value was still readable in GSM. */
  fingerprints?: Fingerprint[];
  /** Which scan key took them (a keyed digest, not the key): after a key rotation they no longer match anything. */
  scanKeyId?: string;
}

const versionsKey = (secret: string) => `distributor:versions:{${secret}}`;

/**
 * Versions of each managed secret, from version-created and version-retired events, with their
 * fingerprints. The revoker destroys a version in GSM before it announces the retirement, so
 * fingerprints must be taken while a version is live: this registry keeps them for the
 * retirement window, after which the version is forgotten.
 */
@Injectable()
export class VersionRegistry {
  constructor(@Inject(REDIS) private readonly redis: Redis) {}

  async created(version: Pick<KnownVersion, 'secret' | 'version' | 'gsmVersion' | 'createdAt'>): Promise<void> {
    await this.merge(version, version, 'fill');
  }

  async retired(version: Pick<KnownVersion, 'secret' | 'version' | 'gsmVersion'>, retiredAt: string): Promise<void> {
    await this.merge(version, { createdAt: retiredAt, ...version }, 'fill');
    await this.merge(version, { retiredAt }, 'overwrite');
  }

  /** Fingerprints taken with the scan key `scanKeyId`, for a version already known. */
  async fingerprinted(
    version: Pick<KnownVersion, 'secret' | 'version'>,
    taken: { fingerprints: Fingerprint[]; scanKeyId: string },
  ): Promise<void> {
    await this.merge(version, taken, 'existing');
  }

  /** True when any version of this secret is remembered. */
  async knows(secret: string): Promise<boolean> {
    return (await this.redis.exists(versionsKey(secret))) > 0;
  }

  async get(secret: string, version: number): Promise<KnownVersion | undefined> {
    const text = await this.redis.hget(versionsKey(secret), String(version));
    return text ? (JSON.parse(text) as KnownVersion) : undefined;
  }

  /** Live versions and those retired after `retiredSince`; older ones are dropped on the way. */
  async scannable(secret: string, retiredSince: Date): Promise<KnownVersion[]> {
    const all = Object.values(await this.redis.hgetall(versionsKey(secret))).map((text) => JSON.parse(text) as KnownVersion);
    const expired = all.filter((entry) => entry.retiredAt !== undefined && new Date(entry.retiredAt) < retiredSince);
    if (expired.length > 0) await this.redis.hdel(versionsKey(secret), ...expired.map((entry) => String(entry.version)));
    return all.filter((entry) => !expired.includes(entry)).sort((a, b) => b.version - a.version);
  }

  /**
   * Merges fields into one version's record in one script, so a retirement and a fingerprint
   * landing at once both stay. fill: only fields not yet set; overwrite: these fields win;
   * existing: overwrite, but only a version already known.
   */
  private async merge(
    { secret, version }: Pick<KnownVersion, 'secret' | 'version'>,
    fields: Partial<KnownVersion>,
    mode: 'fill' | 'overwrite' | 'existing',
  ): Promise<void> {
    await this.redis.eval(
      `local current = redis.call('HGET', KEYS[1], ARGV[1])
       if not current and ARGV[3] == 'existing' then return 0 end
       local record = current and cjson.decode(current) or {}
       for field, value in pairs(cjson.decode(ARGV[2])) do
         if ARGV[3] ~= 'fill' or record[field] == nil then record[field] = value end
       end
       redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(record))
       return 1`,
      1,
      versionsKey(secret),
      String(version),
      JSON.stringify(fields),
      mode,
    );
  }
}
