import { Topics, type AuditRecord } from '@rotor/contracts';

import { GENESIS, sealRecord } from './chain';
import { copyView } from './inventory';
import { MemoryViews } from './memory-views.testing';
import { projectRecord } from './projection';
import { breakGlassUse, driftFinding, irrevocableLease } from './posture-views';
import { ViewKeys } from './view-keys';

const t = (second: number) => new Date(Date.UTC(2026, 10, 27, 12, 0, second)).toISOString();
const ms = (second: number) => Date.parse(t(second));
const BREAK_GLASS = '0b6a8f3e-1c2d-4e5f-8a9b-0c1d2e3f4a5b';
const LEASE = '6f1c2a4e-9d2b-4c1e-8f3a-2b7d9e0c1a55';
const workload = { namespace: 'payments', serviceAccount: 'api' };
const leaseRef = { leaseId: LEASE, role: 'db', owner: 'team-pay', backend: 'postgres', workload };
const sre = { kind: 'operator', subject: 'hmac-sha256:ab12', groups: ['rotor:sre'] };
const revoker = { kind: 'service', service: 'revoker' };

let seq = 0;
const record = (type: string, data: Record<string, unknown>, second: number, eventId = `event-${seq}`): AuditRecord =>
  sealRecord({
    seq: seq++,
    chain: `${type}:0`,
    sourceTopic: type,
    sourcePartition: 0,
    sourceOffset: String(seq),
    eventId,
    eventType: type,
    known: true,
    recordedAt: t(second),
    event: { id: eventId, type, time: t(second), data },
    prev: GENESIS,
  });

const project = (records: AuditRecord[]) => {
  const views = new MemoryViews();
  records.forEach((r) => views.apply(projectRecord(r)));
  return views;
};
const sameWhateverTheOrder = (records: AuditRecord[]) => {
  const inOrder = project(records).snapshot();
  expect(project([...records].reverse()).snapshot()).toBe(inOrder);
  expect(project([...records, ...records]).snapshot()).toBe(inOrder);
};

const followUp = (secret: string, attempt: number, second: number) =>
  record(
    Topics.rotationRequested,
    { secret, reason: 'breakglass', requestedBy: revoker },
    second,
    `${BREAK_GLASS}:${secret}:breakglass-rotation:${attempt}`,
  );
const version = (secret: string, v: number, reason: string, second: number) =>
  record(
    Topics.secretVersionCreated,
    { secret, owner: 'team-pay', version: v, gsmVersion: `projects/p/secrets/${secret}/versions/${v}`, reason, createdAt: t(second) },
    second,
  );

describe('posture projection: break-glass uses and their follow-up', () => {
  const history = () => [
    record(
      Topics.breakglassUsed,
      { actor: sre, leaseId: BREAK_GLASS, secrets: ['db', 'api-key'], reason: 'prod outage', ticket: 'INC-42', expiresAt: t(120) },
      0,
    ),
    record(
      Topics.revocationRequested,
      { subject: { kind: 'lease', leaseId: BREAK_GLASS }, reason: 'breakglass-ended', requestedBy: sre },
      60,
    ),
    followUp('db', 1, 61),
    followUp('api-key', 1, 61),
    followUp('api-key', 2, 90),
    version('db', 3, 'breakglass', 62),
    version('db', 2, 'scheduled', 30),
  ];

  it('records who, why, the ticket, the early end and each secret’s follow-up attempts', () => {
    const redis = project(history());
    expect(redis.memberList(ViewKeys.breakGlasses)).toEqual([BREAK_GLASS]);
    expect(breakGlassUse(redis.hash(ViewKeys.breakGlass(BREAK_GLASS)))).toEqual({
      id: BREAK_GLASS,
      actor: 'operator hmac-sha256:ab12',
      ticket: 'INC-42',
      reason: 'prod outage',
      role: undefined,
      secrets: ['db', 'api-key'],
      usedAt: ms(0),
      expiresAt: ms(120),
      endedAt: ms(60),
      followUp: {
        db: { attempts: 1, requestedAt: ms(61), lastRequestedAt: ms(61) },
        'api-key': { attempts: 2, requestedAt: ms(61), lastRequestedAt: ms(90) },
      },
    });
    // Only follow-up versions count for completion, by creation time.
    expect([...(redis.zsets.get(ViewKeys.breakGlassVersions('db')) ?? [])]).toEqual([['3', ms(62)]]);
  });

  it('ends in the same state whatever the order, and when records repeat', () => sameWhateverTheOrder(history()));

  it('ignores rotations that are not a break-glass follow-up, and early ends of ordinary leases are never listed', () => {
    const redis = project([
      record(
        Topics.rotationRequested,
        { secret: 'db', reason: 'requested', requestedBy: sre },
        5,
        `${BREAK_GLASS}:db:breakglass-rotation:1`,
      ),
      record(Topics.rotationRequested, { secret: 'db', reason: 'breakglass', requestedBy: revoker }, 5, 'not-a-follow-up-id'),
      record(Topics.revocationRequested, { subject: { kind: 'lease', leaseId: LEASE }, reason: 'breakglass-ended', requestedBy: sre }, 6),
    ]);
    expect(redis.hashes.has(ViewKeys.breakGlass(BREAK_GLASS))).toBe(false);
    expect(redis.memberList(ViewKeys.breakGlasses)).toEqual([]);
    expect(breakGlassUse(redis.hash(ViewKeys.breakGlass(LEASE)))).toBeUndefined();
  });
});

describe('posture projection: drift per locator', () => {
  const target = { kind: 'kubernetes-secret', name: 'cluster' };
  const drift = (second: number, kind: string, repaired = false) =>
    record(
      Topics.deliveryDriftDetected,
      { target, locator: 'k8s:payments/secrets/db', drift: kind, secret: 'db', version: 2, repaired },
      second,
    );
  const delivered = (second: number) =>
    record(
      Topics.deliveryCompleted,
      { secret: 'db', version: 3, target, locator: 'k8s:payments/secrets/db', contentHash: 'c'.repeat(64), deliveredAt: t(second) },
      second,
    );
  const read = (redis: MemoryViews) => driftFinding(redis.hash(ViewKeys.drift('k8s:payments/secrets/db')));

  it('keeps a finding open until something is written at its locator', () => {
    expect(read(project([delivered(5), drift(10, 'edited')]))).toEqual({
      locator: 'k8s:payments/secrets/db',
      target,
      drift: 'edited',
      secret: 'db',
      version: 2,
      foundAt: ms(10),
      open: true,
    });
    expect(read(project([drift(10, 'edited'), delivered(20)]))?.open).toBe(false);
    expect(project([drift(10, 'edited')]).memberList(ViewKeys.drifts)).toEqual(['k8s:payments/secrets/db']);
  });

  it('closes a finding published as repaired, and reopens on a later one', () => {
    expect(read(project([drift(10, 'edited', true)]))?.open).toBe(false);
    expect(read(project([drift(10, 'edited', true), drift(30, 'missing')]))).toMatchObject({ drift: 'missing', open: true });
  });

  it('lists no drift for locators that were only ever delivered to', () => {
    const redis = project([delivered(5)]);
    expect(read(redis)).toBeUndefined();
    expect(redis.memberList(ViewKeys.drifts)).toEqual([]);
  });

  it('ends in the same state whatever the order', () =>
    sameWhateverTheOrder([delivered(5), drift(10, 'edited'), delivered(20), drift(30, 'unaccounted')]));
});

describe('posture projection: irrevocable leases and owners', () => {
  const issued = record(
    Topics.leaseIssued,
    { ...leaseRef, issuedAt: t(0), expiresAt: t(60), maxExpiresAt: t(300), revocationHandle: { backend: 'postgres', roleName: 'r' } },
    0,
  );
  const failed = (second: number, attempt: number, irrevocable: boolean) =>
    record(Topics.revocationFailed, { leaseId: LEASE, attempt, error: 'backend down', irrevocable, nextAttemptAt: t(second + 30) }, second);
  const revoked = record(Topics.leaseRevoked, { ...leaseRef, reason: 'expired', revokedAt: t(200) }, 200);

  it('lists a lease reported irrevocable until a revocation succeeds', () => {
    const open = project([issued, failed(61, 1, false), failed(91, 5, true)]);
    expect(open.memberList(ViewKeys.irrevocableLeases)).toEqual([LEASE]);
    expect(irrevocableLease(open.hash(ViewKeys.lease(LEASE)))).toEqual({
      leaseId: LEASE,
      role: 'db',
      owner: 'team-pay',
      workload,
      expiresAt: ms(60),
      revocationAttempts: 5,
      reportedAt: ms(91),
    });
    expect(irrevocableLease(project([issued, failed(91, 5, true), revoked]).hash(ViewKeys.lease(LEASE)))).toBeUndefined();
    expect(irrevocableLease(project([issued, failed(61, 1, false)]).hash(ViewKeys.lease(LEASE)))).toBeUndefined();
    sameWhateverTheOrder([issued, failed(61, 1, false), failed(91, 5, true), revoked]);
  });

  it('indexes leases and secrets by owner, and gives discovered copies their owner and form', () => {
    const found = record(
      Topics.copyDiscovered,
      {
        secret: 'db',
        version: 2,
        owner: 'team-pay',
        form: 'base64',
        location: { kind: 'file', path: '/repo/deploy/secret.yaml', line: 8 },
        discoveredAt: t(50),
      },
      50,
    );
    const redis = project([issued, version('db', 2, 'scheduled', 30), found]);
    expect(redis.memberList(ViewKeys.ownerLeases('team-pay'))).toEqual([LEASE]);
    expect(redis.memberList(ViewKeys.ownerSecrets('team-pay'))).toEqual(['db']);
    const [id] = redis.memberList(ViewKeys.discoveredCopies);
    expect(copyView(id!, redis.hash(ViewKeys.copy(id!)), ms(60))).toMatchObject({
      secret: 'db',
      origin: 'discovered',
      owner: 'team-pay',
      form: 'base64',
      locator: 'path=/repo/deploy/secret.yaml,line=8',
    });
  });
});
