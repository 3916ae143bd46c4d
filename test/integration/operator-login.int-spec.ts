import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { decodeJwt } from 'jose';

import { Topics } from '@rotor/contracts';
import type { CallerView } from '@rotor/rest-contract';

import { eventually } from '../support/eventually';

import { LocalOpenIdProviderProcess } from '../support/local-openid-provider';
import { runRotorCli, startRotorCli } from '../support/rotor-cli';
import { ScriptedBrowser } from '../support/scripted-browser';
import { ServiceProcess } from '../support/service-process';
import { TestIdentity } from '../support/test-identity';
import { readRotorTopicsSince } from '../support/topic-tap';

const PORT = 19720;
const SRE_PASSWORD = 'correct horse battery staple';
const AUDITOR_PASSWORD = 'tr0ub4dor&3';

interface LoginSummary {
  subject: string;
  email?: string;
  idpGroups?: string[];
  expiresAt: string;
  renewable: boolean;
  rotor?: CallerView;
}

/**
 * `rotor login` against a real OpenID Provider (the certified `oidc-provider` package), the
 * person's side of each flow driven by a scripted browser; the issuer trusts that provider for
 * operators only, through discovery, and maps its groups to rotor's.
 */
describe('operator sign-in (rotor login, whoami, logout)', () => {
  const provider = new LocalOpenIdProviderProcess([
    { username: 'ana', password: SRE_PASSWORD, groups: ['platform-sre', 'staff'] },
    { username: 'bo', password: AUDITOR_PASSWORD, groups: ['security-audit'] },
  ]);
  let identity: TestIdentity;
  let issuer: ServiceProcess;
  let cliEnv: Record<string, string>;
  const loginCacheFile = () => join(cliEnv['ROTOR_CONFIG_DIR']!, 'login.json');

  beforeAll(async () => {
    await provider.start();
    identity = await TestIdentity.create();
    const { ROTOR_OPERATOR_JWKS: _file, ...clusterAndDefaults } = identity.env;
    issuer = new ServiceProcess('issuer', PORT, {
      ...clusterAndDefaults,
      // Keys through the provider's discovery document, as in production.
      ROTOR_OPERATOR_ISSUER: provider.issuer,
      ROTOR_OPERATOR_GROUP_MAP: 'platform-sre=rotor:sre,security-audit=rotor:auditor,security-audit=rotor:introspect',
    });
    await issuer.start().ready();
    cliEnv = {
      ROTOR_CONFIG_DIR: mkdtempSync(join(tmpdir(), 'rotor-cli-config-')),
      ROTOR_OPERATOR_ISSUER: provider.issuer,
      ROTOR_ISSUER_URL: issuer.url,
      ROTOR_TOKEN: '',
    };
  }, 60_000);

  afterAll(async () => {
    await issuer?.stop();
    await provider.stop();
  });

  it('signs an SRE in with the device flow; the issuer maps their IdP groups to rotor:sre', async () => {
    const login = startRotorCli(['login', '--json'], cliEnv);
    const [, verificationUrl, userCode] = await login.stderrMatch(/open (\S+) \(code (\S+),/);
    expect(new URL(verificationUrl!).origin).toBe(provider.issuer);

    // The person's browser: the code page, its confirmation, the sign-in form.
    const browser = new ScriptedBrowser();
    const codeForm = await browser.open(verificationUrl!);
    const confirmation = await browser.submit(codeForm);
    expect(confirmation.html).toContain(userCode!);
    const signInPage = await browser.submit(confirmation, {}, 'op.deviceConfirmForm');
    expect(signInPage.html).toContain('name="password"');
    const wrong = await browser.submit(signInPage, { username: 'ana', password: 'not it' });
    expect(wrong.status).toBe(401);
    const done = await browser.submit(wrong, { username: 'ana', password: SRE_PASSWORD });
    expect(done.html).toContain('You are signed in to rotor');

    const { code, stdout, stderr } = await login.done;
    expect({ code, stderr: stderr.includes('refused') }).toEqual({ code: 0, stderr: false });
    const summary = JSON.parse(stdout) as LoginSummary;
    expect(summary).toMatchObject({
      subject: 'ana',
      email: 'ana@rotor.local',
      idpGroups: ['platform-sre', 'staff'],
      renewable: true,
      rotor: { kind: 'operator', subject: 'ana', groups: ['rotor:sre'] },
    });
    expect(provider.signIns()).toEqual(['ana refused', 'ana accepted']);
    // Kept for the next commands, readable by its owner only.
    expect(statSync(loginCacheFile()).mode & 0o777).toBe(0o600);
    expect(statSync(cliEnv['ROTOR_CONFIG_DIR']!).mode & 0o777).toBe(0o700);

    const whoami = await runRotorCli(['whoami', '--json'], cliEnv);
    expect(whoami.code).toBe(0);
    expect(JSON.parse(whoami.stdout)).toMatchObject({ subject: 'ana', rotor: { kind: 'operator', groups: ['rotor:sre'] } });
  }, 60_000);

  it('renews an expiring sign-in with its refresh token, and refuses a cache others can read', async () => {
    const before = JSON.parse(readFileSync(loginCacheFile(), 'utf8')) as { idToken: string; refreshToken: string; expiresAt: number };
    writeFileSync(loginCacheFile(), JSON.stringify({ ...before, expiresAt: Date.now() + 10_000 }), { mode: 0o600 });

    const whoami = await runRotorCli(['whoami', '--json'], cliEnv);
    expect(whoami.code).toBe(0);
    const after = JSON.parse(readFileSync(loginCacheFile(), 'utf8')) as typeof before;
    expect(after.idToken).not.toBe(before.idToken);
    expect(after.refreshToken).not.toBe(before.refreshToken); // rotated by the provider
    expect(after.expiresAt).toBeGreaterThan(Date.now() + 60_000);
    expect(decodeJwt(after.idToken)).toMatchObject({ sub: 'ana', groups: ['platform-sre', 'staff'] });
    expect(JSON.parse(whoami.stdout)).toMatchObject({ rotor: { kind: 'operator', groups: ['rotor:sre'] } });

    chmodSync(loginCacheFile(), 0o644);
    const refused = await runRotorCli(['whoami', '--json'], cliEnv);
    expect(refused.code).toBe(3); // the sign-in cannot be used
    expect(refused.stderr).toMatch(/can be read by others/);
    chmodSync(loginCacheFile(), 0o600);
  }, 60_000);

  it("keeps operators and workloads apart: an operator's ID token gets no credential, a workload token no operator rights", async () => {
    const { idToken } = JSON.parse(readFileSync(loginCacheFile(), 'utf8')) as { idToken: string };
    const asOperator = await fetch(`${issuer.url}/v1/credentials`, {
      method: 'POST',
      headers: { authorization: `Bearer ${idToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ role: 'anything' }),
    });
    expect({ status: asOperator.status, code: ((await asOperator.json()) as { code: string }).code }).toEqual({
      status: 403,
      code: 'workloads-only',
    });

    const breakGlass = JSON.stringify({ reason: 'database on fire, incident 42', ticket: 'INC-42', ttl: '15m', secrets: ['app-key'] });
    const openBreakGlass = async (token: string) => {
      const answer = await fetch(`${issuer.url}/v1/break-glass`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: breakGlass,
      });
      return { status: answer.status, code: ((await answer.json()) as { code: string }).code };
    };
    expect(await openBreakGlass(await identity.serviceAccountToken('payments', 'api'))).toEqual({ status: 403, code: 'missing-group' });
    // The cluster's issuer naming a person with rotor groups (Kubernetes never issues one): no identity at all.
    expect(await openBreakGlass(await identity.clusterTokenWithGroups('ana', ['rotor:sre']))).toEqual({
      status: 401,
      code: 'unknown-subject',
    });
  }, 30_000);

  it("lets the signed-in SRE revoke a workload's lease; the revocation request names them", async () => {
    const started = new Date();
    const issued = await fetch(`${issuer.url}/v1/credentials`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await identity.serviceAccountToken('demo', 'app')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ role: 'demo-token', ttl: '10m' }),
    });
    expect(issued.status).toBe(201);
    const { leaseId } = (await issued.json()) as { leaseId: string };

    const revoke = await runRotorCli(['leases', 'revoke', leaseId, '--json'], cliEnv);
    expect(revoke.code).toBe(0);
    expect(JSON.parse(revoke.stdout)).toMatchObject({ leaseId, revocation: 'requested' });
    const requested = await eventually(
      async () =>
        (await readRotorTopicsSince(started))
          .filter((message) => message.topic === Topics.revocationRequested && message.value.includes(leaseId))
          .map((message) => (JSON.parse(message.value) as { data: { requestedBy: unknown } }).data.requestedBy)[0],
      { what: 'the revocation request on Kafka' },
    );
    expect(requested).toEqual({ kind: 'operator', subject: 'ana', groups: ['rotor:sre'] });
  }, 30_000);

  it('signs an auditor in with the authorization code flow and PKCE on a loopback redirect', async () => {
    const env = { ...cliEnv, ROTOR_CONFIG_DIR: mkdtempSync(join(tmpdir(), 'rotor-cli-config-')) };
    const login = startRotorCli(['login', '--browser', '--json'], env);
    const [, authorizationUrl] = await login.stderrMatch(/sign in to rotor:\s+(\S+)/);
    const authorize = new URL(authorizationUrl!);
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorize.searchParams.get('redirect_uri')).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);

    const browser = new ScriptedBrowser();
    const signInPage = await browser.open(authorizationUrl!);
    const landed = await browser.submit(signInPage, { username: 'bo', password: AUDITOR_PASSWORD });
    expect(landed.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback\?/);
    expect(landed.html).toContain('Signed in to rotor');

    const { code, stdout } = await login.done;
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({
      subject: 'bo',
      rotor: { kind: 'operator', subject: 'bo', groups: ['rotor:auditor', 'rotor:introspect'] },
    });
  }, 60_000);

  it('logs out: the refresh token is revoked at the provider and the sign-in forgotten', async () => {
    const { refreshToken } = JSON.parse(readFileSync(loginCacheFile(), 'utf8')) as { refreshToken: string };
    const logout = await runRotorCli(['logout', '--json'], cliEnv);
    expect(logout.code).toBe(0);
    expect(JSON.parse(logout.stdout)).toEqual({ signedOut: true, refreshTokenRevoked: true });
    expect(() => statSync(loginCacheFile())).toThrow();

    const discovery = (await (await fetch(`${provider.issuer}/.well-known/openid-configuration`)).json()) as { token_endpoint: string };
    const reuse = await fetch(discovery.token_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: 'rotor-cli' }),
    });
    expect({ status: reuse.status, error: ((await reuse.json()) as { error: string }).error }).toEqual({
      status: 400,
      error: 'invalid_grant',
    });

    const whoami = await runRotorCli(['whoami'], cliEnv);
    expect(whoami.code).toBe(3); // not signed in
    expect(whoami.stderr).toMatch(/not signed in: run rotor login/);
  }, 30_000);
});
