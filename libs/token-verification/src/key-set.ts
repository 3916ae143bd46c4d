import { readFile } from 'node:fs/promises';

import { createLocalJWKSet, errors as joseErrors, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';

/** How a key set is fetched and kept fresh. */
export interface KeyRefreshSettings {
  /** Each fetch (discovery document, key set) gives up after this long. */
  timeoutMs: number;
  /** At most one refresh this often, however many tokens name an unknown key id. */
  cooldownMs: number;
  /** Keys older than this are fetched again on the next verification (rotated keys arrive, removed ones go). */
  maxAgeMs: number;
}

export const DEFAULT_KEY_REFRESH: KeyRefreshSettings = { timeoutMs: 5_000, cooldownMs: 30_000, maxAgeMs: 600_000 };

export interface KeySource {
  /** A JWKS file path, a JWKS URL, or an OIDC issuer's discovery URL (`…/.well-known/openid-configuration`). */
  jwks: string;
  /** The token issuer, which a discovery document must name as its own. */
  issuer: string;
  /** ROTOR_INSECURE_LOCAL: plain http is then allowed to a loopback address, and nowhere else. */
  insecureLocal?: boolean;
  keyRefresh?: Partial<KeyRefreshSettings>;
}

const DISCOVERY_SUFFIX = '/.well-known/openid-configuration';
const LOOPBACK_HOSTS = new Set(['localhost', '[::1]']);

const isLoopback = (url: URL) => LOOPBACK_HOSTS.has(url.hostname) || /^127(\.\d{1,3}){3}$/.test(url.hostname);

/** Keys are fetched over TLS only: a key set read in the clear is one anyone on the path could replace. */
export function remoteUrl(text: string, { what, insecureLocal }: { what: string; insecureLocal?: boolean }): URL {
  const url = new URL(text);
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && insecureLocal && isLoopback(url)) return url;
  throw new Error(
    `${what} must be an https URL (plain http is allowed only to a loopback address with ROTOR_INSECURE_LOCAL=1): ${url.origin}`,
  );
}

async function fetchJson(url: URL, timeoutMs: number): Promise<unknown> {
  // No redirects: one could lead from https to a plain-http or foreign key set.
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error', headers: { accept: 'application/json' } });
  if (!response.ok) throw new Error(`${url.origin}${url.pathname} answered ${response.status}`);
  return response.json();
}

const asKeySet = (value: unknown, from: string): JSONWebKeySet => {
  if (!value || typeof value !== 'object' || !Array.isArray((value as { keys?: unknown }).keys))
    throw new Error(`${from} is not a JSON Web Key Set (no "keys" array)`);
  return value as JSONWebKeySet;
};

/** Where the keys come from: a file re-read on refresh, or a URL (found through discovery or given). */
async function keySetLoader(source: KeySource, timeoutMs: number): Promise<() => Promise<JSONWebKeySet>> {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(source.jwks)) {
    return async () => asKeySet(JSON.parse(await readFile(source.jwks, 'utf8')), source.jwks);
  }
  let jwksUrl = remoteUrl(source.jwks, { what: 'ROTOR_JWKS', insecureLocal: source.insecureLocal });
  if (jwksUrl.pathname.endsWith(DISCOVERY_SUFFIX)) {
    const discovery = (await fetchJson(jwksUrl, timeoutMs).catch((error: Error) => {
      throw new Error(`OIDC discovery at ${jwksUrl.origin}${jwksUrl.pathname} failed: ${error.message}`);
    })) as { issuer?: unknown; jwks_uri?: unknown };
    // OpenID Connect Discovery 1.0 §4.3: the document speaks for the issuer it names, and only that one.
    if (discovery.issuer !== source.issuer)
      throw new Error(`OIDC discovery at ${jwksUrl.origin} names issuer ${String(discovery.issuer)}, not ${source.issuer}`);
    if (typeof discovery.jwks_uri !== 'string') throw new Error(`OIDC discovery at ${jwksUrl.origin} has no jwks_uri`);
    jwksUrl = remoteUrl(discovery.jwks_uri, { what: 'jwks_uri in the discovery document', insecureLocal: source.insecureLocal });
  }
  const url = jwksUrl;
  return async () => asKeySet(await fetchJson(url, timeoutMs), `${url.origin}${url.pathname}`);
}

/**
 * A key set that follows key rotation: fetched again when a token names a key id it does not
 * hold (at most once per cooldown, so unknown ids cannot make it hammer the source) and when
 * its keys are older than the maximum age. A failed refresh keeps the keys it has.
 */
export class RefreshingKeySet {
  private keys: JWTVerifyGetKey;
  private loadedAt: number;
  private attemptedAt: number;
  private refreshing?: Promise<void>;

  private constructor(
    private readonly load: () => Promise<JSONWebKeySet>,
    private readonly pacing: KeyRefreshSettings,
    private readonly clock: () => number,
    initial: JSONWebKeySet,
  ) {
    this.keys = createLocalJWKSet(initial);
    this.loadedAt = this.attemptedAt = clock();
  }

  /** Fetches the keys once; failing here stops the service at boot. */
  static async create(source: KeySource, clock: () => number = Date.now): Promise<RefreshingKeySet> {
    const pacing = { ...DEFAULT_KEY_REFRESH, ...source.keyRefresh };
    const load = await keySetLoader(source, pacing.timeoutMs);
    return new RefreshingKeySet(load, pacing, clock, await load());
  }

  readonly getKey: JWTVerifyGetKey = async (header, token) => {
    if (this.clock() - this.loadedAt >= this.pacing.maxAgeMs && this.mayRefresh()) await this.refresh().catch(() => undefined);
    try {
      return await this.keys(header, token);
    } catch (error) {
      if (!(error instanceof joseErrors.JWKSNoMatchingKey) || !this.mayRefresh()) throw error;
      await this.refresh().catch(() => undefined);
      return this.keys(header, token);
    }
  };

  private mayRefresh(): boolean {
    return this.refreshing !== undefined || this.clock() - this.attemptedAt >= this.pacing.cooldownMs;
  }

  /** One refresh at a time; concurrent callers wait for the same one. */
  private refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      this.attemptedAt = this.clock();
      try {
        this.keys = createLocalJWKSet(await this.load());
        this.loadedAt = this.clock();
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }
}
