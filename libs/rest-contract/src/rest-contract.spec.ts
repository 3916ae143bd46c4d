import { z } from 'zod';

import {
  irrevocableLeaseView,
  IrrevocableLeaseSchema,
  leaseView,
  LeaseViewSchema,
  PostureReportSchema,
  referencedComponents,
  restComponents,
  schemaRef,
} from './index';

const lease = {
  id: '7d1c6f0e-8d0b-4a53-9f5e-2f1b7a3c9e11',
  role: 'orders-db',
  owner: 'payments',
  backend: 'postgres' as const,
  holder: { kind: 'workload' as const, workload: { namespace: 'shop', serviceAccount: 'orders' } },
  state: 'active' as const,
  issuedAt: new Date('2026-01-01T00:00:00Z'),
  expiresAt: new Date('2026-01-01T00:15:00Z'),
  maxExpiresAt: new Date('2026-01-01T01:00:00Z'),
};

describe('lease views', () => {
  it('maps a workload lease, reading an active one past its expiry as expired', () => {
    const view = leaseView(lease, new Date('2026-01-01T00:20:00Z'));
    expect(view).toEqual({
      leaseId: lease.id,
      role: 'orders-db',
      owner: 'payments',
      backend: 'postgres',
      workload: { namespace: 'shop', serviceAccount: 'orders' },
      state: 'expired',
      issuedAt: '2026-01-01T00:00:00.000Z',
      expiresAt: '2026-01-01T00:15:00.000Z',
      maxExpiresAt: '2026-01-01T01:00:00.000Z',
    });
    expect(LeaseViewSchema.parse(view)).toEqual(view);
  });

  it('names an operator holder instead of a workload, and says when and why it was revoked', () => {
    const view = leaseView(
      {
        ...lease,
        holder: { kind: 'operator', subject: 'alice' },
        task: 'ticket-1',
        state: 'revoked',
        revokedAt: new Date('2026-01-01T00:05:00Z'),
        revocationReason: 'requested',
      },
      new Date('2026-01-01T00:20:00Z'),
    );
    expect(view).toMatchObject({ holder: { kind: 'operator', subject: 'alice' }, task: 'ticket-1', state: 'revoked' });
    expect(view).not.toHaveProperty('workload');
    expect(view).toMatchObject({ revokedAt: '2026-01-01T00:05:00.000Z', revocationReason: 'requested' });
    expect(LeaseViewSchema.parse(view)).toEqual(view);
  });

  it('maps an irrevocable lease with its attempts', () => {
    const view = irrevocableLeaseView({
      ...lease,
      workload: lease.holder.workload,
      state: 'irrevocable',
      attempts: 7,
      lastError: 'connection refused',
    });
    expect(JSON.parse(JSON.stringify(view))).toEqual({
      leaseId: lease.id,
      role: 'orders-db',
      owner: 'payments',
      backend: 'postgres',
      workload: { namespace: 'shop', serviceAccount: 'orders' },
      state: 'irrevocable',
      expiresAt: '2026-01-01T00:15:00.000Z',
      attempts: 7,
      lastError: 'connection refused',
    });
    expect(IrrevocableLeaseSchema.parse(view)).toEqual(view);
  });
});

describe('OpenAPI components', () => {
  it('gives every named schema a component without $id or $schema, referencing the others', () => {
    const components = restComponents();
    expect(Object.keys(components)).toEqual(
      expect.arrayContaining(['LeaseView', 'IssuedCredential', 'EmergencyRotationView', 'PostureReport', 'ProblemDetails', 'InventoryAt']),
    );
    for (const component of Object.values(components)) {
      expect(component).not.toHaveProperty('$id');
      expect(component).not.toHaveProperty('$schema');
    }
    expect(components['PostureReport']).toMatchObject({
      properties: { findings: { type: 'array', items: { $ref: '#/components/schemas/PostureFinding' } } },
    });
  });

  it('refers to a schema by its name and refuses one that has none', () => {
    expect(schemaRef(PostureReportSchema)).toEqual({ $ref: '#/components/schemas/PostureReport' });
    expect(() => schemaRef(z.object({}))).toThrow(/not registered/);
  });

  it('collects only the components a document reaches, through other components too', () => {
    const used = referencedComponents({ paths: { '/x': { get: { responses: { 200: { schema: schemaRef(PostureReportSchema) } } } } } });
    expect(Object.keys(used).sort()).toEqual(['PostureFinding', 'PostureReport']);
  });
});
