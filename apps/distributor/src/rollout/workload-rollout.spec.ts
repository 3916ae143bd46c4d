import type { TargetOf } from '@rotor/catalog';
import type { RolloutKind } from '@rotor/catalog';

import { rolloutAnnotation, type Workload } from './workload-references';
import { WorkloadRollout, type WorkloadApi } from './workload-rollout';

/** Workloads in memory, listed in pages of two, applying merge patches to template annotations. */
class MemoryWorkloads implements WorkloadApi {
  readonly patches: { kind: RolloutKind; namespace: string; name: string; patch: object }[] = [];
  failPatch?: Error;

  constructor(readonly workloads: Workload[]) {}

  async list(kind: RolloutKind, namespace: string, continueToken?: string) {
    const all = this.workloads.filter((w) => w.kind === kind && w.metadata?.namespace === namespace);
    const start = continueToken ? Number(continueToken) : 0;
    const next = start + 2 < all.length ? String(start + 2) : undefined;
    return { items: structuredClone(all.slice(start, start + 2)), ...(next ? { continueToken: next } : {}) };
  }

  async patch(kind: RolloutKind, namespace: string, name: string, patch: object) {
    if (this.failPatch) throw this.failPatch;
    this.patches.push({ kind, namespace, name, patch });
    const workload = this.workloads.find((w) => w.kind === kind && w.metadata?.namespace === namespace && w.metadata?.name === name)!;
    const annotations = (patch as { spec: { template: { metadata: { annotations: Record<string, string> } } } }).spec.template.metadata
      .annotations;
    const metadata = (workload.spec!.template!.metadata ??= {});
    metadata.annotations = { ...metadata.annotations, ...annotations };
  }
}

const using = (kind: RolloutKind, name: string, secretName: string, namespace = 'shop'): Workload => ({
  kind,
  metadata: { name, namespace },
  spec: {
    template: {
      spec: { containers: [{ name: 'app', envFrom: [{ secretRef: { name: secretName } }] }] },
    },
  },
});

const target = (rollout?: { kinds: RolloutKind[] }): TargetOf<'kubernetes-secret'> => ({
  kind: 'kubernetes-secret',
  name: 'cluster',
  namespace: 'shop',
  secretName: 'payments',
  key: 'api-key',
  repairDrift: false,
  ...(rollout ? { rollout } : {}),
});

const v1 = 'k1:' + '1'.repeat(64);
const v2 = 'k1:' + '2'.repeat(64);
const annotationOf = (w: Workload) => w.spec?.template?.metadata?.annotations?.[rolloutAnnotation('payments')];

describe('WorkloadRollout', () => {
  const cluster = () =>
    new MemoryWorkloads([
      using('Deployment', 'web-1', 'payments'),
      using('Deployment', 'web-2', 'other'),
      using('Deployment', 'web-3', 'payments'),
      using('Deployment', 'web-4', 'payments', 'elsewhere'),
      using('Deployment', 'web-5', 'payments'),
      using('StatefulSet', 'db', 'payments'),
    ]);

  it('patches nothing for a target without rollout', async () => {
    const api = cluster();
    expect(await new WorkloadRollout(api).rollOut(target(), v1)).toEqual([]);
    expect(api.patches).toEqual([]);
  });

  it('patches every referencing Deployment and StatefulSet of the namespace, across pages, and no other', async () => {
    const api = cluster();
    const rolled = await new WorkloadRollout(api).rollOut(target({ kinds: ['Deployment', 'StatefulSet'] }), v1);
    expect(rolled).toEqual([
      { kind: 'Deployment', name: 'web-1', patched: true },
      { kind: 'Deployment', name: 'web-3', patched: true },
      { kind: 'Deployment', name: 'web-5', patched: true },
      { kind: 'StatefulSet', name: 'db', patched: true },
    ]);
    expect(api.patches.map((p) => `${p.namespace}/${p.name}`)).toEqual(['shop/web-1', 'shop/web-3', 'shop/web-5', 'shop/db']);
    expect(api.workloads.filter((w) => annotationOf(w) === v1).map((w) => w.metadata!.name)).toEqual(['web-1', 'web-3', 'web-5', 'db']);
  });

  it('limits itself to the kinds the target lists', async () => {
    const api = cluster();
    await new WorkloadRollout(api).rollOut(target({ kinds: ['StatefulSet'] }), v1);
    expect(api.patches.map((p) => p.name)).toEqual(['db']);
  });

  it('is idempotent: the same version again patches nothing; a new version patches again', async () => {
    const api = cluster();
    const rollout = new WorkloadRollout(api);
    const all = target({ kinds: ['Deployment', 'StatefulSet'] });
    await rollout.rollOut(all, v1);
    api.patches.length = 0;
    expect((await rollout.rollOut(all, v1)).every((w) => !w.patched)).toBe(true);
    expect(api.patches).toEqual([]);
    await rollout.rollOut(all, v2);
    expect(api.patches).toHaveLength(4);
    expect(api.patches[0]!.patch).toEqual({ spec: { template: { metadata: { annotations: { 'secret.rotor.dev/payments': v2 } } } } });
  });

  it('lets a patch failure through to the caller (the delivery job retries it)', async () => {
    const api = cluster();
    api.failPatch = Object.assign(new Error('forbidden'), { code: 403 });
    await expect(new WorkloadRollout(api).rollOut(target({ kinds: ['Deployment'] }), v1)).rejects.toThrow('forbidden');
  });
});
