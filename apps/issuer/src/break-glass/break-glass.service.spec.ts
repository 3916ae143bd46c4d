import type { Catalog } from '@rotor/catalog';
import { DomainError } from '@rotor/errors';
import type { OperatorCaller } from '@rotor/identity';
import type { EventPublisher } from '@rotor/kafka';
import type { GsmSecretStore } from '@rotor/secret-store';
import type { DependencyGate } from '@rotor/service-kit';
import type { Logger } from '@rotor/telemetry';

import type { LeaseService } from '../leases/lease.service';
import type { SecretVersionStore } from '../managed-secrets/secret-version.store';

import type { BreakGlassRequest } from '@rotor/rest-contract';
import { accessView, BreakGlassService } from './break-glass.service';
import type { BreakGlassPageRequest, BreakGlassRecord, BreakGlassStore } from './break-glass.store';

const CANARY = 'canary-value-0f9e8d7c';
const alice: OperatorCaller = { kind: 'operator', subject: 'alice', groups: ['rotor:sre'] };
const bob: OperatorCaller = { kind: 'operator', subject: 'bob', groups: ['rotor:sre'] };
const catalog = {
  policy: { breakGlassMaxTtl: 1_800_000 },
  roles: [{ name: 'db-admin', owner: 'team', backend: { kind: 'postgres' }, ttl: 60_000, maxTtl: 600_000 }],
  managedSecrets: [
    {
      name: 'db',
      owner: 'team',
      targets: [
        { kind: 'kubernetes-secret', name: 'payments-db', namespace: 'payments' },
        { kind: 'webhook', name: 'billing', url: 'https://billing.example' },
      ],
    },
    { name: 'fresh', owner: 'team', targets: [] },
  ],
} as unknown as Catalog;
const request = (body: Partial<BreakGlassRequest> = {}): BreakGlassRequest => ({
  secrets: ['db'],
  role: 'db-admin',
  reason: 'the primary is down',
  ticket: 'INC-1',
  ttl: 900_000,
  ...body,
});

/** An in-memory store with the real one's claim semantics (first claim wins, release only by its owner). */
class MemoryStore {
  readonly records = new Map<string, BreakGlassRecord>();
  readonly keys = new Map<string, string>();
  create = async (id: string, record: BreakGlassRecord) => void this.records.set(id, record);
  update = async (id: string, record: BreakGlassRecord) => void (this.records.has(id) && this.records.set(id, record));
  get = async (id: string) => this.records.get(id);
  claimKey = async (subject: string, key: string, id: string) => {
    const existing = this.keys.get(`${subject}\0${key}`);
    if (existing === undefined) this.keys.set(`${subject}\0${key}`, id);
    return existing;
  };
  releaseKey = async (subject: string, key: string, id: string) => {
    if (this.keys.get(`${subject}\0${key}`) === id) this.keys.delete(`${subject}\0${key}`);
  };
  page = async ({ limit, matches }: BreakGlassPageRequest) => ({
    items: [...this.records]
      .reverse()
      .filter(([, record]) => matches(record))
      .slice(0, limit),
  });
}

function fixture({ gsmFails = false } = {}) {
  const failures = { gsm: gsmFails };
  const store = new MemoryStore();
  const published: { topic: string; data: Record<string, unknown> }[] = [];
  const reads: string[] = [];
  const issued: unknown[] = [];
  const publisher = {
    publish: async (event: { type: string; data: Record<string, unknown> }) => void published.push({ topic: event.type, data: event.data }),
  } as unknown as EventPublisher;
  const versions = {
    current: async (secret: string) =>
      secret === 'db' ? { version: 3, gsmVersion: 'projects/p/secrets/db/versions/3', createdAt: new Date() } : undefined,
  } as unknown as SecretVersionStore;
  const gsm = {
    access: async (name: string) => {
      reads.push(name);
      if (failures.gsm) throw new DomainError('unavailable', 'gsm-unavailable', 'GSM call failed (gRPC code 14)');
      return Buffer.from(CANARY);
    },
  } as unknown as GsmSecretStore;
  const leases = {
    issue: async (command: unknown) => {
      issued.push(command);
      return { lease: { id: `lease-${issued.length}` }, credential: { token: 'role-token' } };
    },
  } as unknown as LeaseService;
  const gate = { timeoutMs: 1_500, bounded: (_name: string, work: Promise<unknown>) => work } as unknown as DependencyGate;
  const logger = { warn: () => undefined, info: () => undefined, error: () => undefined } as unknown as Logger;
  const service = new BreakGlassService(catalog, leases, versions, gsm, publisher, store as unknown as BreakGlassStore, logger, gate);
  return { service, store, published, reads, issued, failures };
}

describe('BreakGlassService.preview', () => {
  it('names the current versions and the targets, the role and its capped TTL, and opens, reads and records nothing', async () => {
    const { service, store, published, reads, issued } = fixture();
    const now = new Date('2026-01-01T00:00:00Z');
    const preview = await service.preview(request({ secrets: ['db', 'fresh'] }), now);
    expect(preview).toEqual({
      secrets: [
        {
          secret: 'db',
          current: { version: 3, gsmVersion: 'projects/p/secrets/db/versions/3' },
          targets: [
            { kind: 'kubernetes-secret', name: 'payments-db' },
            { kind: 'webhook', name: 'billing' },
          ],
        },
        { secret: 'fresh', targets: [] },
      ],
      // 15 minutes asked; the role allows 10.
      role: { name: 'db-admin', backend: 'postgres', ttlSeconds: 600 },
      ttlSeconds: 900,
      expiresAt: '2026-01-01T00:15:00.000Z',
      reason: 'the primary is down',
      ticket: 'INC-1',
      followUp: 'every managed secret listed is rotated when this access ends',
    });
    expect(JSON.stringify(preview)).not.toContain(CANARY);
    expect({ published, reads, issued, records: store.records.size }).toEqual({ published: [], reads: [], issued: [], records: 0 });
  });

  it("takes the policy's maximum when no ttl is asked for", async () => {
    const { service } = fixture();
    expect(await service.preview(request({ ttl: undefined, role: undefined }))).toMatchObject({ ttlSeconds: 1_800 });
  });

  it.each([
    ['an unknown secret', request({ secrets: ['db', 'nope'] }), 'unknown-managed-secret', 'secrets[1]'],
    ['an unknown role', request({ role: 'nope' }), 'unknown-role', 'role'],
    ['a ttl above the policy', request({ ttl: 3_600_000 }), 'ttl-above-max', 'ttl'],
  ])('refuses %s as opening would', async (_what, body, code, field) => {
    const { service } = fixture();
    await expect(service.preview(body)).rejects.toMatchObject({ kind: 'invalid', code, field });
    await expect(service.open(alice, body)).rejects.toMatchObject({ kind: 'invalid', code, field });
  });
});

describe('BreakGlassService.open with an Idempotency-Key', () => {
  it('opens once per SRE and key: the same key again is refused with the access, without opening or reading anything', async () => {
    const { service, store, published, reads } = fixture();
    const grant = await service.open(alice, request(), 'bg-key-1');
    expect(grant.secrets).toEqual([{ secret: 'db', version: 3, value: CANARY }]);
    const before = { published: published.length, reads: reads.length };

    const again = await service.open(alice, request(), 'bg-key-1').catch((error: unknown) => error);
    expect(again).toBeInstanceOf(DomainError);
    expect(again).toMatchObject({
      kind: 'conflict',
      code: 'break-glass-already-open',
      members: { breakGlassId: grant.id, state: 'open', expiresAt: grant.expiresAt.toISOString() },
    });
    expect(JSON.stringify(again) + (again as Error).message).not.toContain(CANARY);
    expect({ published: published.length, reads: reads.length, records: store.records.size }).toEqual({ ...before, records: 1 });

    // Another SRE's key of the same text is theirs.
    expect((await service.open(bob, request(), 'bg-key-1')).id).not.toBe(grant.id);
  });

  it('lets only one of concurrent duplicates open; the others learn its id', async () => {
    const { service, store } = fixture();
    const results = await Promise.allSettled([1, 2, 3].map(() => service.open(alice, request(), 'same')));
    const opened = results.filter((result) => result.status === 'fulfilled');
    expect(opened).toHaveLength(1);
    expect(store.records.size).toBe(1);
    const id = (opened[0] as PromiseFulfilledResult<{ id: string }>).value.id;
    for (const result of results.filter((r) => r.status === 'rejected'))
      expect(result.reason).toMatchObject({ code: 'break-glass-already-open', members: { breakGlassId: id } });
  });

  it('releases the key when opening fails, and ends what it had started, so a retry opens', async () => {
    const failing = fixture({ gsmFails: true });
    await expect(failing.service.open(alice, request(), 'retry-me')).rejects.toMatchObject({ code: 'gsm-unavailable' });
    expect(failing.store.keys.size).toBe(0);
    // The access was announced before the read failed: its end is requested now, and it lists as ended.
    const [id, record] = [...failing.store.records][0]!;
    expect(failing.published.filter((event) => event.topic.includes('revocation'))).toEqual([
      expect.objectContaining({ data: expect.objectContaining({ subject: { kind: 'lease', leaseId: id }, reason: 'breakglass-ended' }) }),
    ]);
    expect(accessView(id, record, new Date()).state).toBe('ended');
    expect(failing.issued).toEqual([]);

    failing.failures.gsm = false;
    const retried = await failing.service.open(alice, request(), 'retry-me');
    expect(retried.secrets).toEqual([{ secret: 'db', version: 3, value: CANARY }]);
    expect([...failing.store.keys.values()]).toEqual([retried.id]);
  });

  it('records who opened it, why, and when, for the list', async () => {
    const { service, store } = fixture();
    const grant = await service.open(alice, request(), undefined);
    expect(store.records.get(grant.id)).toEqual({
      expiresAt: grant.expiresAt.toISOString(),
      secrets: ['db'],
      role: 'db-admin',
      roleLeaseId: 'lease-1',
      requestedBy: 'alice',
      reason: 'the primary is down',
      ticket: 'INC-1',
      openedAt: expect.any(String),
    });
    expect(store.keys.size).toBe(0);
  });
});

describe('break-glass state', () => {
  const now = new Date('2026-01-01T12:00:00Z');
  const record: BreakGlassRecord = {
    expiresAt: '2026-01-01T12:30:00.000Z',
    secrets: ['db'],
    roleLeaseId: 'l-1',
    role: 'db-admin',
    requestedBy: 'alice',
    reason: 'the primary is down',
    ticket: 'INC-1',
    openedAt: '2026-01-01T11:30:00.000Z',
  };

  it('is open before its expiry, ended at it, ended early when DELETE ended it first', () => {
    expect(accessView('id', record, now)).toEqual({
      id: 'id',
      state: 'open',
      requestedBy: 'alice',
      secrets: ['db'],
      role: { name: 'db-admin', leaseId: 'l-1' },
      reason: 'the primary is down',
      ticket: 'INC-1',
      openedAt: '2026-01-01T11:30:00.000Z',
      expiresAt: '2026-01-01T12:30:00.000Z',
    });
    expect(accessView('id', record, new Date('2026-01-01T12:30:00Z'))).toMatchObject({
      state: 'ended',
      endedAt: '2026-01-01T12:30:00.000Z',
    });
    expect(accessView('id', { ...record, endedAt: '2026-01-01T11:45:00.000Z' }, now)).toMatchObject({
      state: 'ended',
      endedAt: '2026-01-01T11:45:00.000Z',
    });
  });

  it('lists a record of the previous layout with what it has', () => {
    expect(accessView('id', { expiresAt: record.expiresAt, secrets: ['db'], roleLeaseId: 'l-1' }, now)).toEqual({
      id: 'id',
      state: 'open',
      secrets: ['db'],
      role: { leaseId: 'l-1' },
      expiresAt: '2026-01-01T12:30:00.000Z',
    });
  });

  it('filters the list by state', async () => {
    const { service, store } = fixture();
    store.records.set('a', record);
    store.records.set('b', { ...record, endedAt: '2026-01-01T11:45:00.000Z' });
    expect((await service.list({ limit: 10, state: 'open' }, now))?.items.map((item) => item.id)).toEqual(['a']);
    expect((await service.list({ limit: 10, state: 'ended' }, now))?.items.map((item) => item.id)).toEqual(['b']);
    expect((await service.list({ limit: 10 }, now))?.items.map((item) => item.id)).toEqual(['b', 'a']);
  });
});
