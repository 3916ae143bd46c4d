import { request as httpRequest, type ClientRequest, type RequestOptions as NodeRequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { TLSSocket } from 'node:tls';

import { backoffDelay, RETRY_LATER_STATUSES, sleep, TRANSIENT_NETWORK_CODES, type BackoffPolicy } from '@rotor/backoff';

import { clientTlsOptions, describeConnectionFailure } from './client-tls';
import { ApiError, UnavailableError } from './exit-codes';

export { ApiError } from './exit-codes';

/** How long one exchange may take, and how often an idempotent one is tried: `--timeout`, `--retries`. */
export interface RequestPolicy {
  timeoutMs: number;
  attempts: number;
}

const policy: RequestPolicy = { timeoutMs: 30_000, attempts: 3 };

/** Set once from the global flags, before any command runs. */
export function configureRequests(next: Partial<RequestPolicy>): void {
  Object.assign(policy, next);
}

export interface RequestOptions {
  method?: string;
  token?: string;
  body?: unknown;
  headers?: Record<string, string>;
  /**
   * Whether sending it twice does no more than sending it once: GET, DELETE and PUT are;
   * a POST is only when it carries its own request id (Idempotency-Key) or changes nothing.
   */
  idempotent?: boolean;
}

export interface HttpExchange {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  timeoutMs?: number;
}

/** Network failures after which the same request may well succeed, and the CLI's own timeout. */
const TRANSIENT_CODES = new Set([...TRANSIENT_NETWORK_CODES, 'CLI_TIMEOUT']);
const RETRY_BACKOFF: BackoffPolicy = { initialMs: 500, maxMs: 4_000, maxAttempts: Infinity };

/**
 * One HTTP(S) exchange through node:https, which, unlike the global fetch, takes a CA
 * (ROTOR_CA_FILE) and a client certificate. Failures before an answer name the URL and the fix.
 */
export function send(
  url: string,
  { method = 'GET', headers = {}, body, timeoutMs = policy.timeoutMs }: HttpExchange = {},
  env: NodeJS.ProcessEnv = process.env,
) {
  const target = new URL(url);
  const secure = target.protocol === 'https:';
  return new Promise<{ status: number; text: string; headers: Record<string, string | string[] | undefined> }>((resolve, reject) => {
    const options: NodeRequestOptions = { method, headers, ...(secure ? clientTlsOptions(env) : {}) }; // a throw here rejects
    let peerNotAfter: string | undefined;
    const onResponse: Parameters<typeof httpRequest>[2] = (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), headers: response.headers }),
      );
    };
    const outgoing: ClientRequest = secure ? httpsRequest(target, options, onResponse) : httpRequest(target, options, onResponse);
    outgoing.on('socket', (socket) => {
      // Ahead of Node's own check, which destroys the socket: an expired certificate's date is read here.
      if (socket instanceof TLSSocket) socket.prependOnceListener('secure', () => (peerNotAfter = socket.getPeerCertificate()?.valid_to));
    });
    // Idle time, whatever the phase (connecting, waiting for the answer, reading it).
    outgoing.setTimeout(timeoutMs, () =>
      outgoing.destroy(Object.assign(new Error(`no answer within ${timeoutMs / 1000} s (--timeout)`), { code: 'CLI_TIMEOUT' })),
    );
    outgoing.on('error', (error: NodeJS.ErrnoException) =>
      reject(new UnavailableError(describeConnectionFailure(target.origin, error, peerNotAfter), TRANSIENT_CODES.has(error.code ?? ''))),
    );
    outgoing.end(body);
  });
}

/** Seconds from a Retry-After header (delta-seconds only, as rotor sends it), capped so a typo cannot stall the CLI. */
const retryAfterMs = (header: string | string[] | undefined): number | undefined => {
  const seconds = Number(Array.isArray(header) ? header[0] : header);
  return Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds, 10) * 1000 : undefined;
};

/**
 * A JSON exchange with a rotor service. An idempotent one is tried up to `--retries` times
 * with backoff when the connection fails or the service says "later" (429, 502-504, honouring
 * Retry-After); anything else is answered at once.
 */
export async function request<T>(url: string, { method = 'GET', token, body, headers = {}, idempotent }: RequestOptions = {}): Promise<T> {
  const retryable = idempotent ?? ['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS'].includes(method);
  const attempts = retryable ? Math.max(1, policy.attempts) : 1;
  for (let attempt = 1; ; attempt++) {
    let waitMs: number;
    try {
      const response = await send(url, {
        method,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...headers,
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const parsed = parseJson(response.text);
      if (response.status >= 200 && response.status <= 299) return parsed as T;
      const error = new ApiError(response.status, parsed ?? {});
      if (attempt >= attempts || !RETRY_LATER_STATUSES.has(response.status)) throw error;
      waitMs = retryAfterMs(response.headers['retry-after']) ?? backoffDelay(attempt, RETRY_BACKOFF);
    } catch (error) {
      if (!(error instanceof UnavailableError) || !error.transient || attempt >= attempts) throw error;
      waitMs = backoffDelay(attempt, RETRY_BACKOFF);
    }
    await sleep(waitMs);
  }
}

/** A body that is not JSON (a proxy's error page) is kept as the problem's detail, not thrown as a parse error. */
function parseJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return { detail: text.slice(0, 200) };
  }
}
