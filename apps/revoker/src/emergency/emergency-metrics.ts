import { Injectable } from '@nestjs/common';

import { Metrics, type GaugeSample } from '@rotor/telemetry';

import { EmergencyIndex } from './emergency-index';
import { EmergencyStore, type EmergencyProgress, type EmergencyScope } from './emergency.store';

const SCOPES: readonly EmergencyScope[] = ['rotation', 'lease-revocation'];
/** Both gauges are read in one scrape: one Redis read serves them. */
const READ_REUSE_MS = 1_000;

/**
 * Emergency progress at scrape time, from the runs' records in Redis: how many runs are active
 * and where their items stand. Labels are the run's scope and the item state, never a run id:
 * every replica exports the same values (aggregate with max, not sum).
 */
@Injectable()
export class EmergencyMetrics {
  private reading?: { at: number; runs: Promise<EmergencyProgress[] | undefined> };

  constructor(
    private readonly store: EmergencyStore,
    private readonly index: EmergencyIndex,
    metrics: Metrics,
  ) {
    metrics.gaugeSeries('rotor_emergency_rotations_active', 'Emergency runs in progress, by scope', ['scope'], async () => {
      const runs = await this.running();
      return runs && SCOPES.map((scope) => ({ labels: { scope }, value: runs.filter((run) => run.rotation.scope === scope).length }));
    });
    metrics.gaugeSeries(
      'rotor_emergency_rotation_items',
      'Items of the emergency runs in progress, by scope and state (leases: pending, revoked, failed; secrets: awaiting-rotation, rotated; copies: delivered; old versions: retired)',
      ['scope', 'state'],
      async () => {
        const runs = await this.running();
        return runs && itemSeries(runs);
      },
    );
  }

  private running(): Promise<EmergencyProgress[] | undefined> {
    if (!this.reading || Date.now() - this.reading.at > READ_REUSE_MS)
      this.reading = { at: Date.now(), runs: this.readRunning().catch(() => undefined) };
    return this.reading.runs;
  }

  private async readRunning(): Promise<EmergencyProgress[]> {
    const runs: EmergencyProgress[] = [];
    for (const scope of SCOPES) {
      let after: string | undefined;
      do {
        const loaded = new Map<string, EmergencyProgress>();
        const page = await this.index.page(scope, { state: 'running', limit: 500, ...(after ? { after } : {}) }, (ids) =>
          Promise.all(
            ids.map(async (id) => {
              const progress = await this.store.progress(id);
              if (progress) loaded.set(id, progress);
              return progress && { id, state: progress.rotation.state };
            }),
          ),
        );
        runs.push(...page.ids.map((id) => loaded.get(id)!));
        after = page.next;
      } while (after);
    }
    return runs;
  }
}

/** Sums the runs' items by scope and state; every state of an active scope is exported, zeros included. */
function itemSeries(runs: EmergencyProgress[]): GaugeSample<'scope' | 'state'>[] {
  const totals = new Map<EmergencyScope, Map<string, number>>();
  const add = (scope: EmergencyScope, state: string, value: number) => {
    const states = totals.get(scope) ?? new Map<string, number>();
    totals.set(scope, states.set(state, (states.get(state) ?? 0) + Math.max(0, value)));
  };
  for (const { rotation, matched, counts } of runs) {
    add(rotation.scope, 'pending', matched.leases - counts.revoked - counts.failed);
    add(rotation.scope, 'revoked', counts.revoked);
    add(rotation.scope, 'failed', counts.failed);
    if (rotation.scope !== 'rotation') continue;
    add(rotation.scope, 'awaiting-rotation', matched.secrets - counts.rotated);
    add(rotation.scope, 'rotated', counts.rotated);
    add(rotation.scope, 'delivered', counts.delivered);
    add(rotation.scope, 'retired', counts.retired);
  }
  return [...totals].flatMap(([scope, states]) => [...states].map(([state, value]) => ({ labels: { scope, state }, value })));
}
