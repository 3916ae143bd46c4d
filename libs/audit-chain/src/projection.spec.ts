import { Topics, type AuditRecord } from '@rotor/contracts';

import { sealRecord, GENESIS } from './chain';
import { identifierKey, pseudonym, pseudonymize } from './identifiers';
import { copyExistedAt, copyView, leaseExistedAt, leaseView, versionViews } from './inventory';
import { MemoryViews } from './memory-views.testing';
import { eventIndexKeys, projectRecord } from './projection';
import { ViewKeys } from './view-keys';

const KEY = 'audit-key-for-tests-0123456789abcdef';

const t = (second: number) => new Date(Date.UTC(2026, 10, 27, 12, 0, second)).toISOString();
const LEASE = '6f1c2a4e-9d2b-4c1e-8f3a-2b7d9e0c1a55';
const workload = { namespace: 'payments', serviceAccount: 'api', podName: 'api-7f9c' };
const leaseRef = { leaseId: LEASE, role: 'db', owner: 'team-pay', backend: 'postgres', workload };

let seq = 0;
const record = (type: string, data: Record<string, unknown>, second: number, known = true): AuditRecord =>
  sealRecord({
    seq: seq++,
    chain: `${type}:0`,
    sourceTopic: type,
    sourcePartition: 0,
    sourceOffset: String(seq),
    eventId: `event-${seq}`,
    eventType: type,
    known,
    recordedAt: t(second),
    event: { id: `event-${seq}`, type, time: t(second), data },
    prev: GENESIS,
  });

const leaseHistory = () => [
  record(
    Topics.leaseIssued,
    { ...leaseRef, issuedAt: t(0), expiresAt: t(60), maxExpiresAt: t(300), revocationHandle: { backend: 'postgres', roleName: 'r' } },
    0,
  ),
  record(Topics.leaseRenewed, { ...leaseRef, renewedAt: t(30), expiresAt: t(120), maxExpiresAt: t(300) }, 30),
  record(Topics.leaseRevoked, { ...leaseRef, reason: 'requested', revokedAt: t(90) }, 90),
];

const deliveryHistory = () => {
  const target = { kind: 'kubernetes-secret', name: 'payments-db' };
  const gsm = (v: number) => `projects/p/secrets/db/versions/${v}`;
  return [
    record(
      Topics.secretVersionCreated,
      { secret: 'db', owner: 'team-pay', version: 1, gsmVersion: gsm(1), reason: 'initial', createdAt: t(0) },
      0,
    ),
    record(
      Topics.deliveryCompleted,
      { secret: 'db', version: 1, target, locator: 'payments/db', contentHash: 'a'.repeat(64), deliveredAt: t(5) },
      5,
    ),
    record(
      Topics.secretVersionCreated,
      { secret: 'db', owner: 'team-pay', version: 2, gsmVersion: gsm(2), reason: 'scheduled', createdAt: t(20) },
      20,
    ),
    record(
      Topics.deliveryCompleted,
      { secret: 'db', version: 2, target, locator: 'payments/db', contentHash: 'b'.repeat(64), deliveredAt: t(25) },
      25,
    ),
    record(
      Topics.deliveryRemoved,
      { secret: 'db', version: 1, target, locator: 'payments/db', reason: 'superseded', removedAt: t(25) },
      25,
    ),
    record(Topics.secretVersionRetired, { secret: 'db', version: 1, gsmVersion: gsm(1), reason: 'superseded', retiredAt: t(40) }, 40),
    record(
      Topics.copyDiscovered,
      { secret: 'db', version: 2, location: { kind: 'file', path: '/home/ci/.env', line: 3 }, discoveredAt: t(50) },
      50,
    ),
  ];
};

const project = (records: AuditRecord[]) => {
  const views = new MemoryViews();
  records.forEach((r) => views.apply(projectRecord(r)));
  return views;
};

describe('audit view projection', () => {
  it('follows a lease from issue through renewal to revocation, and knows where it was at each time', async () => {
    const redis = project(leaseHistory());
    const fields = redis.hash(ViewKeys.lease(LEASE));
    expect(leaseView(fields, Date.parse(t(45)))).toMatchObject({
      state: 'active',
      expiresAt: t(120),
      issuedAt: t(0),
      workload: { namespace: 'payments' },
    });
    expect(leaseView(fields, Date.parse(t(100)))).toMatchObject({ state: 'revoked', revokeReason: 'requested', from: t(0), to: t(90) });
    expect([-1, 0, 89, 90].map((s) => leaseExistedAt(fields, Date.parse(t(0)) + s * 1000))).toEqual([false, true, true, false]);
    await expect(redis.workloadLeasesLiveAt('payments/api', Date.parse(t(45)))).resolves.toEqual([{ id: LEASE, fields }]);
  });

  it('builds the same views whatever the order records of different chains arrive in, and applying one twice changes nothing', () => {
    const records = [...leaseHistory(), ...deliveryHistory()];
    const inOrder = project(records).snapshot();
    expect(project([...records].reverse()).snapshot()).toBe(inOrder);
    expect(project([...records.slice(4), ...records.slice(0, 4)]).snapshot()).toBe(inOrder);
    expect(project([...records, ...records]).snapshot()).toBe(inOrder);
  });

  it('tracks versions and copies of a managed secret, including a copy found outside the inventory', () => {
    const redis = project(deliveryHistory());
    const versions = [1, 2].map((v) => redis.hash(ViewKeys.version('db', v)));
    expect(versionViews(versions, Date.parse(t(30))).map((v) => [v.version, v.state])).toEqual([
      [1, 'previous'],
      [2, 'current'],
    ]);
    expect(versionViews(versions, Date.parse(t(45))).map((v) => [v.version, v.state])).toEqual([
      [1, 'retired'],
      [2, 'current'],
    ]);
    expect(versionViews(versions, Date.parse(t(10))).map((v) => [v.version, v.state])).toEqual([[1, 'current']]);

    const copyIds = [...(redis.zsets.get(ViewKeys.secretCopies('db'))?.keys() ?? [])];
    const copies = copyIds.map((id) => copyView(id, redis.hash(ViewKeys.copy(id)), Date.parse(t(60))));
    expect(copies.map((c) => [c.version, c.origin, c.state, c.locator]).sort()).toEqual([
      [1, 'delivery', 'removed', 'payments/db'],
      [2, 'delivery', 'delivered', 'payments/db'],
      [2, 'discovered', 'discovered', 'path=/home/ci/.env,line=3'],
    ]);
    const v1 = copyIds.find((id) => redis.hash(ViewKeys.copy(id))['version'] === '1')!;
    expect([4, 5, 24, 25].map((s) => copyExistedAt(redis.hash(ViewKeys.copy(v1)), Date.parse(t(s))))).toEqual([false, true, true, false]);
  });

  it('shows a copy removed on discovery (catalog copies: remove) as removed, and as existing at no time after', () => {
    const found = record(
      Topics.copyDiscovered,
      {
        secret: 'db',
        version: 2,
        location: { kind: 'kubernetes-configmap', namespace: 'ci', name: 'env' },
        removed: true,
        discoveredAt: t(50),
      },
      50,
    );
    const redis = project([found]);
    const [id] = [...(redis.zsets.get(ViewKeys.secretCopies('db'))?.keys() ?? [])];
    expect(copyView(id!, redis.hash(ViewKeys.copy(id!)), Date.parse(t(60)))).toMatchObject({
      origin: 'discovered',
      state: 'removed',
      removeReason: 'removed-on-discovery',
    });
    expect(copyExistedAt(redis.hash(ViewKeys.copy(id!)), Date.parse(t(55)))).toBe(false);
  });

  it('keeps an unknown event type out of the views and its timeline index', () => {
    const unknown = record('rotor.future.thing.v1', { leaseId: LEASE }, 0, false);
    expect(projectRecord(unknown)).toEqual([]);
    expect(eventIndexKeys(unknown)).toEqual({ leases: [], workloads: [], secrets: [], actors: [] });
  });
});

describe('sensitive identifiers', () => {
  const key = identifierKey(KEY);

  it('replaces pod names, pod uids and operator subjects by keyed hashes, at any depth, and keeps the rest', () => {
    const event = {
      data: {
        workload: { namespace: 'payments', serviceAccount: 'api', podName: 'api-7f9c', podUid: 'uid-1' },
        actor: { kind: 'operator', subject: 'alice@example.com', groups: ['rotor:sre'] },
        requestedBy: { kind: 'service', service: 'revoker' },
      },
    };
    const out = pseudonymize(event, key);
    expect(out.data.workload).toEqual({
      namespace: 'payments',
      serviceAccount: 'api',
      podName: pseudonym(key, 'api-7f9c'),
      podUid: pseudonym(key, 'uid-1'),
    });
    expect(out.data.actor).toEqual({ kind: 'operator', subject: pseudonym(key, 'alice@example.com'), groups: ['rotor:sre'] });
    expect(out.data.requestedBy).toEqual({ kind: 'service', service: 'revoker' });
    expect(JSON.stringify(out)).not.toMatch(/alice|api-7f9c|uid-1/);
  });

  it('is stable per key, differs across keys, and is not applied twice', () => {
    expect(pseudonym(key, 'x')).toBe(pseudonym(identifierKey(KEY), 'x'));
    expect(pseudonym(key, 'x')).not.toBe(pseudonym(identifierKey(`${KEY}-other`), 'x'));
    expect(pseudonym(key, pseudonym(key, 'x'))).toBe(pseudonym(key, 'x'));
  });
});
