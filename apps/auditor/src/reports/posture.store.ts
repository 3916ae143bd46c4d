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
  type AuditViewsReader,
  type IrrevocableLease,
} from '@rotor/audit-chain';

import { AUDIT_VIEWS } from '../platform/tokens';

/** Reads the posture state the audit projection keeps (libs/audit-chain posture-projection.ts). */
@Injectable()
export class PostureStore {
  constructor(@Inject(AUDIT_VIEWS) private readonly views: AuditViewsReader) {}

  async discoveredCopies(now: number): Promise<CopyView[]> {
    const ids = await this.views.members(ViewKeys.discoveredCopies);
    const fields = await this.hashes(ids.map(ViewKeys.copy));
    return ids.map((id, index) => copyView(id, fields[index]!, now));
  }

  async drifts(): Promise<DriftFinding[]> {
    const locators = await this.views.members(ViewKeys.drifts);
    return (await this.hashes(locators.map(ViewKeys.drift))).flatMap((fields) => driftFinding(fields) ?? []);
  }

  async irrevocableLeases(): Promise<IrrevocableLease[]> {
    const ids = await this.views.members(ViewKeys.irrevocableLeases);
    return (await this.hashes(ids.map(ViewKeys.lease))).flatMap((fields) => irrevocableLease(fields) ?? []);
  }

  async breakGlass(): Promise<{ uses: BreakGlassUse[]; versions: Record<string, number[]> }> {
    const ids = await this.views.members(ViewKeys.breakGlasses);
    const uses = (await this.hashes(ids.map(ViewKeys.breakGlass))).flatMap((fields) => breakGlassUse(fields) ?? []);
    const secrets = [...new Set(uses.flatMap((use) => use.secrets))];
    const scored = await Promise.all(secrets.map((secret) => this.views.scoredMembers(ViewKeys.breakGlassVersions(secret))));
    const versions = Object.fromEntries(secrets.map((secret, index) => [secret, scored[index]!.map(([, score]) => score)]));
    return { uses, versions };
  }

  private hashes(keys: string[]): Promise<HashFields[]> {
    return this.views.entities(keys);
  }
}
