import { parseCatalog } from '@rotor/catalog';

import { withdrawalOf } from './catalog-allowance';

const catalog = parseCatalog(`
roles:
  - name: orders-db
    owner: team-orders
    backend: { kind: postgres, grants: ['GRANT CONNECT ON DATABASE rotor TO {{role}}'] }
    bindings: [{ namespace: shop, serviceAccount: orders }, { namespace: 'batch-*', serviceAccount: '*' }]
    ttl: 15m
    maxTtl: 1h
`);

const lease = { role: 'orders-db', backend: 'postgres' as const, workload: { namespace: 'shop', serviceAccount: 'orders' } };

describe('withdrawalOf', () => {
  it('allows a lease whose role still exists with its backend and still binds its workload', () => {
    expect(withdrawalOf(catalog, lease)).toBeUndefined();
    expect(withdrawalOf(catalog, { ...lease, workload: { namespace: 'batch-7', serviceAccount: 'x' } })).toBeUndefined();
  });

  it('names what the catalog dropped: the role, its backend, or the binding', () => {
    expect(withdrawalOf(catalog, { ...lease, role: 'gone' })).toBe('role-removed');
    expect(withdrawalOf(catalog, { ...lease, backend: 'redis-acl' })).toBe('backend-changed');
    expect(withdrawalOf(catalog, { ...lease, workload: { namespace: 'shop', serviceAccount: 'cart' } })).toBe('binding-removed');
  });
});
