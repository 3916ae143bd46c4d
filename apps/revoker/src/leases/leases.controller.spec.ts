import type { OperatorCaller } from '@rotor/identity';
import { IrrevocableLeasePageSchema } from '@rotor/rest-contract';

import type { LeaseClock } from './lease-clock';
import { LeasesController } from './leases.controller';
import type { TrackedLease } from './tracked-lease';

const sre: OperatorCaller = { kind: 'operator', subject: 'alice', groups: ['rotor:sre'] };
const irrevocable: TrackedLease = {
  id: '7d1c6f0e-8d0b-4a53-9f5e-2f1b7a3c9e11',
  role: 'orders-db',
  owner: 'payments',
  backend: 'postgres',
  workload: { namespace: 'shop', serviceAccount: 'orders' },
  handle: { backend: 'postgres', roleName: 'rotor_x' },
  expiresAt: new Date('2026-01-01T00:15:00Z'),
  state: 'irrevocable',
  requestedReason: 'expired',
  attempts: 7,
  lastError: 'connection refused',
};

describe('GET /v1/leases?state=irrevocable answers what rest-contract documents', () => {
  it('lists each lease with its attempts, never its revocation handle', async () => {
    const clock = { listIrrevocable: async () => [irrevocable, { ...irrevocable, id: 'b', attempts: 5, lastError: undefined }] };
    const body = JSON.parse(JSON.stringify(await new LeasesController(clock as unknown as LeaseClock).list(sre, 'irrevocable')));
    const view = {
      leaseId: irrevocable.id,
      role: 'orders-db',
      owner: 'payments',
      backend: 'postgres',
      workload: { namespace: 'shop', serviceAccount: 'orders' },
      state: 'irrevocable',
      expiresAt: '2026-01-01T00:15:00.000Z',
    };
    expect(body).toEqual({
      items: [
        { ...view, attempts: 7, lastError: 'connection refused' },
        { ...view, leaseId: 'b', attempts: 5 },
      ],
    });
    expect(IrrevocableLeasePageSchema.parse(body)).toEqual(body);
  });
});
