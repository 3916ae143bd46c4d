import { parseCatalog } from '@rotor/catalog';
import { EmergencyPreviewSchema } from '@rotor/rest-contract';

import type { RevokerConfig } from '../config';
import type { LeaseClock } from '../leases/lease-clock';

import { EmergencyPreviewer } from './emergency-preview';

const catalog = parseCatalog(`
managedSecrets:
  - name: payments-key
    owner: team-payments
    generator: { kind: random-bytes }
    rotationPeriod: 1h
    gracePeriod: 5m
    bindings: [{ namespace: payments, serviceAccount: api }]
    targets: [{ kind: kubernetes-secret, name: k8s, namespace: payments, secretName: key }, { kind: file, name: disk, path: /tmp/key }]
  - name: unrelated
    owner: team-x
    generator: { kind: password }
    rotationPeriod: 1h
    gracePeriod: 5m
    bindings: [{ namespace: search, serviceAccount: api }]
`);

type Fields = { role: string; backend: 'postgres' | 'opaque-token'; workload: { namespace: string; serviceAccount: string } };
const api = { namespace: 'payments', serviceAccount: 'api' };
const worker = { namespace: 'payments', serviceAccount: 'worker' };

/** The clock's namespace index, read in pages of two, as SSCAN may: one id twice, one lease revoked since. */
const clock = (leases: Record<string, Fields | undefined>, pages: string[][]) => {
  const scanned: string[] = [];
  return {
    scanned,
    clock: {
      scanIndex: async (index: string, cursor: string) => {
        scanned.push(index);
        const page = Number(cursor);
        return [page + 1 < pages.length ? String(page + 1) : '0', pages[page] ?? []];
      },
      matchFields: async (ids: string[]) => ids.map((id) => leases[id]),
    } as unknown as LeaseClock,
  };
};

const config = { emergency: { batch: 2 } } as RevokerConfig;

describe('EmergencyPreviewer', () => {
  it('counts the matching leases by role and backend (each once, none revoked) and lists the secrets with their targets', async () => {
    const { clock: leaseClock, scanned } = clock(
      {
        a: { role: 'orders-db', backend: 'postgres', workload: api },
        b: { role: 'orders-db', backend: 'postgres', workload: worker },
        c: { role: 'demo-token', backend: 'opaque-token', workload: api },
        gone: undefined,
      },
      [['a', 'b'], ['c', 'a'], ['gone']],
    );
    const preview = await new EmergencyPreviewer(leaseClock, catalog, config).preview({ namespace: 'payments', serviceAccount: 'api' });
    expect(preview).toEqual({
      selector: { namespace: 'payments', serviceAccount: 'api' },
      leases: { total: 2, byRole: { 'orders-db': 1, 'demo-token': 1 }, byBackend: { postgres: 1, 'opaque-token': 1 } },
      secrets: [
        {
          secret: 'payments-key',
          targets: [
            { kind: 'kubernetes-secret', name: 'k8s' },
            { kind: 'file', name: 'disk' },
          ],
        },
      ],
    });
    expect(scanned).toEqual(['sa:payments/api', 'sa:payments/api', 'sa:payments/api']);
    expect(EmergencyPreviewSchema.parse(preview)).toEqual(preview);
  });

  it('reads no lease for a selector naming a managed secret', async () => {
    const { clock: leaseClock, scanned } = clock({}, [['a']]);
    const preview = await new EmergencyPreviewer(leaseClock, catalog, config).preview({ secret: 'unrelated' });
    expect(preview.leases).toEqual({ total: 0, byRole: {}, byBackend: {} });
    expect(preview.secrets.map((secret) => secret.secret)).toEqual(['unrelated']);
    expect(scanned).toEqual([]);
  });
});
