import { parseCatalog } from '@rotor/catalog';
import { EmergencySelectorSchema } from '@rotor/rest-contract';

import { indexDecides, leaseMatches, matchSecrets, primaryLeaseIndex, selectsLeases } from './emergency-matcher';

const catalog = parseCatalog(`
managedSecrets:
  - name: payments-key
    owner: team-payments
    generator: { kind: random-bytes }
    rotationPeriod: 1h
    gracePeriod: 5m
    bindings: [{ namespace: payments, serviceAccount: api }]
  - name: shared-db
    owner: team-platform
    generator: { kind: password }
    rotationPeriod: 1h
    gracePeriod: 5m
    bindings: [{ namespace: 'pay*', serviceAccount: '*' }]
  - name: delivered-only
    owner: team-platform
    generator: { kind: password }
    rotationPeriod: 1h
    gracePeriod: 5m
    targets: [{ kind: kubernetes-secret, name: k8s, namespace: payments, secretName: db }]
  - name: unrelated
    owner: team-x
    generator: { kind: password }
    rotationPeriod: 1h
    gracePeriod: 5m
    bindings: [{ namespace: search, serviceAccount: api }]
`);

const lease = { role: 'orders-db', backend: 'postgres' as const, workload: { namespace: 'payments', serviceAccount: 'api' } };

describe('emergency selectors', () => {
  it('rejects an empty selector, an unknown field, all combined with others, and a service account without namespace', () => {
    expect(EmergencySelectorSchema.safeParse({}).success).toBe(false);
    expect(EmergencySelectorSchema.safeParse({ namespace: 'a', colour: 'red' }).error?.issues[0]).toMatchObject({
      code: 'unrecognized_keys',
      keys: ['colour'],
    });
    expect(EmergencySelectorSchema.safeParse({ all: true, role: 'x' }).success).toBe(false);
    expect(EmergencySelectorSchema.safeParse({ serviceAccount: 'api' }).success).toBe(false);
    expect(EmergencySelectorSchema.safeParse({ all: true }).success).toBe(true);
  });

  it('matches managed secrets by name, by binding or Kubernetes target in a namespace, never by role or backend', () => {
    expect(matchSecrets(catalog, { all: true })).toEqual(['delivered-only', 'payments-key', 'shared-db', 'unrelated']);
    expect(matchSecrets(catalog, { secret: 'shared-db' })).toEqual(['shared-db']);
    expect(matchSecrets(catalog, { namespace: 'payments' })).toEqual(['delivered-only', 'payments-key', 'shared-db']);
    expect(matchSecrets(catalog, { namespace: 'payments', serviceAccount: 'worker' })).toEqual(['delivered-only', 'shared-db']);
    expect(matchSecrets(catalog, { secret: 'unrelated', namespace: 'payments' })).toEqual([]);
    expect(matchSecrets(catalog, { role: 'orders-db' })).toEqual([]);
    expect(matchSecrets(catalog, { backend: 'postgres' })).toEqual([]);
  });

  it('reads the narrowest lease index and filters on the other fields', () => {
    expect(primaryLeaseIndex({ namespace: 'payments', serviceAccount: 'api', role: 'x' })).toBe('sa:payments/api');
    expect(primaryLeaseIndex({ namespace: 'payments', backend: 'postgres' })).toBe('ns:payments');
    expect(primaryLeaseIndex({ role: 'orders-db' })).toBe('role:orders-db');
    expect(primaryLeaseIndex({ all: true })).toBe('all');
    expect(indexDecides({ namespace: 'payments', serviceAccount: 'api' })).toBe(true);
    expect(indexDecides({ namespace: 'payments', backend: 'postgres' })).toBe(false);
    expect(leaseMatches(lease, { namespace: 'payments', backend: 'postgres' })).toBe(true);
    expect(leaseMatches(lease, { namespace: 'payments', backend: 'redis-acl' })).toBe(false);
    expect(selectsLeases({ secret: 'shared-db' })).toBe(false);
  });
});
