import { readFileSync } from 'node:fs';
import { request as httpRequest, type ClientRequest, type IncomingHttpHeaders, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { TLSSocket, type ConnectionOptions } from 'node:tls';
import type { z } from 'zod';

import { backoffDelay, sleep, TRANSIENT_NETWORK_CODES, type BackoffPolicy } from '@rotor/backoff';
import { ProblemDetailsSchema } from '@rotor/rest-contract';

import { isTransient, RotorAnswerError, RotorProblemError, RotorUnavailableError } from './client-errors';

/** The bearer token of each attempt: read again every time, since the kubelet rotates a projected token. */
export type TokenSource = () => string | Promise<string>;

/** What this client presents and trusts over HTTPS. */
export type TlsOptions = Pick<ConnectionOptions, 'ca' | 'cert' | 'key'>;

export interface TransportOptions {
  /** The service's origin, `https://rotor-issuer.rotor.svc:8080`. */
  url: string;
  /** None: calls go without an Authorization header (public routes). */
  token?: TokenSource;
  /** PEM file of the CA that signed the service's certificate (instead of the system's), read once. */
  caFile?: string;
  /**
   * The CA and client certificate, asked for at every HTTPS attempt (and never for http://),
   * so a caller that reads them from files reports a missing file only when it matters.
   */
  tls?: () => TlsOptions;
  /** Idle time allowed per attempt (connecting, waiting, reading). */
  timeoutMs?: number;
  /** Attempts in total for a call that is safe to repeat; other calls are tried once. */
  attempts?: number;
  backoff?: Pick<BackoffPolicy, 'initialMs' | 'maxMs'>;
  /** Upper bound on a Retry-After the client honours, so a typo cannot stall the caller. */
  maxRetryAfterMs?: number;
  /** A `traceparent` to send with every call. */
  traceparent?: () => string | undefined;
  /** For tests: the wait between attempts. */
  sleep?: (ms: number) => Promise<void>;
}

/** One call of a service's REST API: its route, and whether a repeat is harmless. */
export interface RestCall {
  method: 'GET' | 'POST' | 'DELETE';
  /** The path, `/v1/leases/…`, or an absolute URL (an OpenID Provider's endpoint). */
  path: string;
  /** Query parameters; undefined ones are left out. */
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  headers?: Record<string, string>;
  /** Safe to send twice: the answer to a repeat is the answer to the first (GET, or a POST with an Idempotency-Key). */
  idempotent: boolean;
  /** The route as errors name it, `GET /v1/leases/{id}`: never the ids or values in it. */
  what: string;
}

/** An HTTP answer, as received. */
export interface HttpAnswer {
  status: number;
  text: string;
  headers: IncomingHttpHeaders;
}

/** Network failures after which the same request may well succeed, and this client's own timeout. */
export const TIMEOUT_CODE = 'ERR_ROTOR_TIMEOUT';
const TRANSIENT_CODES = new Set([...TRANSIENT_NETWORK_CODES, TIMEOUT_CODE]);

/**
 * How rotor's clients talk to a service: node:https (it takes a CA and a client certificate,
 * unlike the global fetch), a timeout per attempt, and, for calls that are safe to repeat,
 * retries with backoff on refused connections, timeouts and 429/502/503/504, honouring
 * Retry-After. Problems are thrown as RotorProblemError, no answer as RotorUnavailableError.
 */
export class HttpTransport {
  readonly origin: URL;
  private readonly ca?: Buffer;
  private readonly timeoutMs: number;
  private readonly attempts: number;
  private readonly backoff: BackoffPolicy;
  private readonly maxRetryAfterMs: number;
  private readonly wait: (ms: number) => Promise<void>;

  constructor(private readonly options: TransportOptions) {
    this.origin = new URL(options.url);
    if (this.origin.protocol !== 'https:' && this.origin.protocol !== 'http:')
      throw new Error(`service URL must be https:// (got ${this.origin.protocol})`);
    this.ca = options.caFile ? readFileSync(options.caFile) : undefined;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.attempts = Math.max(1, options.attempts ?? 3);
    this.backoff = { initialMs: 250, maxMs: 4_000, ...options.backoff, maxAttempts: Infinity };
    this.maxRetryAfterMs = options.maxRetryAfterMs ?? 10_000;
    this.wait = options.sleep ?? ((ms) => sleep(ms));
  }

  /**
   * A JSON call, its answer checked against `schema` and handed over as sent: the schema has no
   * transforms (its input is its output), so a newer service's extra fields and its key order
   * survive for callers that print the answer.
   */
  json<T>(call: RestCall & { schema: z.ZodType<T, T> }): Promise<T> {
    return this.withRetries(call, 'application/json', (answer) => {
      const body = parseJson(answer.text);
      const parsed = call.schema.safeParse(body);
      if (parsed.success) return body as T;
      // Paths and kinds only: the values may be a credential.
      const issues = parsed.error.issues.slice(0, 3).map((issue) => `${issue.path.join('.') || '(body)'}: ${issue.code}`);
      throw new RotorAnswerError(`${call.what} answered ${answer.status} in an unexpected shape (${issues.join('; ')})`);
    });
  }

  /** A call whose 2xx answer is a document (an HTML page), not JSON. */
  text(call: RestCall & { accept: string }): Promise<string> {
    return this.withRetries(call, call.accept, (answer) => answer.text);
  }

  /**
   * One exchange as given, whatever the status: no token, no retry, no problem parsing (an
   * OAuth token endpoint answers in its own shape). Failures before an answer are still
   * RotorUnavailableError, after the timeout and with the TLS options of every call.
   */
  send(method: string, path: string, headers: Record<string, string>, payload?: string): Promise<HttpAnswer> {
    return this.exchange(method, new URL(path, this.origin), headers, payload);
  }

  private async withRetries<T>(call: RestCall, accept: string, read: (answer: HttpAnswer) => T): Promise<T> {
    const attempts = call.idempotent ? this.attempts : 1;
    for (let attempt = 1; ; attempt++) {
      let waitMs: number;
      try {
        return read(await this.attempt(call, accept));
      } catch (error) {
        if (!isTransient(error) || attempt >= attempts) throw error;
        const asked = error instanceof RotorProblemError ? error.retryAfterMs : undefined;
        waitMs = asked ?? backoffDelay(attempt, this.backoff);
      }
      await this.wait(waitMs);
    }
  }

  /** One attempt: a 2xx answer, or a thrown problem. */
  private async attempt({ method, path, query, body, headers = {}, what }: RestCall, accept: string): Promise<HttpAnswer> {
    const token = this.options.token ? (await this.options.token()).trim() : undefined;
    const traceparent = this.options.traceparent?.();
    const payload = body !== undefined ? JSON.stringify(body) : undefined;
    const target = new URL(path, this.origin);
    for (const [name, value] of Object.entries(query ?? {})) if (value !== undefined) target.searchParams.set(name, String(value));
    const answer = await this.exchange(method, target, {
      accept,
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) } : {}),
      ...(traceparent ? { traceparent } : {}),
      ...headers,
    }, payload); // prettier-ignore
    if (answer.status >= 200 && answer.status <= 299) return answer;
    const problem = ProblemDetailsSchema.partial().loose().safeParse(parseJson(answer.text));
    throw new RotorProblemError(
      answer.status,
      // A body that is not a problem (a proxy's page) is not echoed: it could hold anything.
      problem.success ? problem.data : { title: `non-problem answer to ${what}` },
      this.retryAfterMs(answer.headers['retry-after']),
    );
  }

  private exchange(method: string, target: URL, headers: Record<string, string>, payload: string | undefined): Promise<HttpAnswer> {
    const secure = target.protocol === 'https:';
    return new Promise((resolve, reject) => {
      // A throw here (a TLS file that cannot be read) rejects as it is.
      const tls = secure ? { ...(this.ca ? { ca: this.ca } : {}), ...this.options.tls?.() } : {};
      const options: RequestOptions = { method, headers, ...tls };
      let peerNotAfter: string | undefined;
      const unavailable = (error: NodeJS.ErrnoException) => {
        const code = error.code ?? '';
        return new RotorUnavailableError(
          `cannot reach ${target.origin}: ${code ? `${code} ` : ''}${error.message}`,
          TRANSIENT_CODES.has(code),
          code || undefined,
          target.origin,
          error,
          peerNotAfter,
        );
      };
      const onResponse: Parameters<typeof httpRequest>[2] = (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', (error: NodeJS.ErrnoException) => reject(unavailable(error)));
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
      outgoing.setTimeout(this.timeoutMs, () =>
        outgoing.destroy(Object.assign(new Error(`no answer within ${this.timeoutMs / 1000} s`), { code: TIMEOUT_CODE })),
      );
      outgoing.on('error', (error: NodeJS.ErrnoException) => reject(unavailable(error)));
      outgoing.end(payload);
    });
  }

  /** Delta-seconds only (as rotor sends it), capped. */
  private retryAfterMs(header: string | string[] | undefined): number | undefined {
    const seconds = Number(Array.isArray(header) ? header[0] : header);
    return header !== undefined && Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds * 1000, this.maxRetryAfterMs) : undefined;
  }
}

const parseJson = (text: string): unknown => {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
};
