import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { importJWK, SignJWT, type JWK } from 'jose';

/** Where the services listen, and how the CLI authenticates. */
/** Parsed command-line flags: strings, booleans, and lists for repeatable flags. */
export type CliFlags = Record<string, string | boolean | string[] | undefined>;

/** The words after a command group: `rotor <group> <action> <id>`. */
export interface CommandWords {
  action: string | undefined;
  id: string | undefined;
}

export interface CliContext {
  json: boolean;
  urls: { issuer: string; revoker: string; distributor: string; auditor: string };
  /** The bearer token to use; operator commands mint a dev token with --dev. */
  token(groups: string[]): Promise<string>;
}

const DEV_KEY = join(__dirname, '..', '..', '..', 'config', 'dev-signing-key.jwk.json');

export function createContext(flags: { json?: boolean; token?: string; dev?: boolean }, env: NodeJS.ProcessEnv = process.env): CliContext {
  return {
    json: flags.json ?? false,
    urls: {
      // HTTPS like the services; ROTOR_CA_FILE names the CA to trust (http-client.ts).
      issuer: env['ROTOR_ISSUER_URL'] ?? 'https://127.0.0.1:8080',
      revoker: env['ROTOR_REVOKER_URL'] ?? 'https://127.0.0.1:8081',
      distributor: env['ROTOR_DISTRIBUTOR_URL'] ?? 'https://127.0.0.1:8082',
      auditor: env['ROTOR_AUDITOR_URL'] ?? 'https://127.0.0.1:8083',
    },
    token: async (groups) => {
      const token = flags.token ?? env['ROTOR_TOKEN'];
      if (token) return token;
      if (flags.dev) return devToken({ subject: `${env['USER'] ?? 'operator'}@localhost`, groups });
      throw new Error('no token: pass --token, set ROTOR_TOKEN, or use --dev against a local rotor');
    },
  };
}

/**
 * Signs a token with the checkout's development key (config/dev-signing-key.jwk.json), which
 * only the local rotor (config/jwks.json) trusts.
 */
export async function devToken(
  claims: { subject: string; groups?: string[]; kubernetes?: Record<string, unknown> },
  ttlSeconds = 3600,
): Promise<string> {
  let jwk: JWK;
  try {
    jwk = JSON.parse(readFileSync(DEV_KEY, 'utf8')) as JWK;
  } catch {
    throw new Error(`no development signing key at ${DEV_KEY}: dev tokens work only in a rotor checkout`);
  }
  const key = await importJWK(jwk, 'ES256');
  return new SignJWT({
    ...(claims.groups ? { groups: claims.groups } : {}),
    ...(claims.kubernetes ? { 'kubernetes.io': claims.kubernetes } : {}),
  })
    .setProtectedHeader({ alg: 'ES256', kid: String(jwk['kid']) })
    .setIssuer(process.env['ROTOR_TOKEN_ISSUER'] ?? 'https://kubernetes.default.svc.cluster.local')
    .setAudience(process.env['ROTOR_TOKEN_AUDIENCE'] ?? 'rotor')
    .setSubject(claims.subject)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
    .sign(key);
}
