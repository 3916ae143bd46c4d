import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { createEvent, Topics } from '@rotor/contracts';
import { EventPublisher } from '@rotor/kafka';
import { GsmSecretStore } from '@rotor/secret-store';

import { eventually } from '../support/eventually';
import { FakeKubeApi } from '../support/fake-kube-api';
import { ServiceProcess } from '../support/service-process';
import { requiredEnv } from '../support/services-env';
import { ensurePortFree, writeTempCatalog } from '../support/temp-files';
import { TestIdentity } from '../support/test-identity';
import { readRotorTopicsSince } from '../support/topic-tap';
import { kafkaFromEnv } from '../../tools/security/env-clients';
import { runRotorCli } from '../support/rotor-cli';

interface CopyFinding {
  secret: string;
  version: number;
  form: string;
  location: { kind: string; namespace: string; name: string; key: string };
  removed: boolean;
}
interface CopyScanReport {
  scannedObjects: number;
  skippedManaged: number;
  findings: CopyFinding[];
  errors: unknown[];
}

const b64 = (text: string) => Buffer.from(text).toString('base64');

describe('copy discovery: manual copies of managed values found by keyed hash, in the cluster and in files', () => {
  const started = new Date();
  const project = requiredEnv('GSM_PROJECT');
  const suffix = randomUUID().slice(0, 6);
  const reported = `copy-report-${suffix}`; // copies: report
  const removed = `copy-remove-${suffix}`; // copies: remove
  const namespace = `copies-${suffix}`;
  let identity: TestIdentity;
  let kube: FakeKubeApi;
  let issuer: ServiceProcess;
  let distributor: ServiceProcess;
  let publisher: EventPublisher;
  let gsm: GsmSecretStore;
  let sre: string;
  let reportedValue: string;
  let removedValue: string;
  let cliEnv: Record<string, string>;

  const gsmValue = async (secret: string, version: number) =>
    (await gsm.access(`projects/${project}/secrets/${secret}/versions/${version}`)).toString();
  const copyScan = async (): Promise<CopyScanReport> => {
    const response = await fetch(`${distributor.url}/v1/copy-scan`, { method: 'POST', headers: { authorization: `Bearer ${sre}` } });
    expect(response.status).toBe(200);
    return (await response.json()) as CopyScanReport;
  };
  const copyEvents = async () =>
    (await readRotorTopicsSince(started))
      .filter((message) => message.topic === Topics.copyDiscovered && message.value.includes(suffix))
      .map((message) => (JSON.parse(message.value) as { data: CopyFinding & { location: Record<string, unknown>; owner?: string } }).data);
  const neverLeaked = async (...values: string[]) => {
    const forms = values.flatMap((value) => [value, b64(value)]);
    const messages = await readRotorTopicsSince(started);
    for (const form of forms) {
      expect(messages.filter((message) => message.value.includes(form) || (message.key ?? '').includes(form))).toEqual([]);
      expect(distributor.logs).not.toContain(form);
    }
  };

  beforeAll(async () => {
    await Promise.all([19601, 19602].map(ensurePortFree));
    identity = await TestIdentity.create();
    sre = await identity.operatorToken('sre@example.com', ['rotor:sre']);
    kube = await new FakeKubeApi().start();
    const catalogFile = writeTempCatalog(`
managedSecrets:
  - name: ${reported}
    owner: team-copies
    generator: { kind: random-bytes, bytes: 32 }
    rotationPeriod: 1h
    gracePeriod: 1h
    copies: report
    targets:
      - { kind: kubernetes-secret, name: cluster, namespace: ${namespace}, secretName: reported-credentials, key: api-key }
  - name: ${removed}
    owner: team-copies
    generator: { kind: password, length: 24 }
    rotationPeriod: 1h
    gracePeriod: 1h
    copies: remove
    targets:
      - { kind: kubernetes-secret, name: cluster, namespace: ${namespace}, secretName: removed-credentials, key: password }
`);
    gsm = new GsmSecretStore({ project, emulatorHost: requiredEnv('SECRET_MANAGER_EMULATOR_HOST') });
    const kafka = kafkaFromEnv('rotor-test');
    publisher = new EventPublisher(kafka);
    await publisher.connect();
    issuer = new ServiceProcess('issuer', 19601, {
      ...identity.env,
      ROTOR_CATALOG: catalogFile,
      ROTOR_TOKEN_HASH_KEY: randomBytes(32).toString('hex'),
    });
    distributor = new ServiceProcess('distributor', 19602, {
      ...identity.env,
      ROTOR_CATALOG: catalogFile,
      KUBECONFIG: kube.writeKubeconfig(),
      ROTOR_CONTENT_HASH_KEY: randomBytes(32).toString('hex'),
      ROTOR_DRIFT_SCAN_MS: '0',
      ROTOR_COPY_SCAN_MS: '0',
    });
    await Promise.all([distributor.start().ready(), issuer.start().ready()]);
    // Both initial versions delivered: the targets themselves hold the values and must never count as copies.
    await eventually(
      async () => (kube.secret(namespace, 'reported-credentials') && kube.secret(namespace, 'removed-credentials') ? true : undefined),
      { what: 'initial versions delivered', timeoutMs: 30_000 },
    );
    reportedValue = await gsmValue(reported, 1);
    removedValue = await gsmValue(removed, 1);
    cliEnv = { ROTOR_DISTRIBUTOR_URL: distributor.url, ROTOR_TOKEN: sre };
  }, 120_000);

  afterAll(async () => {
    await Promise.all([issuer?.stop(), distributor?.stop()]);
    await publisher?.disconnect();
    await Promise.all([kube?.stop(), gsm?.close()]);
  });

  it('finds a value in an unlabelled Secret and inside a connection string in a ConfigMap, and publishes each location once', async () => {
    kube.putSecret({ metadata: { name: 'hand-made', namespace }, data: { 'api-key': b64(reportedValue), user: b64('app') } });
    kube.putConfigMap({
      metadata: { name: 'app-config', namespace },
      data: { DATABASE_URL: `postgres://app:${reportedValue}@db.internal:5432/app`, LOG_LEVEL: 'info' },
    });
    kube.putConfigMap({
      metadata: { name: 'innocent', namespace },
      data: { NOT_IT: reportedValue.slice(0, -1) + (reportedValue.endsWith('A') ? 'B' : 'A') },
    });

    const report = await copyScan();
    expect(report.errors).toEqual([]);
    expect(report.skippedManaged).toBe(2);
    expect(report.findings).toEqual(
      expect.arrayContaining([
        {
          secret: reported,
          version: 1,
          form: 'raw',
          location: { kind: 'kubernetes-secret', namespace, name: 'hand-made', key: 'api-key' },
          removed: false,
        },
        {
          secret: reported,
          version: 1,
          form: 'raw',
          location: { kind: 'kubernetes-configmap', namespace, name: 'app-config', key: 'DATABASE_URL' },
          removed: false,
        },
      ]),
    );
    expect(report.findings).toHaveLength(2);
    // Reported, not removed: the catalog says copies: report.
    expect(kube.secret(namespace, 'hand-made')?.data?.['api-key']).toBe(b64(reportedValue));

    const events = await eventually(
      async () => {
        const found = await copyEvents();
        return found.length >= 2 ? found : undefined;
      },
      { what: 'copy.discovered events' },
    );
    expect(events).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          secret: reported,
          version: 1,
          owner: 'team-copies',
          removed: false,
          location: { kind: 'kubernetes-secret', namespace, name: 'hand-made', key: 'api-key' },
        }),
        expect.objectContaining({
          secret: reported,
          version: 1,
          location: { kind: 'kubernetes-configmap', namespace, name: 'app-config', key: 'DATABASE_URL' },
        }),
      ]),
    );

    // A second scan reports them again but publishes nothing new for copies that persist.
    expect((await copyScan()).findings).toHaveLength(2);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await copyEvents()).toHaveLength(2);
    await neverLeaked(reportedValue, removedValue);
  }, 60_000);

  it('removes copies of a secret whose catalog says copies: remove: the key, or the whole object when it was its only key', async () => {
    kube.putSecret({ metadata: { name: 'db-login', namespace }, data: { password: b64(removedValue), username: b64('app') } });
    kube.putSecret({ metadata: { name: 'db-password-only', namespace }, data: { password: b64(removedValue) } });

    const report = await copyScan();
    expect(report.findings.filter((finding) => finding.secret === removed)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ location: { kind: 'kubernetes-secret', namespace, name: 'db-login', key: 'password' }, removed: true }),
        expect.objectContaining({
          location: { kind: 'kubernetes-secret', namespace, name: 'db-password-only', key: 'password' },
          removed: true,
        }),
      ]),
    );
    expect(kube.secret(namespace, 'db-login')?.data).toEqual({ username: b64('app') });
    expect(kube.secret(namespace, 'db-password-only')).toBeUndefined();
    // The delivered copy (labelled as rotor's) is untouched.
    expect(Buffer.from(kube.secret(namespace, 'removed-credentials')?.data?.['password'] ?? '', 'base64').toString()).toBe(removedValue);

    await eventually(
      async () =>
        (await copyEvents()).filter((event) => event.secret === removed && event.removed === true).length === 2 ? true : undefined,
      { what: 'removal events' },
    );
    await neverLeaked(reportedValue, removedValue);
  }, 60_000);

  it('still finds a retired version after GSM destroyed it, from the fingerprints taken while it was live', async () => {
    await publisher.publish(
      createEvent({
        topic: Topics.rotationRequested,
        source: '/rotor/test',
        subject: reported,
        data: {
          secret: reported,
          reason: 'requested',
          requestedBy: { kind: 'operator', subject: 'sre@example.com', groups: ['rotor:sre'] },
        },
      }),
    );
    await eventually(
      async () => (kube.secret(namespace, 'reported-credentials')?.metadata?.annotations?.['rotor.dev/version'] === '2' ? true : undefined),
      { what: 'version 2 delivered', timeoutMs: 30_000 },
    );
    const gsmVersion = `projects/${project}/secrets/${reported}/versions/1`;
    await gsm.disable(gsmVersion);
    await gsm.destroy(gsmVersion);
    await publisher.publish(
      createEvent({
        topic: Topics.secretVersionRetired,
        source: '/rotor/test',
        subject: reported,
        data: { secret: reported, version: 1, gsmVersion, reason: 'superseded', retiredAt: new Date().toISOString() },
      }),
    );
    kube.putSecret({ metadata: { name: 'late-copy', namespace }, data: { token: b64(reportedValue) } });

    const report = await eventually(
      async () => {
        const scan = await copyScan();
        return scan.findings.some((finding) => finding.location.name === 'late-copy') ? scan : undefined;
      },
      { what: 'the retired version found' },
    );
    expect(report.findings).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ secret: reported, version: 1, location: expect.objectContaining({ name: 'late-copy', key: 'token' }) }),
      ]),
    );
  }, 60_000);

  it('rotor scan finds values in an .env file and a YAML manifest at the right lines, prints no value, and exits 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rotor-scan-'));
    writeFileSync(join(dir, '.env'), `# local settings\nLOG_LEVEL=debug\nAPI_KEY=${reportedValue}\nDB_HOST=localhost\n`);
    mkdirSync(join(dir, 'deploy'));
    writeFileSync(
      join(dir, 'deploy', 'secret.yaml'),
      [
        'apiVersion: v1',
        'kind: Secret',
        'metadata:',
        '  name: db',
        '  namespace: app',
        'type: Opaque',
        'data:',
        `  password: ${b64(removedValue)}`,
        `  username: ${b64('app')}`,
        '',
      ].join('\n'),
    );
    writeFileSync(join(dir, 'deploy', 'README.md'), 'Nothing to see here.\n'.repeat(100));
    writeFileSync(join(dir, 'image.bin'), Buffer.concat([Buffer.from([0x89, 0x50, 0x00, 0x01]), Buffer.from(reportedValue)]));
    writeFileSync(join(dir, 'huge.log'), Buffer.alloc(2 * 1024 * 1024, 'a'));
    symlinkSync('/etc/hostname', join(dir, 'outside-link'));
    const missing = join(dir, 'does-not-exist');

    const json = await runRotorCli(['scan', dir, missing, '--json', '--max-file-mb', '1'], cliEnv);
    expect(json.code).toBe(1);
    const result = JSON.parse(json.stdout) as {
      findings: { path: string; line: number; secret: string; version: number; form: string }[];
      skipped: { path: string; reason: string }[];
    };
    expect(result.findings).toEqual([
      { path: join(dir, '.env'), line: 3, secret: reported, version: 1, form: 'raw' },
      { path: join(dir, 'deploy', 'secret.yaml'), line: 8, secret: removed, version: 1, form: 'base64' },
    ]);
    expect(result.skipped).toEqual(
      expect.arrayContaining([
        { path: join(dir, 'image.bin'), reason: 'binary file' },
        { path: join(dir, 'huge.log'), reason: expect.stringContaining('--max-file-mb') },
        { path: join(dir, 'outside-link'), reason: expect.stringContaining('symlink') },
        { path: missing, reason: expect.stringContaining('unreadable') },
      ]),
    );

    const plain = await runRotorCli(['scan', dir], cliEnv);
    expect(plain.code).toBe(1);
    expect(plain.stdout).toBe(
      `${join(dir, '.env')}:3: secret ${reported} version 1 (raw)\n${join(dir, 'deploy', 'secret.yaml')}:8: secret ${removed} version 1 (base64)\n`,
    );
    expect(plain.stderr).toContain('skipped');
    for (const run of [json, plain]) {
      for (const form of [reportedValue, removedValue, b64(reportedValue), b64(removedValue)])
        expect(run.stdout + run.stderr).not.toContain(form);
    }
  }, 60_000);

  it('rotor scan exits 0 on a clean tree, 4 when the distributor cannot be reached, and reads exported CI variables from stdin', async () => {
    const clean = mkdtempSync(join(tmpdir(), 'rotor-scan-clean-'));
    writeFileSync(join(clean, 'config.yaml'), `key: ${randomBytes(32).toString('base64url')}\n`);
    const ok = await runRotorCli(['scan', clean], cliEnv);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe('');

    const down = await runRotorCli(['scan', clean], { ...cliEnv, ROTOR_DISTRIBUTOR_URL: 'http://127.0.0.1:19699' });
    expect(down.code).toBe(4); // unavailable
    expect(down.stderr).toContain('cannot reach');
    expect((await runRotorCli(['scan'], cliEnv)).code).toBe(2);

    const ci = await runRotorCli(['scan', '-', '--report'], cliEnv, `HOME=/root\nCI=true\nDEPLOY_TOKEN=${reportedValue}\n`);
    expect(ci.code).toBe(1);
    expect(ci.stdout).toBe(`-:3: secret ${reported} version 1 (raw)\n`);
    expect(ci.stdout + ci.stderr).not.toContain(reportedValue);
    await eventually(
      async () =>
        (await copyEvents()).some(
          (event) => event.location.kind === 'ci-variable' && event.location['line'] === 3 && event.location['path'] === 'stdin',
        )
          ? true
          : undefined,
      { what: 'the reported CI variable on the topic' },
    );
    await neverLeaked(reportedValue, removedValue);
  }, 60_000);

  it('answers fingerprints and reports only to operators, and refuses findings of versions it does not know', async () => {
    const workload = await identity.serviceAccountToken(namespace, 'app');
    expect(
      (await fetch(`${distributor.url}/v1/copy-scan/fingerprints`, { method: 'POST', headers: { authorization: `Bearer ${workload}` } }))
        .status,
    ).toBe(403);
    const auditor = await identity.operatorToken('auditor@example.com', ['rotor:auditor']);
    expect(
      (await fetch(`${distributor.url}/v1/copy-scan`, { method: 'POST', headers: { authorization: `Bearer ${auditor}` } })).status,
    ).toBe(403);
    const bogus = await fetch(`${distributor.url}/v1/copy-scan/findings`, {
      method: 'POST',
      headers: { authorization: `Bearer ${auditor}`, 'content-type': 'application/json' },
      body: JSON.stringify({ findings: [{ secret: reported, version: 99, form: 'raw', kind: 'file', path: '/x', line: 1 }] }),
    });
    expect(bogus.status).toBe(400);
    expect(((await bogus.json()) as { code: string }).code).toBe('unknown-version');

    const response = await fetch(`${distributor.url}/v1/copy-scan/fingerprints`, {
      method: 'POST',
      headers: { authorization: `Bearer ${auditor}` },
    });
    expect(response.status).toBe(200);
    const text = await response.text();
    for (const form of [reportedValue, removedValue, b64(reportedValue), b64(removedValue)]) expect(text).not.toContain(form);
    const body = JSON.parse(text) as { scanKey: string; fingerprints: { secret: string; hmac: string; length: number }[] };
    expect(body.scanKey).toMatch(/^[0-9a-f]{64}$/);
    expect(body.fingerprints.filter((fingerprint) => fingerprint.secret === reported).length).toBeGreaterThanOrEqual(8); // versions 1 and 2, four forms each
  }, 30_000);
});
