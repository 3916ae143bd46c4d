import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { createEvent, Topics } from '@rotor/contracts';
import { EventPublisher } from '@rotor/kafka';
import type { Finding, OwnerInventory, PostureReport } from '@rotor/rest-contract';
import { GsmSecretStore } from '@rotor/secret-store';

import { eventually } from '../support/eventually';
import { FakeKubeApi } from '../support/fake-kube-api';
import { startGroupAtEnd } from '../support/kafka-groups';
import { PrivateAuditDatabase } from '../support/private-audit-database';
import { ServiceProcess } from '../support/service-process';
import { requiredEnv } from '../support/services-env';
import { ensurePortFree, writeTempCatalog } from '../support/temp-files';
import { TestIdentity } from '../support/test-identity';
import { kafkaFromEnv } from '../../tools/security/env-clients';
import { runRotorCli } from '../support/rotor-cli';

const kafka = kafkaFromEnv('rotor-test-posture');

const b64 = (text: string) => Buffer.from(text).toString('base64');
const ids = (finding: Finding | undefined) => (finding?.references ?? []).map((reference) => reference.id);

describe('posture report: what needs attention, with owners and OWASP NHI / NIST CSF references, and never a value', () => {
  const suffix = randomUUID().slice(0, 6);
  const project = requiredEnv('GSM_PROJECT');
  const copied = `posture-copied-${suffix}`; // copies: report, delivered to the fake cluster
  const glass = `posture-glass-${suffix}`; // break-glass whose follow-up completes
  const stuck = `posture-stuck-${suffix}`; // break-glass whose follow-up the issuer cannot do (not in its catalog)
  const stale = `posture-stale-${suffix}`; // rotation period 2s, no issuer rotates it
  const longRole = `posture-long-${suffix}`;
  const namespace = `posture-${suffix}`;
  const auditTopic = `rotor.audit.posture-${suffix}.v1`;
  const group = `rotor-auditor-posture-${suffix}`;
  const irrevocableLease = randomUUID();
  const db = new PrivateAuditDatabase();
  let identity: TestIdentity;
  let kube: FakeKubeApi;
  let issuer: ServiceProcess;
  let revoker: ServiceProcess;
  let distributor: ServiceProcess;
  let auditor: ServiceProcess;
  let publisher: EventPublisher;
  let gsm: GsmSecretStore;
  let sre: string;
  let auditorToken: string;
  const values: string[] = [];

  const serviceSecrets = `
  - name: ${copied}
    owner: team-copies
    generator: { kind: random-bytes, bytes: 32 }
    rotationPeriod: 1h
    gracePeriod: 1h
    copies: report
    targets:
      - { kind: kubernetes-secret, name: cluster, namespace: ${namespace}, secretName: delivered, key: api-key }
  - name: ${glass}
    owner: team-glass
    generator: { kind: random-bytes, bytes: 32 }
    rotationPeriod: 30d
    gracePeriod: 2s
`;
  const report = async (token = auditorToken, query = ''): Promise<Response> =>
    fetch(`${auditor.url}/v1/reports/posture${query}`, { headers: { authorization: `Bearer ${token}` } });
  const cliEnv = () => ({ ROTOR_AUDITOR_URL: auditor.url, ROTOR_DISTRIBUTOR_URL: distributor.url, ROTOR_TOKEN: auditorToken });
  const noValueIn = (text: string) => {
    for (const value of values) for (const form of [value, b64(value)]) expect(text).not.toContain(form);
  };

  beforeAll(async () => {
    await Promise.all([19700, 19701, 19702, 19703].map(ensurePortFree));
    identity = await TestIdentity.create();
    sre = await identity.operatorToken('oncall@example.com', ['rotor:sre']);
    auditorToken = await identity.operatorToken('auditor@example.com', ['rotor:auditor']);
    kube = await new FakeKubeApi().start();
    const serviceCatalog = writeTempCatalog(`
policy: { breakGlassMaxTtl: 10m }
managedSecrets:${serviceSecrets}`);
    // The revoker already knows `stuck` (a catalog rollout that has not reached the issuer): it follows
    // that break-glass use (an unknown secret would be dead-lettered), while the issuer cannot rotate it.
    const revokerCatalog = writeTempCatalog(`
policy: { breakGlassMaxTtl: 10m }
managedSecrets:${serviceSecrets}
  - name: ${stuck}
    owner: team-stuck
    generator: { kind: random-bytes, bytes: 32 }
    rotationPeriod: 30d
    gracePeriod: 1s
`);
    // The auditor's catalog also names what no service here manages: a stale secret, a secret the issuer cannot rotate, a role above the ceiling.
    const auditorCatalog = writeTempCatalog(`
policy: { maxTtlCeiling: 1h }
roles:
  - name: ${longRole}
    owner: team-roles
    backend: { kind: opaque-token }
    bindings: [{ namespace: ${namespace}, serviceAccount: api }]
    ttl: 2h
    maxTtl: 8h
managedSecrets:${serviceSecrets}
  - name: ${stale}
    owner: team-stale
    generator: { kind: random-bytes, bytes: 32 }
    rotationPeriod: 2s
    gracePeriod: 1s
  - name: ${stuck}
    owner: team-stuck
    generator: { kind: random-bytes, bytes: 32 }
    rotationPeriod: 30d
    gracePeriod: 1s
`);
    await db.create();
    await startGroupAtEnd(kafka, group);
    gsm = new GsmSecretStore({ project, emulatorHost: requiredEnv('SECRET_MANAGER_EMULATOR_HOST') });
    publisher = new EventPublisher(kafka);
    await publisher.connect();
    auditor = new ServiceProcess('auditor', 19703, {
      ...identity.env,
      ROTOR_CATALOG: auditorCatalog,
      ...db.env(),
      ROTOR_AUDIT_TOPIC: auditTopic,
      ROTOR_AUDITOR_GROUP: group,
      ROTOR_AUDIT_KEY: randomBytes(32).toString('hex'),
    });
    await auditor.start().ready();
    issuer = new ServiceProcess('issuer', 19700, {
      ...identity.env,
      ROTOR_CATALOG: serviceCatalog,
      ROTOR_TOKEN_HASH_KEY: randomBytes(32).toString('hex'),
    });
    revoker = new ServiceProcess('revoker', 19701, {
      ...identity.env,
      ROTOR_CATALOG: revokerCatalog,
      ROTOR_BREAKGLASS_FOLLOWUP_CHECK_MS: '2000',
    });
    distributor = new ServiceProcess('distributor', 19702, {
      ...identity.env,
      ROTOR_CATALOG: serviceCatalog,
      KUBECONFIG: kube.writeKubeconfig(),
      ROTOR_CONTENT_HASH_KEY: randomBytes(32).toString('hex'),
      ROTOR_DRIFT_SCAN_MS: '0',
      ROTOR_COPY_SCAN_MS: '0',
    });
    await Promise.all([issuer.start().ready(), revoker.start().ready(), distributor.start().ready()]);
    await eventually(async () => (kube.secret(namespace, 'delivered') ? true : undefined), {
      what: 'the initial version delivered',
      timeoutMs: 30_000,
    });
    values.push((await gsm.access(`projects/${project}/secrets/${copied}/versions/1`)).toString());
  }, 180_000);

  afterAll(async () => {
    await Promise.all([issuer?.stop(), revoker?.stop(), distributor?.stop(), auditor?.stop()]);
    await publisher?.disconnect();
    await Promise.all([kube?.stop(), gsm?.close()]);
    await db.drop();
  });

  it('finds a managed value planted in an unlabelled Secret, a ConfigMap, an .env file and a YAML manifest, printing none', async () => {
    const [value] = values as [string];
    kube.putSecret({ metadata: { name: 'hand-made', namespace }, data: { token: b64(value) } });
    kube.putConfigMap({ metadata: { name: 'app-config', namespace }, data: { DATABASE_URL: `postgres://app:${value}@db:5432/app` } });
    const scan = await fetch(`${distributor.url}/v1/copy-scan`, { method: 'POST', headers: { authorization: `Bearer ${sre}` } });
    expect(scan.status).toBe(200);
    expect(((await scan.json()) as { findings: unknown[] }).findings).toHaveLength(2);

    const dir = mkdtempSync(join(tmpdir(), 'rotor-posture-scan-'));
    writeFileSync(join(dir, '.env'), `LOG_LEVEL=debug\nAPI_KEY=${value}\n`);
    mkdirSync(join(dir, 'deploy'));
    writeFileSync(
      join(dir, 'deploy', 'secret.yaml'),
      ['apiVersion: v1', 'kind: Secret', 'metadata:', '  name: app', 'data:', `  token: ${b64(value)}`, ''].join('\n'),
    );
    const scanned = await runRotorCli(['scan', dir, '--report'], cliEnv());
    expect(scanned.code).toBe(1);
    expect(scanned.stdout).toBe(
      `${join(dir, '.env')}:2: secret ${copied} version 1 (raw)\n${join(dir, 'deploy', 'secret.yaml')}:6: secret ${copied} version 1 (base64)\n`,
    );
    noValueIn(scanned.stdout + scanned.stderr);

    const copies = await eventually(
      async () => {
        const body = (await (await report()).json()) as PostureReport;
        const found = body.findings.filter((finding) => finding.kind === 'manual-copy' && finding.subject === copied);
        return found.length === 4 ? found : undefined;
      },
      { what: 'four manual copies in the report', timeoutMs: 30_000 },
    );
    expect(copies.map((finding) => finding.details['location']).sort()).toEqual(
      [
        `file path=${join(dir, '.env')},line=2`,
        `file path=${join(dir, 'deploy', 'secret.yaml')},line=6`,
        `kubernetes-configmap namespace=${namespace},name=app-config,key=DATABASE_URL`,
        `kubernetes-secret namespace=${namespace},name=hand-made,key=token`,
      ].sort(),
    );
    for (const finding of copies) {
      expect(finding).toMatchObject({ severity: 'high', owner: 'team-copies', details: { removed: false, version: 1 } });
      expect(ids(finding)).toEqual(['NHI2:2025', 'ID.AM-07', 'PR.DS-01']);
    }
  }, 90_000);

  it('follows break-glass uses: one rotated after an early end, one whose rotation keeps failing and is requested again', async () => {
    const open = await fetch(`${issuer.url}/v1/break-glass`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sre}`, 'content-type': 'application/json' },
      body: JSON.stringify({ secrets: [glass], reason: 'failover needs the key by hand', ticket: 'INC-7001', ttl: '5m' }),
    });
    expect(open.status).toBe(201);
    const grant = (await open.json()) as { id: string; secrets: { value: string }[] };
    values.push(...grant.secrets.map((secret) => secret.value));
    expect(
      (await fetch(`${issuer.url}/v1/break-glass/${grant.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${sre}` } })).ok,
    ).toBe(true);

    // A use on a secret the issuer's catalog lacks: its follow-up rotation is dead-lettered, so the revoker asks again.
    const stuckId = randomUUID();
    await publisher.publish(
      createEvent({
        topic: Topics.breakglassUsed,
        source: '/rotor/test',
        subject: stuckId,
        data: {
          actor: { kind: 'operator', subject: 'oncall@example.com', groups: ['rotor:sre'] },
          leaseId: stuckId,
          secrets: [stuck],
          reason: 'vendor outage',
          ticket: 'INC-7002',
          expiresAt: new Date(Date.now() + 1000).toISOString(),
        },
      }),
    );

    const findings = await eventually(
      async () => {
        const body = (await (await report()).json()) as PostureReport;
        const done = body.findings.find((finding) => finding.subject === grant.id);
        const late = body.findings.find((finding) => finding.subject === stuckId);
        return done?.details['followUp'] === 'completed' && late?.details['followUp'] === 'overdue' ? { done, late } : undefined;
      },
      { what: 'one follow-up completed and one overdue', timeoutMs: 45_000 },
    );
    expect(findings.done).toMatchObject({
      kind: 'break-glass',
      severity: 'low',
      owner: 'team-glass',
      details: {
        ticket: 'INC-7001',
        reason: 'failover needs the key by hand',
        perSecret: [{ secret: glass, state: 'rotated', attempts: 1 }],
      },
    });
    expect(findings.done.details['endedEarlyAt']).toEqual(expect.any(String));
    // Operator subjects are pseudonymized in the audit log, so the report names the pseudonym.
    expect(findings.done.details['actor']).toMatch(/^operator hmac-sha256:[0-9a-f]{64}$/);
    expect(ids(findings.done)).toEqual(['NHI10:2025', 'DE.CM-03', 'PR.AA-05']);
    expect(findings.late).toMatchObject({
      severity: 'high',
      owner: 'team-stuck',
      details: { ticket: 'INC-7002', perSecret: [{ secret: stuck, state: 'overdue', attempts: expect.any(Number) }] },
    });
    expect((findings.late.details['perSecret'] as { attempts: number }[])[0]!.attempts).toBeGreaterThanOrEqual(2);
    expect(ids(findings.late)).toEqual(['NHI10:2025', 'DE.CM-03', 'PR.AA-05', 'NHI7:2025', 'PR.AA-01']);
  }, 90_000);

  it('lists an overdue rotation, an irrevocable lease, open drift and a role above the TTL ceiling, each with owner and references', async () => {
    const createdAt = new Date(Date.now() - 60_000).toISOString();
    const workload = { namespace, serviceAccount: 'api' };
    await publisher.publish(
      createEvent({
        topic: Topics.secretVersionCreated,
        source: '/rotor/test',
        subject: stale,
        data: {
          secret: stale,
          owner: 'team-stale',
          version: 1,
          gsmVersion: `projects/${project}/secrets/${stale}/versions/1`,
          reason: 'initial',
          createdAt,
        },
      }),
    );
    await publisher.publish(
      createEvent({
        topic: Topics.revocationFailed,
        source: '/rotor/test',
        subject: irrevocableLease,
        data: {
          leaseId: irrevocableLease,
          attempt: 8,
          error: 'backend unreachable',
          irrevocable: true,
          nextAttemptAt: new Date(Date.now() + 60_000).toISOString(),
        },
      }),
    );
    // The lease's own facts, as the issuer would have published them (published after the failure: order must not matter).
    await publisher.publish(
      createEvent({
        topic: Topics.leaseRenewed,
        source: '/rotor/test',
        subject: irrevocableLease,
        data: {
          leaseId: irrevocableLease,
          role: longRole,
          owner: 'team-roles',
          backend: 'opaque-token',
          workload,
          renewedAt: createdAt,
          expiresAt: createdAt,
          maxExpiresAt: createdAt,
        },
      }),
    );
    await publisher.publish(
      createEvent({
        topic: Topics.deliveryDriftDetected,
        source: '/rotor/test',
        subject: copied,
        data: {
          target: { kind: 'kubernetes-secret', name: 'cluster' },
          locator: `k8s:${namespace}/secrets/stray-${suffix}`,
          drift: 'unaccounted',
          secret: copied,
          version: 1,
          repaired: false,
        },
      }),
    );

    const body = await eventually(
      async () => {
        const current = (await (await report()).json()) as PostureReport;
        const kinds = new Set(current.findings.map((finding) => finding.kind));
        return (['rotation-overdue', 'irrevocable-lease', 'drift', 'ttl-above-ceiling'] as const).every((kind) => kinds.has(kind))
          ? current
          : undefined;
      },
      { what: 'the remaining findings', timeoutMs: 30_000 },
    );
    const find = (kind: string, subject: string) => body.findings.find((finding) => finding.kind === kind && finding.subject === subject);
    expect(find('rotation-overdue', stale)).toMatchObject({
      severity: 'high',
      owner: 'team-stale',
      details: { version: 1, rotationPeriodMs: 2000 },
    });
    expect(ids(find('rotation-overdue', stale))).toEqual(['NHI7:2025', 'PR.AA-01']);
    expect(find('rotation-overdue', stuck)).toMatchObject({
      owner: 'team-stuck',
      message: `secret ${stuck} has no current version (rotation period 30d)`,
    });
    expect(find('irrevocable-lease', irrevocableLease)).toMatchObject({
      severity: 'high',
      owner: 'team-roles',
      details: { role: longRole, revocationAttempts: 8 },
    });
    expect(ids(find('irrevocable-lease', irrevocableLease))).toEqual(['NHI1:2025', 'NHI7:2025', 'PR.AA-01']);
    expect(find('drift', `k8s:${namespace}/secrets/stray-${suffix}`)).toMatchObject({
      severity: 'high',
      owner: 'team-copies',
      details: { drift: 'unaccounted' },
    });
    expect(ids(find('drift', `k8s:${namespace}/secrets/stray-${suffix}`))).toEqual(['NHI2:2025', 'DE.CM-09', 'PR.DS-01']);
    expect(find('ttl-above-ceiling', longRole)).toMatchObject({
      severity: 'medium',
      owner: 'team-roles',
      message: `role ${longRole}: ttl 2h and maxTtl 8h above the policy ceiling of 1h`,
    });
    expect(ids(find('ttl-above-ceiling', longRole))).toEqual(['NHI7:2025', 'PR.AA-05']);
    // Healthy things are not findings, and every finding has both frameworks.
    expect(body.findings.find((finding) => finding.kind === 'rotation-overdue' && finding.subject === copied)).toBeUndefined();
    for (const finding of body.findings)
      expect(new Set(finding.references.map((reference) => reference.framework))).toEqual(
        new Set(['OWASP NHI Top 10 (2025)', 'NIST CSF 2.0']),
      );
    expect(body.charts.rotationAge.find((row) => row.secret === stale)).toMatchObject({ overdue: true });
    // The four planted copies and the unaccounted Secret found by the drift scan.
    expect(body.charts.copies.find((row) => row.secret === copied)).toEqual({ secret: copied, delivered: 1, outside: 5 });
    expect(body.summary.findings).toBe(body.findings.length);
    noValueIn(JSON.stringify(body));
  }, 60_000);

  it('serves the report to auditors and SREs only, and as a self-contained HTML page with charts and no value', async () => {
    expect((await report(await identity.serviceAccountToken(namespace, 'api'))).status).toBe(403);
    expect([401, 403]).toContain((await report(await identity.operatorToken('dev@example.com', ['developers']))).status);
    expect((await report(sre)).status).toBe(200);
    const bad = await report(auditorToken, '?format=pdf');
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toContain('application/problem+json');

    const page = await report(auditorToken, '?format=html');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    const html = await page.text();
    expect(html).toContain('id="rotation-age-chart"');
    expect(html).toContain('id="copies-chart"');
    expect(html).toContain('NHI10:2025 Human Use of NHI');
    expect(html).toContain(stale);
    expect(html).not.toMatch(/<script|<link|src=|href=/i);
    noValueIn(html);
  }, 30_000);

  it('rotor report prints a table, JSON for scripts, writes the page, and fails a pipeline on --fail-on high', async () => {
    const table = await runRotorCli(['report'], cliEnv());
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^SEVERITY\s+KIND\s+OWNER\s+FINDING\s+REFERENCES/);
    expect(table.stdout).toContain(`role ${longRole}: ttl 2h and maxTtl 8h above the policy ceiling of 1h`);
    expect(table.stdout).toMatch(/\d+ findings \(\d+ high, \d+ medium, \d+ low\)/);

    const json = await runRotorCli(['report', '--json'], cliEnv());
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout) as PostureReport;
    expect(parsed.findings.filter((finding) => finding.kind === 'manual-copy' && finding.subject === copied)).toHaveLength(4);

    const file = join(mkdtempSync(join(tmpdir(), 'rotor-posture-html-')), 'report.html');
    const html = await runRotorCli(['report', '--html', file, '--fail-on', 'high'], cliEnv());
    expect(html.code).toBe(1);
    expect(readFileSync(file, 'utf8')).toContain('id="copies-chart"');
    expect((await runRotorCli(['report', '--fail-on', 'critical'], cliEnv())).code).toBe(2); // usage
    expect((await runRotorCli(['report'], { ...cliEnv(), ROTOR_AUDITOR_URL: 'http://127.0.0.1:19799' })).stderr).toContain('cannot reach');
    for (const run of [table, json, html]) noValueIn(run.stdout + run.stderr);
    noValueIn(readFileSync(file, 'utf8'));
  }, 60_000);

  it('lists an owner’s roles, secrets, copies and leases, from the API and rotor inventory owner', async () => {
    const response = await fetch(`${auditor.url}/v1/inventory/owners/team-copies`, {
      headers: { authorization: `Bearer ${auditorToken}` },
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as OwnerInventory;
    expect(body.secrets).toEqual([expect.objectContaining({ secret: copied, currentVersion: 1 })]);
    expect(body.secrets[0]!.copies.filter((copy) => copy.origin === 'discovered')).toHaveLength(4);
    expect(body.secrets[0]!.copies.filter((copy) => copy.origin === 'discovered').every((copy) => copy.owner === 'team-copies')).toBe(true);

    const roles = await runRotorCli(['inventory', 'owner', 'team-roles', '--json'], cliEnv());
    expect(roles.code).toBe(0);
    expect(JSON.parse(roles.stdout)).toMatchObject({ owner: 'team-roles', roles: [{ role: longRole, backend: 'opaque-token' }] });
    const table = await runRotorCli(['inventory', 'owner', 'team-copies'], cliEnv());
    expect(table.stdout).toContain(`secret  ${copied}`);
    expect(
      (await fetch(`${auditor.url}/v1/inventory/owners/nobody-${suffix}`, { headers: { authorization: `Bearer ${auditorToken}` } })).status,
    ).toBe(404);
    expect((await fetch(`${auditor.url}/v1/inventory/owners/team-copies`, { headers: { authorization: `Bearer ${sre}` } })).status).toBe(
      403,
    );
    noValueIn(JSON.stringify(body) + table.stdout);
  }, 30_000);
});
