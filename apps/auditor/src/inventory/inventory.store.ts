import { Inject, Injectable } from '@nestjs/common';

import {
  copyExistedAt,
  copyView,
  leaseExistedAt,
  leaseView,
  versionViews,
  ViewKeys,
  type CopyView,
  type HashFields,
  type LeaseView,
  type VersionView,
} from '@rotor/audit-chain';
import { REDIS } from '@rotor/nest-redis';
import { readHashes, type Redis } from '@rotor/redis-store';

/** Reads the inventory views the audit projection wrote (libs/audit-chain projection.ts). */
@Injectable()
export class InventoryStore {
  constructor(@Inject(REDIS) private readonly redis: Redis) {}

  async secretVersions(secret: string, at: number): Promise<VersionView[]> {
    const versions = await this.redis.zrange(ViewKeys.secretVersions(secret), 0, -1);
    return versionViews(await this.hashes(versions.map((version) => ViewKeys.version(secret, version))), at);
  }

  async secretCopies(secret: string, at: number): Promise<CopyView[]> {
    const ids = await this.redis.zrangebyscore(ViewKeys.secretCopies(secret), '-inf', String(at));
    const fields = await this.hashes(ids.map(ViewKeys.copy));
    return ids.map((id, index) => copyView(id, fields[index]!, at));
  }

  async workloadLeases(workload: string, at: number): Promise<LeaseView[]> {
    const ids = await this.redis.zrangebyscore(ViewKeys.workloadLeases(workload), '-inf', String(at));
    const fields = await this.hashes(ids.map(ViewKeys.lease));
    return fields.filter((lease) => leaseExistedAt(lease, at)).map((lease) => leaseView(lease, at));
  }

  async secretNames(at: number): Promise<string[]> {
    return this.redis.zrangebyscore(ViewKeys.secrets, '-inf', String(at));
  }

  /** Everything that existed at `at`: leases not yet ended, versions not yet retired, copies not yet removed. */
  async existingAt(at: number): Promise<{ leases: LeaseView[]; versions: VersionView[]; copies: CopyView[] }> {
    const [leaseIds, versionRefs, copyIds] = await Promise.all([
      this.redis.zrangebyscore(ViewKeys.leases, '-inf', String(at)),
      this.redis.zrangebyscore(ViewKeys.versions, '-inf', String(at)),
      this.redis.zrangebyscore(ViewKeys.copies, '-inf', String(at)),
    ]);
    const [leases, versions, copies] = await Promise.all([
      this.hashes(leaseIds.map(ViewKeys.lease)),
      this.hashes(versionRefs.map((ref) => ViewKeys.version(ref.slice(0, ref.lastIndexOf('|')), ref.slice(ref.lastIndexOf('|') + 1)))),
      this.hashes(copyIds.map(ViewKeys.copy)),
    ]);
    const bySecret = new Map<string, HashFields[]>();
    for (const version of versions) bySecret.set(version['secret'] ?? '', [...(bySecret.get(version['secret'] ?? '') ?? []), version]);
    return {
      leases: leases.filter((lease) => leaseExistedAt(lease, at)).map((lease) => leaseView(lease, at)),
      versions: [...bySecret.values()].flatMap((group) => versionViews(group, at)).filter((version) => version.state !== 'retired'),
      copies: copyIds.flatMap((id, index) => (copyExistedAt(copies[index]!, at) ? [copyView(id, copies[index]!, at)] : [])),
    };
  }

  private hashes(keys: string[]): Promise<HashFields[]> {
    return readHashes(this.redis, keys);
  }
}
