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
  type LeaseFilter,
  type LeaseView,
  type AuditViewsReader,
  type VersionView,
} from '@rotor/audit-chain';

import { AUDIT_VIEWS } from '../platform/tokens';

/** Reads the inventory views the audit projection wrote (libs/audit-chain projection.ts). */
@Injectable()
export class InventoryStore {
  constructor(@Inject(AUDIT_VIEWS) private readonly views: AuditViewsReader) {}

  async secretVersions(secret: string, at: number): Promise<VersionView[]> {
    const versions = await this.views.members(ViewKeys.secretVersions(secret));
    return versionViews(await this.views.entities(versions.map((version) => ViewKeys.version(secret, version))), at);
  }

  async secretCopies(secret: string, at: number): Promise<CopyView[]> {
    const ids = await this.views.members(ViewKeys.secretCopies(secret), at);
    const fields = await this.views.entities(ids.map(ViewKeys.copy));
    return ids.map((id, index) => copyView(id, fields[index]!, at));
  }

  async workloadLeases(workload: string, at: number): Promise<LeaseView[]> {
    const candidates = await this.views.workloadLeasesLiveAt(workload, at);
    return candidates.filter(({ fields }) => leaseExistedAt(fields, at)).map(({ fields }) => leaseView(fields, at));
  }

  /** A page of leases by selector; `next` is set when more may follow. */
  async leases(filter: LeaseFilter, page: { at: number; after?: string; limit: number }): Promise<{ leases: LeaseView[]; next?: string }> {
    // One more than asked tells whether another page exists.
    const rows = await this.views.leases(filter, { ...page, limit: page.limit + 1 });
    const leases = rows.slice(0, page.limit).map(({ fields }) => leaseView(fields, page.at));
    return rows.length > page.limit ? { leases, next: rows[page.limit - 1]!.id } : { leases };
  }

  async secretNames(at: number): Promise<string[]> {
    return this.views.members(ViewKeys.secrets, at);
  }

  /** Everything that existed at `at`: leases not yet ended, versions not yet retired, copies not yet removed. */
  async existingAt(at: number): Promise<{ leases: LeaseView[]; versions: VersionView[]; copies: CopyView[] }> {
    // Candidates from the lifetime index, then the exact rules of the domain.
    const [leases, versions, copies] = await Promise.all([
      this.views.liveAt('lease', at),
      this.views.liveAt('version', at),
      this.views.liveAt('copy', at),
    ]);
    const bySecret = new Map<string, HashFields[]>();
    for (const { fields } of versions) bySecret.set(fields['secret'] ?? '', [...(bySecret.get(fields['secret'] ?? '') ?? []), fields]);
    return {
      leases: leases.filter(({ fields }) => leaseExistedAt(fields, at)).map(({ fields }) => leaseView(fields, at)),
      versions: [...bySecret.values()].flatMap((group) => versionViews(group, at)).filter((version) => version.state !== 'retired'),
      copies: copies.flatMap(({ id, fields }) => (copyExistedAt(fields, at) ? [copyView(id, fields, at)] : [])),
    };
  }
}
