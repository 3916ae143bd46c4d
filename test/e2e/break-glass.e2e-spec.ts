import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { Topics } from '@rotor/contracts';
import type { BreakGlassGrant, ProblemDetails } from '@rotor/rest-contract';
import { GsmSecretStore } from '@rotor/secret-store';

import { eventually } from '../support/eventually';
import { ServiceProcess } from '../support/service-process';
import { requiredEnv } from '../support/services-env';
import { ensurePortFree, writeTempCatalog } from '../support/temp-files';
import { TestIdentity } from '../support/test-identity';
import { readRotorTopicsSince, type TappedMessage } from '../support/topic-tap';

const ROOT = join(__dirname, '..', '..');
const run = promisify(execFile);

describe('break-glass: time-boxed, logged before anything is shown, rotated right after', () => {
  const started = new Date();
  const project = requiredEnv('GSM_PROJECT');
  const secret = `bg-${randomUUID().slice(0, 8)}`;
  const role = `bg-role-${randomUUID().slice(0, 6)}`;
  let identity: TestIdentity;
  let issuer: ServiceProcess;
  let revoker: ServiceProcess;
  let gsm: GsmSecretStore;
  let sre: string;

  const open = async (body: Record<string, unknown>, token = sre) => {
    const response = await fetch(`${issuer.url}/v1/break-glass`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return {
      status: response.status,
      type: response.headers.get('content-type') ?? '',
      body: (await response.json()) as BreakGlassGrant & Partial<ProblemDetails>,
    };
  };
  const events = async (topic: string): Promise<(TappedMessage & { event: { id: string; data: Record<string, unknown> } })[]> =>
    (await readRotorTopicsSince(started))
      .filter((m) => m.topic === topic)
      .map((m) => ({ ...m, event: JSON.parse(m.value) as { id: string; data: Record<string, unknown> } }));
  const versionsMinted = async (reason: string) =>
    (await events(Topics.secretVersionCreated))
      .filter((m) => m.event.data['secret'] === secret && m.event.data['reason'] === reason)
      .map((m) => m.event.data['version'] as number);

  beforeAll(async () => {
    await Promise.all([19010, 19011].map(ensurePortFree));
    identity = await TestIdentity.create();
    sre = await identity.operatorToken('oncall@example.com', ['rotor:sre']);
    const catalogFile = writeTempCatalog(`
policy: { breakGlassMaxTtl: 10m }
roles:
  - name: ${role}
    owner: team-bg
    backend: { kind: opaque-token }
    bindings: [{ namespace: payments, serviceAccount: api }]
    ttl: 15m
    maxTtl: 1h
managedSecrets:
  - name: ${secret}
    owner: team-bg
    generator: { kind: random-bytes, bytes: 32 }
    rotationPeriod: 30d
    gracePeriod: 3s
    bindings: [{ namespace: payments, serviceAccount: api }]
`);
    gsm = new GsmSecretStore({ project, emulatorHost: requiredEnv('SECRET_MANAGER_EMULATOR_HOST') });
    issuer = new ServiceProcess('issuer', 19010, {
      ...identity.env,
      ROTOR_CATALOG: catalogFile,
      ROTOR_TOKEN_HASH_KEY: randomBytes(32).toString('hex'),
    });
    revoker = new ServiceProcess('revoker', 19011, {
      ...identity.env,
      ROTOR_CATALOG: catalogFile,
      ROTOR_BREAKGLASS_FOLLOWUP_CHECK_MS: '3000',
    });
    await Promise.all([issuer.start().ready(), revoker.start().ready()]);
    await eventually(async () => ((await versionsMinted('initial')).length === 1 ? true : undefined), { what: 'the initial version' });
  }, 120_000);

  afterAll(async () => {
    await Promise.all([issuer?.stop(), revoker?.stop()]);
    await gsm?.close();
  });

  it('refuses access without a reason or ticket, above the policy TTL, and to anyone but an SRE', async () => {
    const body = { secrets: [secret], reason: 'database failover needs the key by hand', ticket: 'INC-4242' };
    const noReason = await open({ secrets: [secret], ticket: 'INC-1' });
    expect(noReason).toMatchObject({ status: 400, body: { code: 'invalid-body' } });
    expect(noReason.type).toContain('application/problem+json');
    expect(noReason.body.detail).toContain('reason');
    expect((await open({ secrets: [secret], reason: 'database failover needs the key' })).body.detail).toContain('ticket');
    expect(await open({ ...body, ttl: '2h' })).toMatchObject({ status: 400, body: { code: 'ttl-above-max' } });
    expect(await open({ ...body, secrets: ['not-in-catalog'] })).toMatchObject({ status: 400, body: { code: 'unknown-managed-secret' } });
    expect((await open(body, await identity.operatorToken('auditor@example.com', ['rotor:auditor']))).status).toBe(403);
    expect((await open(body, await identity.serviceAccountToken('payments', 'api'))).status).toBe(403);
    // Nothing was opened by any of these.
    expect(await events(Topics.breakglassUsed)).toEqual([]);
  });

  it('gives the current value and a role credential under a short TTL, then rotates the secret and revokes the role when it ends', async () => {
    const opened = await open({
      secrets: [secret],
      role,
      reason: 'database failover needs the key by hand',
      ticket: 'INC-4242',
      ttl: '3s',
    });
    expect(opened.status).toBe(201);
    const grant = opened.body;
    expect(grant.secrets).toEqual([
      { secret, version: 1, value: (await gsm.access(`projects/${project}/secrets/${secret}/versions/1`)).toString() },
    ]);
    expect(grant.role?.credential['token']).toMatch(/.{20,}/);
    expect(Date.parse(grant.expiresAt) - Date.now()).toBeLessThanOrEqual(3_000);

    const used = (await events(Topics.breakglassUsed)).map((m) => m.event);
    expect(used).toEqual([
      expect.objectContaining({
        id: grant.id,
        data: expect.objectContaining({
          leaseId: grant.id,
          secrets: [secret],
          role,
          ticket: 'INC-4242',
          actor: { kind: 'operator', subject: 'oncall@example.com', groups: ['rotor:sre'] },
        }),
      }),
    ]);

    // When it ends: a new version minted for the follow-up, the role's lease revoked, the exposed version retired.
    await eventually(async () => ((await versionsMinted('breakglass')).includes(2) ? true : undefined), {
      what: 'the follow-up rotation',
      timeoutMs: 30_000,
    });
    await eventually(
      async () => ((await events(Topics.leaseRevoked)).some((m) => m.event.data['leaseId'] === grant.role!.leaseId) ? true : undefined),
      { what: "the role's lease revoked", timeoutMs: 30_000 },
    );
    await eventually(
      async () =>
        (await events(Topics.secretVersionRetired)).some((m) => m.event.data['secret'] === secret && m.event.data['version'] === 1)
          ? true
          : undefined,
      { what: 'the exposed version retired', timeoutMs: 30_000 },
    );
    await expect(gsm.access(`projects/${project}/secrets/${secret}/versions/1`)).rejects.toThrow();

    // The exposed values appear nowhere but in the response.
    const messages = await readRotorTopicsSince(started);
    for (const value of [grant.secrets[0]!.value, grant.role!.credential['token']!]) {
      expect(messages.filter((m) => m.value.includes(value)).map((m) => `${m.topic}@${m.partition}:${m.offset}`)).toEqual([]);
      expect(issuer.logs.includes(value) || revoker.logs.includes(value)).toBe(false);
    }
  }, 90_000);

  it('ends early from the CLI, and the follow-up rotation starts at once', async () => {
    const cli = (...args: string[]) =>
      run(process.execPath, ['-r', '@swc-node/register', join(ROOT, 'apps/cli/src/main.ts'), ...args, '--json', '--token', sre], {
        cwd: ROOT,
        env: { ...process.env, ROTOR_ISSUER_URL: issuer.url },
      });
    const { stdout } = await cli(
      'break-glass',
      '--secret',
      secret,
      '--reason',
      'hotfix needs the key by hand',
      '--ticket',
      'CHG-77',
      '--ttl',
      '10m',
      '--yes',
    );
    const grant = JSON.parse(stdout) as BreakGlassGrant;
    const exposed = grant.secrets[0]!.version;
    expect(grant.secrets[0]).toMatchObject({ secret });
    expect(exposed).toBeGreaterThanOrEqual(2);

    const ended = JSON.parse((await cli('break-glass', 'end', grant.id)).stdout) as { state: string };
    expect(ended.state).toBe('ending');
    await eventually(async () => ((await versionsMinted('breakglass')).some((version) => version > exposed) ? true : undefined), {
      what: 'the follow-up rotation after the early end',
      timeoutMs: 20_000,
    });
  }, 60_000);

  it('requests a follow-up rotation again until it is done, counting it as overdue', async () => {
    const opened = await open({ secrets: [secret], reason: 'certificate swap needs the key', ticket: 'INC-9', ttl: '2s' });
    expect(opened.status).toBe(201);
    const exposed = opened.body.secrets[0]!.version;
    await issuer.stop(); // nobody can mint the follow-up version now

    const requests = async () =>
      (await events(Topics.rotationRequested))
        .filter((m) => m.event.id.startsWith(`${opened.body.id}:${secret}:breakglass-rotation:`))
        .map((m) => m.event.id);
    await eventually(async () => ((await requests()).length >= 2 ? true : undefined), {
      what: 'the follow-up requested a second time',
      timeoutMs: 30_000,
    });
    const metrics = await (await fetch(`${revoker.url}/metrics`)).text();
    expect(Number(/^rotor_breakglass_followups_overdue_total(?:\{[^}]*\})? (\d+)/m.exec(metrics)?.[1] ?? 0)).toBeGreaterThanOrEqual(1);

    await issuer.start().ready();
    await eventually(async () => ((await versionsMinted('breakglass')).some((version) => version > exposed) ? true : undefined), {
      what: 'the follow-up rotation once the issuer is back',
      timeoutMs: 30_000,
    });
  }, 90_000);
});
