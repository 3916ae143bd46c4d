import type { CopyView, VersionView } from './inventory';
import { assessPosture, humanDuration, type PostureInput } from './posture';
import type { BreakGlassUse } from './posture-views';

const NOW = Date.parse('2026-11-27T12:00:00.000Z');
const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const ago = (ms: number) => new Date(NOW - ms).toISOString();

const version = (secret: string, v: number, createdAgo: number, state: VersionView['state'] = 'current'): VersionView => ({
  secret,
  version: v,
  state,
  createdAt: ago(createdAgo),
});
const copy = (secret: string, origin: CopyView['origin'], state: CopyView['state'], extra: Partial<CopyView> = {}): CopyView => ({
  id: `${secret}-${origin}-${state}-${extra.locator ?? ''}`,
  secret,
  version: 1,
  target: {
    kind: origin === 'discovered' ? 'discovered:kubernetes-configmap' : 'kubernetes-secret',
    name: origin === 'discovered' ? '' : 'cluster',
  },
  locator: origin === 'discovered' ? 'namespace=app,name=cfg,key=DATABASE_URL' : 'k8s:app/secrets/db',
  origin,
  state,
  ...extra,
});
const use = (overrides: Partial<BreakGlassUse> = {}): BreakGlassUse => ({
  id: '0b6a8f3e-1c2d-4e5f-8a9b-0c1d2e3f4a5b',
  actor: 'operator hmac-sha256:ab12',
  ticket: 'INC-42',
  reason: 'prod outage',
  secrets: ['db'],
  usedAt: NOW - 2 * HOUR,
  expiresAt: NOW - HOUR,
  followUp: { db: { attempts: 1, requestedAt: NOW - HOUR } },
  ...overrides,
});

const input = (overrides: Partial<PostureInput> = {}): PostureInput => ({
  now: NOW,
  catalog: {
    roles: [{ name: 'db-rw', owner: 'team-pay', ttlMs: 15 * MIN, maxTtlMs: HOUR }],
    managedSecrets: [{ name: 'db', owner: 'team-pay', rotationPeriodMs: DAY }],
    maxTtlCeilingMs: 4 * HOUR,
  },
  versions: { db: [version('db', 3, HOUR)] },
  copies: {},
  discoveredCopies: [],
  drifts: [],
  irrevocableLeases: [],
  breakGlass: [],
  breakGlassVersions: {},
  ...overrides,
});

const kinds = (report: ReturnType<typeof assessPosture>) => report.findings.map((finding) => finding.kind);
const ids = (finding: { references: { id: string }[] }) => finding.references.map((reference) => reference.id);

describe('posture assessment', () => {
  it('finds nothing in a healthy inventory, and still charts every secret', () => {
    const report = assessPosture(input({ copies: { db: [copy('db', 'delivery', 'delivered'), copy('db', 'delivery', 'removed')] } }));
    expect(report.findings).toEqual([]);
    expect(report.summary).toEqual({
      findings: 0,
      bySeverity: { high: 0, medium: 0, low: 0 },
      byKind: { 'rotation-overdue': 0, 'irrevocable-lease': 0, drift: 0, 'manual-copy': 0, 'break-glass': 0, 'ttl-above-ceiling': 0 },
    });
    expect(report.charts).toEqual({
      rotationAge: [{ secret: 'db', owner: 'team-pay', ageDays: 0.04, periodDays: 1, overdue: false }],
      copies: [{ secret: 'db', delivered: 1, outside: 0 }],
    });
  });

  describe('rotation overdue', () => {
    it('flags a current version older than its rotation period plus the tolerance, with its owner and references', () => {
      expect(kinds(assessPosture(input({ versions: { db: [version('db', 3, DAY + 30 * MIN)] } })))).toEqual([]); // within 10% (max 1h)
      const report = assessPosture(input({ versions: { db: [version('db', 2, 3 * DAY, 'previous'), version('db', 3, DAY + 2 * HOUR)] } }));
      expect(report.findings).toEqual([
        expect.objectContaining({
          kind: 'rotation-overdue',
          severity: 'medium',
          subject: 'db',
          owner: 'team-pay',
          message: 'secret db version 3 is 26h old; its rotation period is 1d',
        }),
      ]);
      expect(ids(report.findings[0]!)).toEqual(['NHI7:2025', 'PR.AA-01']);
      expect(report.charts.rotationAge[0]).toMatchObject({ ageDays: 1.08, overdue: true });
    });

    it('is high past twice the period, and flags a secret with no version at all', () => {
      expect(assessPosture(input({ versions: { db: [version('db', 3, 3 * DAY)] } })).findings[0]).toMatchObject({ severity: 'high' });
      const none = assessPosture(input({ versions: { db: [version('db', 1, 3 * DAY, 'retired')] } }));
      expect(none.findings[0]).toMatchObject({
        kind: 'rotation-overdue',
        severity: 'medium',
        message: 'secret db has no current version (rotation period 1d)',
      });
      expect(none.charts.rotationAge[0]).toMatchObject({ ageDays: undefined, overdue: true });
    });

    it('honours a configured tolerance', () => {
      const catalog = { roles: [], managedSecrets: [{ name: 'db', owner: 'team-pay', rotationPeriodMs: 2000 }] };
      expect(
        kinds(assessPosture(input({ catalog, versions: { db: [version('db', 1, 2500)] }, options: { rotationToleranceMs: 1000 } }))),
      ).toEqual([]);
      expect(
        kinds(assessPosture(input({ catalog, versions: { db: [version('db', 1, 3500)] }, options: { rotationToleranceMs: 1000 } }))),
      ).toEqual(['rotation-overdue']);
    });
  });

  it('flags roles whose ttl or maxTtl exceeds the policy ceiling, and none without a ceiling', () => {
    const roles = [
      { name: 'ok', owner: 'a', ttlMs: HOUR, maxTtlMs: 4 * HOUR },
      { name: 'max-only', owner: 'b', ttlMs: HOUR, maxTtlMs: 8 * HOUR },
      { name: 'both', owner: 'c', ttlMs: 5 * HOUR, maxTtlMs: DAY },
    ];
    const report = assessPosture(input({ catalog: { roles, managedSecrets: [], maxTtlCeilingMs: 4 * HOUR } }));
    expect(report.findings.map((finding) => [finding.subject, finding.owner, finding.message])).toEqual([
      ['both', 'c', 'role both: ttl 5h and maxTtl 1d above the policy ceiling of 4h'],
      ['max-only', 'b', 'role max-only: maxTtl 8h above the policy ceiling of 4h'],
    ]);
    expect(ids(report.findings[0]!)).toEqual(['NHI7:2025', 'PR.AA-05']);
    expect(assessPosture(input({ catalog: { roles, managedSecrets: [] } })).findings).toEqual([]);
  });

  it('flags irrevocable leases as high, owned by the lease owner or else the role owner', () => {
    const lease = {
      leaseId: 'l-1',
      role: 'db-rw',
      workload: { namespace: 'app', serviceAccount: 'api' },
      revocationAttempts: 8,
      reportedAt: NOW - MIN,
    };
    const [finding] = assessPosture(input({ irrevocableLeases: [lease] })).findings;
    expect(finding).toMatchObject({ kind: 'irrevocable-lease', severity: 'high', subject: 'l-1', owner: 'team-pay' });
    expect(finding!.message).toContain('after 8 attempts');
    expect(ids(finding!)).toEqual(['NHI1:2025', 'NHI7:2025', 'PR.AA-01']);
  });

  it('lists open drift only, graded by what it means', () => {
    const drift = (locator: string, kind: string, open = true) => ({
      locator,
      target: { kind: 'kubernetes-secret', name: 'cluster' },
      drift: kind,
      secret: 'db',
      version: 2,
      foundAt: NOW - HOUR,
      open,
    });
    const report = assessPosture(
      input({ drifts: [drift('a', 'edited'), drift('b', 'retired-version'), drift('c', 'missing'), drift('d', 'unaccounted', false)] }),
    );
    expect(report.findings.map((finding) => [finding.subject, finding.severity, finding.owner])).toEqual([
      ['b', 'high', 'team-pay'],
      ['a', 'medium', 'team-pay'],
      ['c', 'low', 'team-pay'],
    ]);
    expect(ids(report.findings[0]!)).toEqual(['NHI2:2025', 'DE.CM-09', 'PR.DS-01']);
  });

  it('lists discovered copies with their location, says which were removed, and forgets old removed ones', () => {
    const found = copy('db', 'discovered', 'discovered', { owner: 'team-pay', form: 'raw', from: ago(HOUR) });
    const removed = copy('db', 'discovered', 'removed', {
      locator: 'path=/repo/.env,line=3',
      target: { kind: 'discovered:file', name: '' },
      from: ago(HOUR),
      removedAt: ago(HOUR),
    });
    const old = copy('db', 'discovered', 'removed', { locator: 'path=/old,line=1', from: ago(40 * DAY), removedAt: ago(40 * DAY) });
    const stray = copy('db', 'delivery', 'drifted', { locator: 'k8s:app/secrets/stray' });
    const edited = copy('db', 'delivery', 'drifted', { locator: 'k8s:app/secrets/edited', deliveredAt: ago(DAY) });
    const report = assessPosture(
      input({
        discoveredCopies: [found, removed, old],
        copies: { db: [copy('db', 'delivery', 'delivered'), edited, stray, found, removed] },
      }),
    );
    expect(report.findings.map((finding) => [finding.severity, finding.message])).toEqual([
      ['high', 'a copy of secret db version 1 outside the inventory at kubernetes-configmap namespace=app,name=cfg,key=DATABASE_URL'],
      ['low', 'a copy of secret db version 1 outside the inventory at file path=/repo/.env,line=3 (removed)'],
    ]);
    expect(report.findings[1]).toMatchObject({
      owner: 'team-pay',
      details: { removed: true, kind: 'file', locator: 'path=/repo/.env,line=3' },
    });
    expect(ids(report.findings[0]!)).toEqual(['NHI2:2025', 'ID.AM-07', 'PR.DS-01']);
    // Delivered: the target and an edited delivered copy; outside: the found copy and a drift nobody delivered.
    expect(report.charts.copies).toEqual([{ secret: 'db', delivered: 2, outside: 2 }]);
  });

  describe('break-glass follow-up', () => {
    const state = (overrides: Partial<PostureInput>) =>
      assessPosture(input(overrides)).findings.find((finding) => finding.kind === 'break-glass')!;

    it('is completed when every exposed secret has a break-glass version made after the access ended', () => {
      const finding = state({ breakGlass: [use()], breakGlassVersions: { db: [NOW - HOUR + 5000] } });
      expect(finding).toMatchObject({
        severity: 'low',
        owner: 'team-pay',
        details: {
          followUp: 'completed',
          ticket: 'INC-42',
          actor: 'operator hmac-sha256:ab12',
          perSecret: [{ secret: 'db', state: 'rotated', attempts: 1 }],
        },
      });
      expect(finding.message).toBe(
        `break-glass by operator hmac-sha256:ab12 (ticket INC-42: prod outage) on db, ended ${ago(HOUR)}: every exposed secret rotated since`,
      );
      expect(ids(finding)).toEqual(['NHI10:2025', 'DE.CM-03', 'PR.AA-05']);
    });

    it('does not count a version made before the access ended', () => {
      expect(state({ breakGlass: [use()], breakGlassVersions: { db: [NOW - HOUR - 5000] } }).details['followUp']).toBe('pending');
    });

    it('uses the early end when the access was ended before it expired', () => {
      const early = use({ endedAt: NOW - 90 * MIN });
      expect(state({ breakGlass: [early], breakGlassVersions: { db: [NOW - 80 * MIN] } }).details['followUp']).toBe('completed');
    });

    it('is overdue when the revoker had to request the rotation again, and says so with the long-lived-secret references', () => {
      const finding = state({
        breakGlass: [use({ secrets: ['db', 'api'], followUp: { db: { attempts: 1 }, api: { attempts: 3 } } })],
        breakGlassVersions: { db: [NOW - 30 * MIN] },
      });
      expect(finding).toMatchObject({ severity: 'high', details: { followUp: 'overdue' } });
      expect(finding.details['perSecret']).toEqual([
        { secret: 'db', state: 'rotated', attempts: 1, rotatedAt: ago(30 * MIN) },
        { secret: 'api', state: 'overdue', attempts: 3, rotatedAt: undefined },
      ]);
      expect(ids(finding)).toEqual(['NHI10:2025', 'DE.CM-03', 'PR.AA-05', 'NHI7:2025', 'PR.AA-01']);
    });

    it('is never-requested when no follow-up came within the grace after the end, pending before that', () => {
      expect(state({ breakGlass: [use({ followUp: {} })] }).details['followUp']).toBe('never-requested');
      expect(state({ breakGlass: [use({ followUp: {}, expiresAt: NOW - MIN })] }).details['followUp']).toBe('pending');
    });

    it('is active while the access is open', () => {
      expect(state({ breakGlass: [use({ expiresAt: NOW + HOUR, followUp: {} })] })).toMatchObject({
        severity: 'medium',
        details: { followUp: 'active', perSecret: [{ secret: 'db', state: 'not-yet-due', attempts: 0 }] },
      });
    });

    it('drops completed uses older than the history window', () => {
      const old = use({ usedAt: NOW - 40 * DAY, expiresAt: NOW - 39 * DAY });
      expect(assessPosture(input({ breakGlass: [old], breakGlassVersions: { db: [NOW - 39 * DAY + 1000] } })).findings).toEqual([]);
    });
  });

  it('writes catalog durations as written and other durations rounded', () => {
    expect([HOUR, 30 * DAY, 2000, 90 * MIN, 61_500, 26 * HOUR + 1, 3.5 * DAY + 1].map(humanDuration)).toEqual([
      '1h',
      '30d',
      '2s',
      '90m',
      '62s',
      '26h',
      '3.5d',
    ]);
  });

  it('orders findings by severity, then kind, and counts them', () => {
    const report = assessPosture(
      input({
        versions: { db: [version('db', 3, DAY + 2 * HOUR)] },
        irrevocableLeases: [{ leaseId: 'l-1', workload: {}, reportedAt: NOW }],
        catalog: {
          roles: [{ name: 'r', owner: 'o', ttlMs: DAY, maxTtlMs: DAY }],
          managedSecrets: [{ name: 'db', owner: 'team-pay', rotationPeriodMs: DAY }],
          maxTtlCeilingMs: HOUR,
        },
      }),
    );
    expect(report.findings.map((finding) => `${finding.severity} ${finding.kind}`)).toEqual([
      'high irrevocable-lease',
      'medium rotation-overdue',
      'medium ttl-above-ceiling',
    ]);
    expect(report.summary).toMatchObject({
      findings: 3,
      bySeverity: { high: 1, medium: 2, low: 0 },
      byKind: { 'irrevocable-lease': 1, 'rotation-overdue': 1, 'ttl-above-ceiling': 1 },
    });
  });
});
