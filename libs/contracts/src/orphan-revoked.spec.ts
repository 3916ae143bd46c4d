import { EventDataSchemas } from './events';
import { Topics } from './topics';

describe('reconciliation events', () => {
  it('still reads a lease.revoked written before catalog-withdrawn existed, and reads the new reason', () => {
    const before = {
      leaseId: '0b7c4c1e-9a51-4d0e-8d7e-6f1f1d2a3b4c',
      role: 'orders-db',
      owner: 'team-orders',
      backend: 'postgres',
      workload: { namespace: 'shop', serviceAccount: 'orders' },
      reason: 'expired',
      revokedAt: '2026-12-01T10:00:00.000Z',
    };
    expect(EventDataSchemas[Topics.leaseRevoked].safeParse(before).success).toBe(true);
    expect(EventDataSchemas[Topics.leaseRevoked].safeParse({ ...before, reason: 'catalog-withdrawn' }).success).toBe(true);
  });

  it('describes an orphaned credential by its handle and lease id, and has no field for a value', () => {
    const schema = EventDataSchemas[Topics.credentialOrphanRevoked];
    const event = {
      backend: 'redis-acl',
      leaseId: '0b7c4c1e-9a51-4d0e-8d7e-6f1f1d2a3b4c',
      revocationHandle: { backend: 'redis-acl', username: 'rotor-0b7c4c1e-9a51-4d0e-8d7e-6f1f1d2a3b4c' },
      reason: 'untracked',
      firstSeenAt: '2026-12-01T10:00:00.000Z',
      revokedAt: '2026-12-01T10:15:00.000Z',
    };
    expect(schema.parse({ ...event, password: 'canary' })).not.toHaveProperty('password');
    expect(schema.safeParse({ ...event, reason: 'because' }).success).toBe(false);
  });
});
