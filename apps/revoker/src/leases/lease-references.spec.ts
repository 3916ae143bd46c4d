import type { EventData, Topics } from '@rotor/contracts';
import { BackendRegistry, OpaqueTokenBackend, PostgresBackend, postgresRoleName, RedisAclBackend } from '@rotor/credential-backends';

import { leaseIssuedRejection, leaseRenewedRejection } from './lease-references';

const leaseId = '5b2f7c1e-8f7a-4c2e-9a51-3f3c1e2d4b6a';
const issued = (changes: Partial<EventData<typeof Topics.leaseIssued>> = {}): EventData<typeof Topics.leaseIssued> => ({
  leaseId,
  role: 'db',
  owner: 'team-pay',
  backend: 'postgres',
  workload: { namespace: 'payments', serviceAccount: 'api' },
  issuedAt: '2026-12-01T10:00:00.000Z',
  expiresAt: '2026-12-01T10:15:00.000Z',
  maxExpiresAt: '2026-12-01T11:00:00.000Z',
  revocationHandle: { backend: 'postgres', roleName: postgresRoleName(leaseId) },
  ...changes,
});

// The real backends' lease handles, without their connections: leaseHandle needs none (a Redis client would connect at construction).
const withoutConnection = <T extends { kind: string }>(type: { prototype: T }, kind: T['kind']): T =>
  Object.assign(Object.create(type.prototype) as T, { kind });
const backends = new BackendRegistry([
  new OpaqueTokenBackend(),
  withoutConnection(PostgresBackend, 'postgres'),
  withoutConnection(RedisAclBackend, 'redis-acl'),
]);

describe('lease references the revoker acts on', () => {
  it('tracks a lease whose handle is the one its backend mints for the lease id', () => {
    expect(leaseIssuedRejection(issued(), backends)).toBeUndefined();
    expect(
      leaseIssuedRejection(issued({ role: 'token', backend: 'opaque-token', revocationHandle: { backend: 'opaque-token' } }), backends),
    ).toBeUndefined();
  });

  it("refuses a handle naming another account than the lease's own: an admin role, another lease's role, another backend", () => {
    expect(leaseIssuedRejection(issued({ revocationHandle: { backend: 'postgres', roleName: 'postgres' } }), backends)).toBe(
      'handle-mismatch',
    );
    const otherLease = postgresRoleName('0b2f7c1e-8f7a-4c2e-9a51-3f3c1e2d4b6a');
    expect(leaseIssuedRejection(issued({ revocationHandle: { backend: 'postgres', roleName: otherLease } }), backends)).toBe(
      'handle-mismatch',
    );
    expect(leaseIssuedRejection(issued({ revocationHandle: { backend: 'redis-acl', username: 'default' } }), backends)).toBe(
      'handle-mismatch',
    );
  });

  it('refuses a renewal that describes another lease than the one tracked under its id', () => {
    const tracked = { role: 'db', backend: 'postgres' as const, workload: { namespace: 'payments', serviceAccount: 'api' } };
    const renewal = { ...issued(), renewedAt: '2026-12-01T10:10:00.000Z' };
    expect(leaseRenewedRejection(tracked, renewal)).toBeUndefined();
    expect(leaseRenewedRejection(tracked, { ...renewal, workload: { namespace: 'payments', serviceAccount: 'other' } })).toBe(
      'lease-mismatch',
    );
    expect(leaseRenewedRejection(tracked, { ...renewal, role: 'token' })).toBe('lease-mismatch');
  });
});
