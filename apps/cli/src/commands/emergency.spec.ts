import { derivedRequestId, parseSelector, previewLines } from './emergency';

describe('rotor emergency rotate', () => {
  it('derives one request id from the operator, the selector (in any order), the mode and the reason', () => {
    const id = derivedRequestId('ana', { namespace: 'payments', role: 'db' }, 'graceful', 'key leaked');
    expect(id).toMatch(/^cli-[0-9a-f]{32}$/);
    expect(derivedRequestId('ana', { role: 'db', namespace: 'payments' }, 'graceful', ' key leaked ')).toBe(id);
    for (const other of [
      derivedRequestId('bo', { namespace: 'payments', role: 'db' }, 'graceful', 'key leaked'),
      derivedRequestId('ana', { namespace: 'payments' }, 'graceful', 'key leaked'),
      derivedRequestId('ana', { namespace: 'payments', role: 'db' }, 'immediate', 'key leaked'),
      derivedRequestId('ana', { namespace: 'payments', role: 'db' }, 'graceful', 'another incident'),
    ])
      expect(other).not.toBe(id);
  });

  it('shows a preview as counts by role and backend, and secrets with their targets', () => {
    expect(
      previewLines({
        selector: parseSelector(['namespace=payments']),
        leases: { total: 3, byRole: { 'orders-db': 2, demo: 1 }, byBackend: { postgres: 2, 'opaque-token': 1 } },
        secrets: [{ secret: 'payments-key', targets: [{ kind: 'kubernetes-secret', name: 'k8s' }] }],
      }),
    ).toEqual([
      'leases: 3 (by role: demo 1, orders-db 2; by backend: opaque-token 1, postgres 2)',
      'managed secrets: 1 (payments-key → kubernetes-secret/k8s)',
    ]);
    expect(previewLines({ selector: { all: true }, leases: { total: 0, byRole: {}, byBackend: {} }, secrets: [] })).toEqual([
      'leases: 0',
      'managed secrets: 0',
    ]);
  });
});
