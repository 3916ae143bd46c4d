import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

import { exportJWK, generateKeyPair, type JWK } from 'jose';

import { authenticate, type Accounts } from './accounts';

/** The client id of rotor's CLI: a public client (no secret), PKCE and the device grant. */
export const CLI_CLIENT_ID = 'rotor-cli';

export interface LocalProviderOptions {
  host: string;
  port: number;
  accounts: Accounts;
  /** The private signing key (a JWK with `kid`); tokens are ES256. */
  signingKey: JWK;
  tls?: { cert: string; key: string };
  /** How long an ID token lives; operator tokens are short-lived and refreshed. */
  idTokenSeconds?: number;
}

/** The little of oidc-provider's API this tool uses (the package ships no types). */
interface OidcProvider {
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<Interaction>;
  interactionFinished(req: IncomingMessage, res: ServerResponse, result: object, options?: object): Promise<void>;
  on(event: string, listener: (...args: unknown[]) => void): void;
  Grant: GrantClass;
}
interface Interaction {
  uid: string;
  grantId?: string;
  prompt: {
    name: string;
    details: { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
  };
  params: { client_id: string };
  session?: { accountId: string };
}
interface Grant {
  addOIDCScope(scope: string): void;
  addOIDCClaims(claims: string[]): void;
  addResourceScope(indicator: string, scope: string): void;
  save(): Promise<string>;
}
interface GrantClass {
  new (init: { accountId: string; clientId: string }): Grant;
  find(id: string): Promise<Grant | undefined>;
}

/** oidc-provider is an ES module; Node loads it with require() (no top-level await in it). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const loadProvider = () => require('oidc-provider') as { default: new (issuer: string, configuration: object) => OidcProvider };

export async function generateSigningKey(): Promise<JWK> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  return { ...(await exportJWK(privateKey)), kid: `local-${randomBytes(4).toString('hex')}`, alg: 'ES256', use: 'sig' };
}

/** The signing key in `file`, generated (mode 0600) on first use. */
export async function loadSigningKey(file: string): Promise<JWK> {
  if (!existsSync(file)) writeFileSync(file, `${JSON.stringify(await generateSigningKey())}\n`, { mode: 0o600 });
  return JSON.parse(readFileSync(file, 'utf8')) as JWK;
}

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** Plain pages, nothing fetched from elsewhere (oidc-provider's own pull in web fonts). */
const page = (title: string, body: string) =>
  `<!doctype html>\n<html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;

const loginPage = (uid: string, problem?: string) =>
  page(
    'Sign in to rotor (local OpenID Provider)',
    `${problem ? `<p role="alert">${escapeHtml(problem)}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(uid)}/login">
<label>User <input name="username" autocomplete="username" autofocus></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button type="submit">Sign in</button></form>`,
  );

/** The device flow's pages: enter the code, confirm it is the one the terminal shows, done. */
const devicePages = {
  userCodeInputSource: (ctx: { body: string }, form: string, _out: unknown, error?: Error) => {
    ctx.body = page(
      'Sign in a device to rotor',
      `${error ? '<p role="alert">That code is not valid or has expired.</p>' : ''}<p>Enter the code your terminal shows.</p>${form}<button type="submit" form="op.deviceInputForm">Continue</button>`,
    );
  },
  userCodeConfirmSource: (
    ctx: { body: string },
    form: string,
    client: { clientName?: string; clientId: string },
    _info: unknown,
    code: string,
  ) => {
    ctx.body = page(
      'Confirm the code',
      `<p>${escapeHtml(client.clientName ?? client.clientId)} asks to sign in with the code <code>${escapeHtml(code)}</code>. Continue only if your terminal shows the same code.</p>${form}<button type="submit" form="op.deviceConfirmForm">Continue</button>`,
    );
  },
  successSource: (ctx: { body: string }) => {
    ctx.body = page('Signed in', '<p>You are signed in to rotor. Return to your terminal.</p>');
  },
};

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > 16_384) throw new Error('form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/**
 * A certified OpenID Provider (the `oidc-provider` package) for the local stack and the login
 * tests: people from an accounts file with passwords and IdP groups, the authorization code
 * flow with PKCE on a loopback redirect and the device authorization grant for `rotor login`,
 * refresh tokens, and token revocation. State (sessions, grants) lives in memory: a restart
 * signs everyone out. This stands in for an organisation's IdP (Okta, Entra ID, Keycloak…).
 */
export class LocalOpenIdProvider {
  private server?: Server;
  private issuerUrl = '';
  readonly signIns: { username: string; ok: boolean }[] = [];

  constructor(private readonly options: LocalProviderOptions) {}

  get issuer(): string {
    return this.issuerUrl;
  }

  async start(): Promise<this> {
    const { host, port, tls } = this.options;
    let handler: (req: IncomingMessage, res: ServerResponse) => void = () => undefined;
    this.server = tls ? createHttpsServer(tls, (req, res) => handler(req, res)) : createHttpServer((req, res) => handler(req, res));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host, resolve);
    });
    const bound = (this.server.address() as AddressInfo).port;
    this.issuerUrl = `${tls ? 'https' : 'http'}://${host}:${bound}`;
    const provider = this.createProvider();
    const oidc = provider.callback();
    handler = (req, res) => {
      const path = new URL(req.url ?? '/', this.issuerUrl).pathname;
      if (path.startsWith('/interaction/')) {
        this.interaction(provider, req, res, path).catch((error: Error) => {
          if (!res.headersSent) res.writeHead(400, { 'content-type': 'text/plain' });
          res.end(`sign-in failed: ${error.message}\n`);
        });
        return;
      }
      oidc(req, res);
    };
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private createProvider(): OidcProvider {
    const { accounts, signingKey, idTokenSeconds = 900 } = this.options;
    const { default: Provider } = loadProvider();
    const provider = new Provider(this.issuerUrl, {
      clients: [
        {
          client_id: CLI_CLIENT_ID,
          client_name: 'rotor CLI',
          application_type: 'native',
          token_endpoint_auth_method: 'none',
          grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
          response_types: ['code'],
          // RFC 8252 §7.3: a native client's loopback redirect may use any port.
          redirect_uris: ['http://127.0.0.1/callback'],
          id_token_signed_response_alg: 'ES256',
        },
      ],
      jwks: { keys: [signingKey] },
      scopes: ['openid', 'offline_access', 'email', 'groups'],
      claims: { openid: ['sub'], email: ['email', 'email_verified'], groups: ['groups'] },
      // The groups go into the ID token, which rotor verifies (as kubectl's OIDC plugin sends it).
      conformIdTokenClaims: false,
      features: {
        devInteractions: { enabled: false },
        deviceFlow: { enabled: true, ...devicePages },
        revocation: { enabled: true },
      },
      pkce: { required: () => true },
      ttl: {
        IdToken: idTokenSeconds,
        AccessToken: idTokenSeconds,
        RefreshToken: 8 * 3600,
        DeviceCode: 600,
        Interaction: 600,
        Session: 8 * 3600,
        Grant: 8 * 3600,
      },
      cookies: { keys: [randomBytes(32).toString('base64url')] },
      interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
      findAccount: (_ctx: unknown, id: string) => {
        const person = Object.hasOwn(accounts, id) ? accounts[id] : undefined;
        if (!person) return undefined;
        return { accountId: id, claims: () => ({ sub: id, email: person.email, email_verified: true, groups: person.groups }) };
      },
      renderError: (ctx: { type: string; body: string }, out: { error: string; error_description?: string }) => {
        ctx.type = 'text/plain';
        ctx.body = `${out.error}: ${out.error_description ?? ''}\n`;
      },
    });
    // Behind nothing: the issuer is the address it listens on.
    provider.on('server_error', (_ctx, error) => process.stderr.write(`oidc-provider: ${(error as Error).message}\n`));
    return provider;
  }

  /** The sign-in pages: a password form, then consent granted for rotor's own CLI (a first-party client). */
  private async interaction(provider: OidcProvider, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const details = await provider.interactionDetails(req, res);
    if (req.method === 'POST' && path.endsWith('/login')) {
      const form = await readForm(req);
      const username = form.get('username') ?? '';
      const accountId = authenticate(this.options.accounts, username, form.get('password') ?? '');
      this.signIns.push({ username, ok: !!accountId });
      process.stdout.write(`sign-in ${accountId ? 'accepted' : 'refused'} for ${JSON.stringify(username)}\n`);
      if (!accountId) {
        res.writeHead(401, { 'content-type': 'text/html; charset=utf-8' }).end(loginPage(details.uid, 'Unknown user or wrong password.'));
        return;
      }
      await provider.interactionFinished(req, res, { login: { accountId } }, { mergeWithLastSubmission: false });
      return;
    }
    if (details.prompt.name === 'login') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(loginPage(details.uid));
      return;
    }
    if (details.prompt.name !== 'consent' || !details.session) throw new Error(`unexpected prompt ${details.prompt.name}`);
    const grant =
      (details.grantId ? await provider.Grant.find(details.grantId) : undefined) ??
      new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
    const missing = details.prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {}))
      grant.addResourceScope(indicator, scopes.join(' '));
    await provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true });
  }
}
