import type { Command } from 'commander';
import { decodeJwt } from 'jose';

import type { CallerView } from '@rotor/rest-contract';

import type { CliContext } from '../context';
import { DEFAULT_CLIENT_ID, DEFAULT_OPERATOR_ISSUER } from '../login/defaults';
import { LoginCache, type CachedLogin } from '../login/login-cache';
import { browserLogin, deviceLogin, discover, revokeRefreshToken } from '../login/oidc-client';
import { printResult } from '../output';
import { contextOf, examples } from '../program-kit';
import { cliMessage, issuerApi } from '../rotor-api';

const say = (line: string) => process.stderr.write(`${line}\n`);

/** The claims people recognise in their sign-in; nothing secret. */
const identityOf = (login: CachedLogin) => {
  const claims = decodeJwt(login.idToken);
  return {
    issuer: login.issuer,
    subject: claims.sub,
    ...(typeof claims['email'] === 'string' ? { email: claims['email'] } : {}),
    ...(Array.isArray(claims['groups']) ? { idpGroups: claims['groups'] as string[] } : {}),
    expiresAt: new Date(login.expiresAt).toISOString(),
    renewable: Boolean(login.refreshToken),
  };
};

/** Who rotor takes the token to be (the issuer's `GET /v1/whoami`), or why it could not say. */
async function asRotorSeesIt(context: CliContext, token: string): Promise<{ rotor?: CallerView; rotorUnreachable?: string }> {
  try {
    return { rotor: await issuerApi(context, token).whoami() };
  } catch (error) {
    return { rotorUnreachable: cliMessage(error) };
  }
}

/**
 * `rotor login [--browser] [--issuer URL] [--client-id ID]`: signs in at the organisation's
 * OpenID Provider with the device authorization grant (any device, SSH sessions included) or,
 * with --browser, the authorization code flow with PKCE on a loopback redirect.
 */
export async function loginCommand(
  context: CliContext,
  flags: { issuer?: string; clientId?: string; browser?: boolean },
  cache = new LoginCache(),
): Promise<void> {
  const issuer = flags.issuer ?? process.env['ROTOR_OPERATOR_ISSUER'] ?? DEFAULT_OPERATOR_ISSUER;
  const clientId = flags.clientId ?? process.env['ROTOR_OPERATOR_CLIENT_ID'] ?? DEFAULT_CLIENT_ID;
  const endpoints = await discover(issuer);
  const signIn = flags.browser
    ? await browserLogin(endpoints, clientId, (url) => say(`Open this page to sign in to rotor:\n\n  ${url}\n`))
    : await deviceLogin(endpoints, clientId, (device) =>
        say(
          `To sign in to rotor, open ${device.verificationUriComplete ?? device.verificationUri}` +
            `${device.verificationUriComplete ? '' : ` and enter the code ${device.userCode}`}` +
            ` (code ${device.userCode}, valid ${Math.round(device.expiresInSeconds / 60)} min). Waiting…`,
        ),
      );
  const login: CachedLogin = { issuer, clientId, ...signIn };
  cache.write(login);
  const seen = await asRotorSeesIt(context, login.idToken);
  const summary = { ...identityOf(login), ...seen };
  if (context.json) return printResult(context, summary);
  say(
    `Signed in to ${issuer} as ${summary.subject}${summary.email ? ` (${summary.email})` : ''}; until ${summary.expiresAt}, then renewed.`,
  );
  say(
    seen.rotor?.kind === 'operator'
      ? `rotor groups: ${seen.rotor.groups.join(', ') || '(none: ask for one of your IdP groups to be mapped to a rotor group)'}`
      : `rotor could not be asked which rotor groups this sign-in has: ${seen.rotorUnreachable ?? 'not an operator'}`,
  );
}

/** `rotor whoami`: the sign-in in use and what rotor makes of it. */
export async function whoamiCommand(context: CliContext, cache = new LoginCache()): Promise<void> {
  const token = await context.token([]);
  const login = cache.read();
  const summary = {
    ...(login && login.idToken === token ? identityOf(login) : { source: 'ROTOR_TOKEN, --token or --dev' }),
    ...(await asRotorSeesIt(context, token)),
  };
  printResult(context, summary);
}

/** `rotor logout`: the refresh token revoked at the provider (when it offers revocation), the cache removed. */
export async function logoutCommand(context: CliContext, cache = new LoginCache()): Promise<void> {
  const login = cache.read();
  let revoked = false;
  if (login?.refreshToken) {
    try {
      revoked = await revokeRefreshToken(await discover(login.issuer), login.clientId, login.refreshToken);
    } catch (error) {
      say(`could not revoke the refresh token at ${login.issuer}: ${cliMessage(error)}; the local copy is removed anyway`);
    }
  }
  cache.remove();
  if (context.json) return printResult(context, { signedOut: Boolean(login), refreshTokenRevoked: revoked });
  say(login ? `Signed out of ${login.issuer}${revoked ? '; the refresh token is revoked' : ''}.` : 'Not signed in.');
}

export function registerLoginCommands(program: Command): void {
  program
    .command('login')
    .description(
      'sign in at your OpenID Provider: a code to enter on any device (RFC 8628), or --browser for a sign-in page on this machine; ' +
        'the sign-in is kept in ~/.config/rotor/login.json (0600) and renewed as needed',
    )
    .option('--browser', 'the authorization code flow with PKCE on a loopback redirect, instead of a device code')
    .option('--issuer <url>', "the OpenID Provider (ROTOR_OPERATOR_ISSUER; the local stack's by default)")
    .option('--client-id <id>', "the CLI's client id at the provider (ROTOR_OPERATOR_CLIENT_ID, else rotor-cli)")
    .addHelpText(
      'after',
      examples('rotor login', 'rotor login --browser', 'rotor login --issuer https://login.example.com --client-id rotor-cli'),
    )
    .action((options: { issuer?: string; clientId?: string; browser?: boolean }, command: Command) =>
      loginCommand(contextOf(command), options),
    );
  program
    .command('whoami')
    .description('the sign-in in use, and the rotor groups rotor grants it')
    .addHelpText('after', examples('rotor whoami', 'rotor whoami --output json'))
    .action((_options: unknown, command: Command) => whoamiCommand(contextOf(command)));
  program
    .command('logout')
    .description('revokes the refresh token at the provider and forgets the sign-in')
    .action((_options: unknown, command: Command) => logoutCommand(contextOf(command)));
}
