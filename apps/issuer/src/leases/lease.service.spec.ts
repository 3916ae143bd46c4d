import type { Catalog } from '@rotor/catalog';
import type { BackendRegistry, CredentialBackend } from '@rotor/credential-backends';
import type { WorkloadCaller } from '@rotor/identity';
import { PublishTimeoutError, type EventPublisher } from '@rotor/kafka';
import { DependencyGate, ReadinessRegistry } from '@rotor/service-kit';
import { Metrics, type Logger } from '@rotor/telemetry';

import type { TokenHasher } from '../introspection/token-hasher';

import type { ActiveLeases } from './active-leases';
import type { Lease } from './lease';
import type { LeaseStore } from './lease.store';
import { LeaseService } from './lease.service';

const workload = { namespace: 'shop', serviceAccount: 'orders' };
const caller = { kind: 'workload', subject: 'system:serviceaccount:shop:orders', workload } as unknown as WorkloadCaller;
const catalog = {
  roles: [{ name: 'db', owner: 'team', backend: { kind: 'postgres' }, ttl: 60_000, maxTtl: 600_000 }],
} as unknown as Catalog;

/** A lease issued a minute ago, ending in 30 s, as the issuer's Redis holds it. */
const storedLease = (): Lease => {
  const now = Date.now();
  return {
    id: '6f1c2b5e-8d1a-4a57-9d2e-3b9f0c1a2d3e',
    role: 'db',
    owner: 'team',
    backend: 'postgres',
    holder: { kind: 'workload', workload },
    issuedAt: new Date(now - 60_000),
    expiresAt: new Date(now + 30_000),
    maxExpiresAt: new Date(now + 500_000),
    state: 'active',
    handle: { backend: 'postgres', roleName: 'rotor_6f1c2b5e8d1a4a579d2e3b9f0c1a2d3e' },
  };
};

/** Every expiry the backend, the lease record and the quota count were last set to. */
function renewalFixture(publish: () => Promise<void>) {
  const lease = storedLease();
  const state = { backend: lease.expiresAt, record: lease.expiresAt, quota: lease.expiresAt };
  const backend = { renew: (_handle: unknown, at: Date) => Promise.resolve(void (state.backend = at)) } as unknown as CredentialBackend;
  const backends = { get: () => backend, dependenciesOf: () => ['postgres'] } as unknown as BackendRegistry;
  const leases = {
    get: () => Promise.resolve({ ...lease, expiresAt: state.record }),
    updateExpiry: (_lease: Lease, at: Date) => Promise.resolve(void (state.record = at)),
  } as unknown as LeaseStore;
  const activeLeases = { extend: (_lease: Lease, at: Date) => Promise.resolve(void (state.quota = at)) } as unknown as ActiveLeases;
  const publisher = { publish } as unknown as EventPublisher;
  const logger = { error: () => undefined, info: () => undefined, debug: () => undefined, warn: () => undefined } as unknown as Logger;
  const service = new LeaseService(
    catalog,
    backends,
    leases,
    activeLeases,
    publisher,
    {} as TokenHasher,
    logger,
    new Metrics('issuer'),
    undefined,
    1_500,
  );
  return { service, lease, state };
}

describe('LeaseService.renew', () => {
  it('extends the backend, the lease record and the quota count when lease.renewed is recorded', async () => {
    const { service, lease, state } = renewalFixture(() => Promise.resolve());
    const renewed = await service.renew(caller, lease.id, undefined);
    expect(renewed.expiresAt.getTime()).toBeGreaterThan(lease.expiresAt.getTime());
    expect(state).toEqual({ backend: renewed.expiresAt, record: renewed.expiresAt, quota: renewed.expiresAt });
  });

  it('answers 503 kafka-unavailable and puts every expiry back when lease.renewed times out', async () => {
    const { service, lease, state } = renewalFixture(() => Promise.reject(new PublishTimeoutError('lease.renewed not acknowledged')));
    await expect(service.renew(caller, lease.id, undefined)).rejects.toMatchObject({
      kind: 'unavailable',
      code: 'kafka-unavailable',
      retryAfterSeconds: 5,
    });
    // The revoker never heard of the renewal: nothing may outlive the end it still holds.
    expect(state).toEqual({ backend: lease.expiresAt, record: lease.expiresAt, quota: lease.expiresAt });
  });

  it('when the backend does not answer, does not ask it again to undo: one bound, not two, and nothing else changed', async () => {
    const { service, lease, state } = renewalFixture(() => Promise.resolve());
    const calls: Date[] = [];
    const failing = { renew: (_handle: unknown, at: Date) => (calls.push(at), Promise.reject(new Error('Query read timeout'))) };
    (service as unknown as { backends: { get: () => unknown } }).backends.get = () => failing;
    await expect(service.renew(caller, lease.id, undefined)).rejects.toThrow('Query read timeout');
    expect(calls).toHaveLength(1);
    expect(state).toEqual({ backend: lease.expiresAt, record: lease.expiresAt, quota: lease.expiresAt });
  });

  it('passes the bound to the lease.renewed produce', async () => {
    const options: unknown[] = [];
    const { service, lease } = renewalFixture((...args: unknown[]) => Promise.resolve(void options.push(args[1])));
    await service.renew(caller, lease.id, undefined);
    expect(options).toEqual([expect.objectContaining({ timeoutMs: 1_500 })]);
  });
});

describe('LeaseService.issue when the lease cannot be recorded', () => {
  it('undoes the Redis records together, so a hanging Redis delays the 503 by one timeout, not one per step', async () => {
    const slow = () => new Promise<void>((resolve) => setTimeout(resolve, 300));
    const revoked: unknown[] = [];
    const backend = {
      issue: () => Promise.resolve({ handle: { backend: 'opaque-token', tokenId: 't' }, credential: { token: 'x' } }),
      revoke: (handle: unknown) => Promise.resolve(void revoked.push(handle)),
    } as unknown as CredentialBackend;
    const leases = {
      claimIdempotencyKey: () => Promise.resolve(undefined),
      create: () => Promise.resolve(),
      remove: slow,
      releaseIdempotencyKey: slow,
    } as unknown as LeaseStore;
    const activeLeases = { reserve: () => Promise.resolve('reserved'), release: slow } as unknown as ActiveLeases;
    const publisher = {
      publish: () => Promise.reject(new PublishTimeoutError('lease.issued not acknowledged')),
    } as unknown as EventPublisher;
    const logger = { error: () => undefined, info: () => undefined, debug: () => undefined } as unknown as Logger;
    const service = new LeaseService(
      {
        roles: [{ name: 'token', owner: 'team', backend: { kind: 'opaque-token' }, bindings: [workload], ttl: 60_000, maxTtl: 600_000 }],
      } as unknown as Catalog,
      { get: () => backend, dependenciesOf: () => [] } as unknown as BackendRegistry,
      leases,
      activeLeases,
      publisher,
      { hash: () => 'k1:hash' } as unknown as TokenHasher,
      logger,
      new Metrics('issuer'),
    );
    const started = Date.now();
    await expect(service.issue({ caller, role: 'token', idempotencyKey: 'retry-1' })).rejects.toMatchObject({
      code: 'issuance-incomplete',
    });
    expect(revoked).toHaveLength(1); // the credential is revoked first, as before
    expect(Date.now() - started).toBeLessThan(600); // three 300 ms steps at once, not 900 ms in turn
  });
});

describe('LeaseService.issue under several slow dependencies', () => {
  it('answers 503 within one budget for the whole request, and revokes a credential the backend mints after it', async () => {
    const after = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));
    const handle = { backend: 'redis-acl', username: 'rotor-late' };
    const revoked: unknown[] = [];
    const backend = {
      issue: () => after(600, { handle, credential: { username: 'rotor-late', password: 'p' } }), // a cut link, answered late
      revoke: (revokedHandle: unknown) => Promise.resolve(void revoked.push(revokedHandle)),
    } as unknown as CredentialBackend;
    const released: unknown[] = [];
    const activeLeases = {
      reserve: () => after(250, 'reserved'), // a Redis failing over
      release: (lease: unknown) => Promise.resolve(void released.push(lease)),
    } as unknown as ActiveLeases;
    const service = new LeaseService(
      {
        roles: [{ name: 'cache', owner: 'team', backend: { kind: 'redis-acl' }, bindings: [workload], ttl: 60_000, maxTtl: 600_000 }],
      } as unknown as Catalog,
      { get: () => backend, dependenciesOf: () => ['redis-acl'] } as unknown as BackendRegistry,
      {} as LeaseStore,
      activeLeases,
      {} as EventPublisher,
      {} as TokenHasher,
      { error: () => undefined, info: () => undefined, debug: () => undefined } as unknown as Logger,
      new Metrics('issuer'),
      new DependencyGate(new ReadinessRegistry(), 400),
    );
    const started = Date.now();
    await expect(service.issue({ caller, role: 'cache' })).rejects.toMatchObject({ kind: 'unavailable', code: 'redis-acl-unavailable' });
    const answeredAfter = Date.now() - started;
    expect(answeredAfter).toBeGreaterThanOrEqual(390);
    expect(answeredAfter).toBeLessThan(550); // 250 ms of Redis and what was left for the backend, not 250 + 400
    expect(released).toHaveLength(1); // the quota reservation is taken back
    expect(revoked).toEqual([]);
    await after(600, undefined); // the mint started at 250 ms and lands at 850 ms
    expect(revoked).toEqual([handle]); // minted after the answer: revoked as it landed
  });
});

describe('LeaseService.issue for a token that names its pod', () => {
  it('carries the pod (name and uid) in lease.issued, so the revoker can end the lease with its pod', async () => {
    const podCaller = {
      kind: 'workload',
      subject: 'system:serviceaccount:shop:orders',
      workload: { ...workload, podName: 'orders-7d9f-abcde', podUid: '0b7f3c1e-3a5d-4c2b-9e1f-5a6b7c8d9e0f' },
    } as unknown as WorkloadCaller;
    const published: { type: string; data: Record<string, unknown> }[] = [];
    const service = new LeaseService(
      {
        roles: [{ name: 'token', owner: 'team', backend: { kind: 'opaque-token' }, bindings: [workload], ttl: 60_000, maxTtl: 600_000 }],
      } as unknown as Catalog,
      {
        get: () => ({ issue: () => Promise.resolve({ handle: { backend: 'opaque-token' }, credential: { token: 'x' } }) }),
        dependenciesOf: () => [],
      } as unknown as BackendRegistry,
      { claimIdempotencyKey: () => Promise.resolve(undefined), create: () => Promise.resolve() } as unknown as LeaseStore,
      { reserve: () => Promise.resolve('reserved') } as unknown as ActiveLeases,
      {
        publish: (event: { type: string; data: Record<string, unknown> }) => Promise.resolve(void published.push(event)),
      } as unknown as EventPublisher,
      { hash: () => 'k1:hash' } as unknown as TokenHasher,
      { error: () => undefined, info: () => undefined, debug: () => undefined } as unknown as Logger,
      new Metrics('issuer'),
    );
    await service.issue({ caller: podCaller, role: 'token' });
    const issued = published.find((event) => event.type === 'rotor.lease.issued.v1');
    expect(issued?.data['workload']).toEqual({
      namespace: 'shop',
      serviceAccount: 'orders',
      podName: 'orders-7d9f-abcde',
      podUid: '0b7f3c1e-3a5d-4c2b-9e1f-5a6b7c8d9e0f',
    });
  });
});

describe('rotor_issuances_total', () => {
  const metrics = new Metrics('issuer');
  let reservation = 'reserved';
  const service = new LeaseService(
    {
      roles: [
        { name: 'token', owner: 'team', backend: { kind: 'opaque-token' }, bindings: [workload], ttl: 60_000, maxTtl: 600_000 },
        { name: 'other-team', owner: 'team', backend: { kind: 'postgres' }, bindings: [], ttl: 60_000, maxTtl: 600_000 },
      ],
    } as unknown as Catalog,
    {
      get: () => ({ issue: () => Promise.resolve({ handle: { backend: 'opaque-token' }, credential: { token: 'canary-credential' } }) }),
      dependenciesOf: () => [],
    } as unknown as BackendRegistry,
    { claimIdempotencyKey: () => Promise.resolve(undefined), create: () => Promise.resolve() } as unknown as LeaseStore,
    { reserve: () => Promise.resolve(reservation) } as unknown as ActiveLeases,
    { publish: () => Promise.resolve() } as unknown as EventPublisher,
    { hash: () => 'k1:hash' } as unknown as TokenHasher,
    { error: () => undefined, info: () => undefined, debug: () => undefined } as unknown as Logger,
    metrics,
  );

  const issuances = async (labels: string) =>
    new RegExp(`^rotor_issuances_total\\{${labels},rotor_service="issuer"\\} (\\d+)$`, 'm').exec(await metrics.render())?.[1];

  it('counts every request by catalog role, backend kind and outcome, and never a name the catalog lacks', async () => {
    await service.issue({ caller, role: 'token' });
    await service.issue({ caller, role: 'token', ttlMs: 3_600_000 }).catch(() => undefined);
    await service.issue({ caller, role: 'other-team' }).catch(() => undefined);
    await service.issue({ caller, role: 'canary-role-typed-by-a-caller' }).catch(() => undefined);
    reservation = 'quota-reached';
    await expect(service.issue({ caller, role: 'token' })).rejects.toMatchObject({ code: 'lease-quota-reached' });

    expect(await issuances('role="token",backend="opaque-token",outcome="issued"')).toBe('1');
    expect(await issuances('role="token",backend="opaque-token",outcome="invalid"')).toBe('1');
    expect(await issuances('role="token",backend="opaque-token",outcome="quota-reached"')).toBe('1');
    expect(await issuances('role="other-team",backend="postgres",outcome="forbidden"')).toBe('1');
    expect(await issuances('role="\\(unknown\\)",backend="\\(unknown\\)",outcome="forbidden"')).toBe('1');
    expect(await metrics.render()).not.toContain('canary');
  });
});
