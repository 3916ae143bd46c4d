import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

import { importJWK, SignJWT, type JWK } from 'jose';

import { DEFAULT_CLIENT_ID, DEFAULT_OPERATOR_ISSUER } from './login/defaults';
import { configDir as configDirOf, LoginCache } from './login/login-cache';
import { discover, refreshSignIn } from './login/oidc-client';
import { CliError, ExitCode } from './exit-codes';
import { cliMessage } from './rotor-api';
import { wantsColor, type Output, type OutputFormat } from './output';

export interface GlobalOptions {
  output?: OutputFormat;
  json?: boolean;
  dev?: boolean;
  token?: string;
  /** false with --no-color. */
  color?: boolean;
}

/** Where the services listen, how output is written, and how the CLI authenticates. */
export interface CliContext extends Output {
  urls: { issuer: string; revoker: string; distributor: string; auditor: string };
  /**
   * The bearer token to use: --token or ROTOR_TOKEN, else a development token with --dev, else
   * the `rotor login` sign-in (renewed with its refresh token when it is about to expire).
   */
  token(groups: string[]): Promise<string>;
}

/**
 * The rotor checkout whose local stack `--dev` tokens are for: ROTOR_CHECKOUT, else the nearest
 * directory above the working directory (or above this file, run from the monorepo) that holds
 * the development key. The installed CLI has no checkout of its own.
 */
export function findCheckout(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env['ROTOR_CHECKOUT']) return env['ROTOR_CHECKOUT'];
  for (const start of [process.cwd(), __dirname]) {
    for (let dir = resolve(start); ; dir = dirname(dir)) {
      if (existsSync(join(dir, DEV_KEY))) return dir;
      if (dirname(dir) === dir) break;
    }
  }
  return undefined;
}
const DEV_KEY = join('config', 'dev-signing-key.jwk.json');
/** The local OpenID Provider's signing key (tools/oidc-provider), which dev operator tokens are signed with. */
const DEV_OPERATOR_KEY = join('.rotor', 'oidc', 'signing-key.jwk.json');
/** An ID token this close to its expiry is renewed before use. */
const RENEW_BEFORE_MS = 60_000;

/** The signed-in operator's ID token, renewed when needed; undefined when nobody signed in. */
export async function signedInToken(cache = new LoginCache(), now = Date.now()): Promise<string | undefined> {
  const login = cache.read();
  if (!login) return undefined;
  if (login.expiresAt - RENEW_BEFORE_MS > now) return login.idToken;
  if (!login.refreshToken) throw new CliError('your sign-in has expired: run rotor login', ExitCode.auth);
  try {
    const renewed = await refreshSignIn(await discover(login.issuer), login.clientId, login.refreshToken);
    cache.write({ ...login, ...renewed });
    return renewed.idToken;
  } catch (error) {
    throw new CliError(`your sign-in expired and could not be renewed (${cliMessage(error)}): run rotor login`, ExitCode.auth);
  }
}

export function createContext(flags: GlobalOptions, env: NodeJS.ProcessEnv = process.env): CliContext {
  // A token on the command line is visible to every user of the machine (ps, /proc) and lands in shell history.
  if (flags.token)
    process.stderr.write('rotor: warning: --token exposes the token to other users of this machine; prefer rotor login or ROTOR_TOKEN\n');
  const output: OutputFormat = flags.json ? 'json' : (flags.output ?? 'table');
  return {
    output,
    json: output !== 'table',
    color: wantsColor(process.stdout, flags.color, env),
    urls: {
      // HTTPS like the services; ROTOR_CA_FILE names the CA to trust (rotor-api.ts).
      issuer: env['ROTOR_ISSUER_URL'] ?? 'https://127.0.0.1:8080',
      revoker: env['ROTOR_REVOKER_URL'] ?? 'https://127.0.0.1:8081',
      distributor: env['ROTOR_DISTRIBUTOR_URL'] ?? 'https://127.0.0.1:8082',
      auditor: env['ROTOR_AUDITOR_URL'] ?? 'https://127.0.0.1:8083',
    },
    token: async (groups) => {
      const token = flags.token ?? env['ROTOR_TOKEN'];
      if (token) return token;
      if (flags.dev) return devToken({ subject: `${env['USER'] ?? 'operator'}@localhost`, groups });
      const signedIn = await signedInToken(new LoginCache(configDirOf(env)));
      if (signedIn) return signedIn;
      throw new CliError('not signed in: run rotor login (or set ROTOR_TOKEN; --dev mints a token for a local rotor)', ExitCode.auth);
    },
  };
}

/**
 * A development token for the local stack only. A workload's is signed with the checkout's
 * development key (config/dev-signing-key.jwk.json), which only the local rotor's service-account
 * issuer (config/jwks.json) trusts; an operator's (`groups`) with the local OpenID Provider's key
 * (.rotor/oidc, created by `npm start`), as if that provider had signed the person in.
 */
export async function devToken(
  claims: { subject: string; groups?: string[]; kubernetes?: Record<string, unknown> },
  ttlSeconds = 3600,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  const operator = claims.groups !== undefined;
  const checkout = findCheckout(env);
  if (!checkout) throw new CliError('--dev tokens work only in a rotor checkout (or with ROTOR_CHECKOUT set to one)', ExitCode.usage);
  const file = join(checkout, operator ? DEV_OPERATOR_KEY : DEV_KEY);
  let jwk: JWK;
  try {
    jwk = JSON.parse(readFileSync(file, 'utf8')) as JWK;
  } catch {
    throw new CliError(
      operator
        ? `no local OpenID Provider key at ${file}: dev operator tokens need the local stack (npm start)`
        : `no development signing key at ${file}: dev tokens work only in a rotor checkout`,
      ExitCode.usage,
    );
  }
  const key = await importJWK(jwk, 'ES256');
  const issuer = operator
    ? (env['ROTOR_OPERATOR_ISSUER'] ?? DEFAULT_OPERATOR_ISSUER)
    : (env['ROTOR_TOKEN_ISSUER'] ?? 'https://kubernetes.default.svc.cluster.local');
  const audience = operator ? (env['ROTOR_OPERATOR_AUDIENCE'] ?? DEFAULT_CLIENT_ID) : (env['ROTOR_TOKEN_AUDIENCE'] ?? 'rotor');
  return new SignJWT({
    ...(claims.groups ? { groups: claims.groups } : {}),
    ...(claims.kubernetes ? { 'kubernetes.io': claims.kubernetes } : {}),
  })
    .setProtectedHeader({ alg: 'ES256', kid: String(jwk['kid']) })
    .setIssuer(issuer)
    .setAudience(audience)
    .setSubject(claims.subject)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
    .sign(key);
}
