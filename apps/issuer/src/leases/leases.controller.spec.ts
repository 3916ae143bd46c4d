import { IssuedCredentialSchema, LeaseRevocationSchema, LeaseViewSchema } from '@rotor/rest-contract';
import type { DomainError } from '@rotor/errors';
import type { OperatorCaller, WorkloadCaller } from '@rotor/identity';

import type { Lease } from './lease';
import { LeasesController } from './leases.controller';
import type { LeaseService } from './lease.service';

/** What a client receives: the controller's value through JSON, as Nest sends it. */
const wire = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

const caller: WorkloadCaller = {
  kind: 'workload',
  subject: 'system:serviceaccount:shop:orders',
  workload: { namespace: 'shop', serviceAccount: 'orders' },
};
const lease: Lease = {
  id: '7d1c6f0e-8d0b-4a53-9f5e-2f1b7a3c9e11',
  role: 'orders-db',
  owner: 'payments',
  backend: 'postgres',
  holder: { kind: 'workload', workload: { namespace: 'shop', serviceAccount: 'orders', podName: 'orders-0' } },
  task: 'nightly',
  issuedAt: new Date('2099-01-01T00:00:00Z'),
  expiresAt: new Date('2099-01-01T00:15:00Z'),
  maxExpiresAt: new Date('2099-01-01T01:00:00Z'),
  state: 'active',
  handle: { backend: 'postgres', roleName: 'rotor_x' },
};
const revoked: Lease = { ...lease, state: 'revoked', revokedAt: new Date('2099-01-01T00:05:00Z'), revocationReason: 'requested' };

const service = {
  issue: async () => ({ lease, credential: { username: 'rotor_x', password: 'p' } }),
  get: async () => lease,
  renew: async () => lease,
  requestRevocation: async () => revoked,
} as unknown as LeaseService;
const controller = new LeasesController(service);

const expectedView = {
  leaseId: lease.id,
  role: 'orders-db',
  owner: 'payments',
  backend: 'postgres',
  workload: { namespace: 'shop', serviceAccount: 'orders', podName: 'orders-0' },
  task: 'nightly',
  state: 'active',
  issuedAt: '2099-01-01T00:00:00.000Z',
  expiresAt: '2099-01-01T00:15:00.000Z',
  maxExpiresAt: '2099-01-01T01:00:00.000Z',
};

describe('issuer lease routes answer what rest-contract documents', () => {
  it('POST /v1/credentials: the lease and its credential', async () => {
    const body = wire(await controller.issue(caller, { role: 'orders-db' }, undefined));
    expect(body).toEqual({ ...expectedView, credential: { username: 'rotor_x', password: 'p' } });
    // Parsing strips what the schema does not name: equal means every field is documented.
    expect(IssuedCredentialSchema.parse(body)).toEqual(body);
  });

  it('GET and renew: the lease view', async () => {
    for (const body of [wire(await controller.get(caller, lease.id)), wire(await controller.renew(caller, lease.id, {}))]) {
      expect(body).toEqual(expectedView);
      expect(LeaseViewSchema.parse(body)).toEqual(body);
    }
  });

  it('DELETE: the lease, when and why it was revoked, and whether that is done', async () => {
    const body = wire(await controller.revoke(caller, lease.id));
    expect(body).toEqual({
      ...expectedView,
      state: 'revoked',
      revokedAt: '2099-01-01T00:05:00.000Z',
      revocationReason: 'requested',
      revocation: 'done',
    });
    expect(LeaseRevocationSchema.parse(body)).toEqual(body);
  });
});

describe('issuer lease routes for operators', () => {
  const operator = (groups: string[]): OperatorCaller => ({ kind: 'operator', subject: 'ana@example.com', groups });
  const asked: { method: string; caller: unknown }[] = [];
  const recording = new LeasesController({
    get: async (who: unknown) => (asked.push({ method: 'get', caller: who }), lease),
    requestRevocation: async (who: unknown) => (asked.push({ method: 'revoke', caller: who }), revoked),
  } as unknown as LeaseService);
  const refusal = (promise: Promise<unknown>) =>
    promise.then(
      () => undefined,
      (error: DomainError) => `${error.kind} ${error.code}`,
    );

  it('lets an SRE read and revoke any lease, as themselves (the event names them)', async () => {
    const sre = operator(['rotor:sre']);
    await recording.get(sre, lease.id);
    await recording.revoke(sre, lease.id);
    expect(asked.splice(0)).toEqual([
      { method: 'get', caller: sre },
      { method: 'revoke', caller: sre },
    ]);
  });

  it('lets an auditor read but not revoke, and refuses a person in no rotor group', async () => {
    await recording.get(operator(['rotor:auditor']), lease.id);
    expect(await refusal(recording.revoke(operator(['rotor:auditor']), lease.id))).toBe('forbidden missing-group');
    expect(await refusal(recording.get(operator([]), lease.id))).toBe('forbidden missing-group');
    expect(asked.splice(0).map((call) => call.method)).toEqual(['get']);
  });

  it('still issues credentials to workloads only', async () => {
    expect(await refusal(recording.issue(operator(['rotor:sre']), { role: 'orders-db' }, undefined))).toBe('forbidden workloads-only');
  });
});
