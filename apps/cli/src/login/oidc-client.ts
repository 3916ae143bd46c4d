import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import { decodeJwt } from 'jose';
import { z } from 'zod';

import { sleep } from '@rotor/backoff';

import { CliError, ExitCode } from '../exit-codes';
import { transportTo } from '../rotor-api';

/** What `rotor login` needs of an OpenID Provider's discovery document. */
export interface ProviderEndpoints {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  device_authorization_endpoint?: string;
  revocation_endpoint?: string;
}

/** A sign-in: the ID token rotor's services verify, and the refresh token that renews it. */
export interface SignIn {
  idToken: string;
  refreshToken?: string;
  /** When the ID token expires (ms since the epoch), read from its `exp`. */
  expiresAt: number;
}

/** The scopes asked for: the groups claim, and a refresh token (offline_access). */
export const LOGIN_SCOPES = 'openid email groups offline_access';

/** The provider refused or could not complete the sign-in (exit 3). */
export class LoginError extends CliError {
  constructor(message: string) {
    super(message, ExitCode.auth);
  }
}

/** Any JSON object: discover() checks the members it needs and names what is missing. */
const DiscoveryDocument = z.custom<ProviderEndpoints>((value) => typeof value === 'object' && value !== null && !Array.isArray(value));

/** OpenID Connect Discovery 1.0; the document must name the issuer it was fetched for (§4.3). */
export async function discover(issuer: string): Promise<ProviderEndpoints> {
  const url = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
  const document = await transportTo(url).json({
    method: 'GET',
    path: url,
    idempotent: true,
    schema: DiscoveryDocument,
    what: 'GET /.well-known/openid-configuration',
  });
  if (document.issuer !== issuer) throw new LoginError(`the discovery document at ${url} names issuer ${document.issuer}, not ${issuer}`);
  if (!document.token_endpoint || !document.authorization_endpoint) throw new LoginError(`${url} lacks token or authorization endpoints`);
  return document;
}

interface TokenAnswer {
  id_token?: string;
  refresh_token?: string;
  error?: string;
  error_description?: string;
  interval?: number;
}

/** One form POST, answered in OAuth's own shape whatever the status: not retried (a code is used once). */
const sendForm = (url: string, form: Record<string, string>) =>
  transportTo(url).send(
    'POST',
    url,
    { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    new URLSearchParams(form).toString(),
  );

async function postForm(url: string, form: Record<string, string>): Promise<{ status: number; body: TokenAnswer }> {
  const { status, text } = await sendForm(url, form);
  let body: TokenAnswer = {};
  try {
    body = text ? (JSON.parse(text) as TokenAnswer) : {};
  } catch {
    throw new LoginError(`${url} answered ${status} with something other than JSON`);
  }
  return { status, body };
}

function signInFrom(body: TokenAnswer, previousRefreshToken?: string): SignIn {
  if (!body.id_token) throw new LoginError('the provider answered without an ID token (is the openid scope allowed?)');
  const { exp } = decodeJwt(body.id_token);
  if (typeof exp !== 'number') throw new LoginError('the ID token has no expiry');
  const refreshToken = body.refresh_token ?? previousRefreshToken;
  return { idToken: body.id_token, expiresAt: exp * 1000, ...(refreshToken ? { refreshToken } : {}) };
}

const refused = (body: TokenAnswer) =>
  new LoginError(`sign-in refused: ${body.error ?? 'error'}${body.error_description ? ` (${body.error_description})` : ''}`);

export interface DevicePrompt {
  verificationUri: string;
  verificationUriComplete?: string;
  userCode: string;
  expiresInSeconds: number;
}

/**
 * The device authorization grant (RFC 8628): the person opens a page on any device and types
 * the code; this polls the token endpoint at the pace the provider asks for.
 */
export async function deviceLogin(
  endpoints: ProviderEndpoints,
  clientId: string,
  prompt: (device: DevicePrompt) => void,
  signal?: AbortSignal,
): Promise<SignIn> {
  if (!endpoints.device_authorization_endpoint) throw new LoginError(`${endpoints.issuer} offers no device authorization; use --browser`);
  const { status, text } = await sendForm(endpoints.device_authorization_endpoint, { client_id: clientId, scope: LOGIN_SCOPES });
  const device = JSON.parse(text) as TokenAnswer & {
    device_code: string;
    user_code: string;
    verification_uri: string;
    verification_uri_complete?: string;
    expires_in: number;
  };
  if (status !== 200) throw refused(device);
  prompt({
    verificationUri: device.verification_uri,
    userCode: device.user_code,
    expiresInSeconds: device.expires_in,
    ...(device.verification_uri_complete ? { verificationUriComplete: device.verification_uri_complete } : {}),
  });
  let intervalMs = (device.interval ?? 5) * 1000;
  const deadline = Date.now() + device.expires_in * 1000;
  while (Date.now() < deadline && !signal?.aborted) {
    await sleep(intervalMs, signal);
    const answer = await postForm(endpoints.token_endpoint, {
      grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
      device_code: device.device_code,
      client_id: clientId,
    });
    if (answer.status === 200) return signInFrom(answer.body);
    if (answer.body.error === 'authorization_pending') continue;
    // RFC 8628 §3.5: slow down by 5 seconds, for this and every later poll.
    if (answer.body.error === 'slow_down') intervalMs += 5_000;
    else throw refused(answer.body);
  }
  throw new LoginError('the code expired before the sign-in was completed; run rotor login again');
}

const base64url = (bytes: Buffer) => bytes.toString('base64url');

/**
 * The authorization code flow with PKCE (RFC 7636) on a loopback redirect (RFC 8252 §7.3): a
 * one-shot listener on 127.0.0.1 takes the code, checked against the state it sent.
 */
export async function browserLogin(
  endpoints: ProviderEndpoints,
  clientId: string,
  prompt: (authorizationUrl: string) => void,
  { timeoutMs = 300_000 }: { timeoutMs?: number } = {},
): Promise<SignIn> {
  const verifier = base64url(randomBytes(32));
  const challenge = base64url(createHash('sha256').update(verifier).digest());
  const state = base64url(randomBytes(16));
  let settle!: { resolve: (code: string) => void; reject: (error: Error) => void };
  const codeArrived = new Promise<string>((resolve, reject) => (settle = { resolve, reject }));
  const listener = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== '/callback') return res.writeHead(404).end();
    const error = url.searchParams.get('error');
    const code = url.searchParams.get('code');
    if (url.searchParams.get('state') !== state) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('This sign-in answer does not belong to this rotor login.\n');
      return;
    }
    res
      .writeHead(200, { 'content-type': 'text/plain' })
      .end(error ? `Sign-in failed: ${error}\n` : 'Signed in to rotor. You can close this page.\n');
    if (error) settle.reject(new LoginError(`sign-in refused: ${error} ${url.searchParams.get('error_description') ?? ''}`.trim()));
    else if (code) settle.resolve(code);
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const redirectUri = `http://127.0.0.1:${(listener.address() as AddressInfo).port}/callback`;
  const timer = setTimeout(() => settle.reject(new LoginError('no sign-in answer came back in time; run rotor login again')), timeoutMs);
  try {
    const authorize = new URL(endpoints.authorization_endpoint);
    authorize.search = new URLSearchParams({
      client_id: clientId,
      response_type: 'code',
      scope: LOGIN_SCOPES,
      redirect_uri: redirectUri,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state,
      // offline_access (a refresh token) is granted on an explicit consent prompt only.
      prompt: 'consent',
    }).toString();
    prompt(authorize.toString());
    const code = await codeArrived;
    const answer = await postForm(endpoints.token_endpoint, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri,
      client_id: clientId,
      code_verifier: verifier,
    });
    if (answer.status !== 200) throw refused(answer.body);
    return signInFrom(answer.body);
  } finally {
    clearTimeout(timer);
    listener.closeAllConnections();
    listener.close();
  }
}

/** A fresh ID token from the refresh token; the provider may rotate the refresh token too. */
export async function refreshSignIn(endpoints: ProviderEndpoints, clientId: string, refreshToken: string): Promise<SignIn> {
  const answer = await postForm(endpoints.token_endpoint, {
    grant_type: 'refresh_token',
    refresh_token: refreshToken,
    client_id: clientId,
  });
  if (answer.status !== 200) throw refused(answer.body);
  return signInFrom(answer.body, refreshToken);
}

/** RFC 7009: the refresh token is worthless afterwards, wherever a copy of it went. */
export async function revokeRefreshToken(endpoints: ProviderEndpoints, clientId: string, refreshToken: string): Promise<boolean> {
  if (!endpoints.revocation_endpoint) return false;
  const answer = await postForm(endpoints.revocation_endpoint, {
    token: refreshToken,
    token_type_hint: 'refresh_token',
    client_id: clientId,
  });
  return answer.status === 200;
}
