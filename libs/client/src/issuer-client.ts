import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { z } from 'zod';

import { backoffDelay, sleep, TRANSIENT_NETWORK_CODES, type BackoffPolicy } from '@rotor/backoff';
import {
  CallerViewSchema,
  IssuedCredentialSchema,
  LeaseRevocationSchema,
  LeaseViewSchema,
  ProblemDetailsSchema,
  SecretValueSchema,
  type CallerView,
  type IssuedCredential,
  type LeaseRevocation,
  type LeaseView,
  type ProblemDetails,
  type SecretValue,
} from '@rotor/rest-contract';

import { isTransient, RotorAnswerError, RotorProblemError, RotorUnavailableError } from './client-errors';

/** The bearer token of each attempt: read again every time, since the kubelet rotates a projected token. */
export type TokenSource = () => string | Promise<string>;

export interface IssuerClientOptions {
  /** The issuer's origin, `https://rotor-issuer.rotor.svc:8080`. */
  url: string;
  token: TokenSource;
  /** PEM file of the CA that signed the issuer's certificate (instead of the system's). */
  caFile?: string;
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

export interface IssueOptions {
  role: string;
  /** Seconds or a duration (`15m`); the role's TTL by default. */
  ttl?: number | string;
  /** What the lease is for (a pod, a job): shown on the lease and in the audit trail. */
  task?: string;
  /** Makes a retried issuance return the first lease instead of minting a second one; issuance is retried only with one. */
  idempotencyKey?: string;
}

/** Network failures after which the same request may well succeed, and this client's own timeout. */
const TRANSIENT_CODES = new Set([...TRANSIENT_NETWORK_CODES, 'ERR_ROTOR_TIMEOUT']);

interface Call<T> {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** Safe to send twice: the answer to a repeat is the answer to the first. */
  idempotent: boolean;
  schema: z.ZodType<T>;
  what: string;
}

/**
 * The issuer's workload API, typed: one place that knows its routes, bodies and problems.
 * Built on node:https (it takes a CA file, unlike the global fetch); calls that are safe to
 * repeat are retried with backoff on refused connections, timeouts and 429/502/503/504,
 * honouring Retry-After.
 */
export class IssuerClient {
  private readonly origin: URL;
  private readonly ca?: Buffer;
  private readonly timeoutMs: number;
  private readonly attempts: number;
  private readonly backoff: BackoffPolicy;
  private readonly maxRetryAfterMs: number;
  private readonly wait: (ms: number) => Promise<void>;

  constructor(private readonly options: IssuerClientOptions) {
    this.origin = new URL(options.url);
    if (this.origin.protocol !== 'https:' && this.origin.protocol !== 'http:')
      throw new Error(`issuer URL must be https:// (got ${this.origin.protocol})`);
    this.ca = options.caFile ? readFileSync(options.caFile) : undefined;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.attempts = Math.max(1, options.attempts ?? 3);
    this.backoff = { initialMs: 250, maxMs: 4_000, ...options.backoff, maxAttempts: Infinity };
    this.maxRetryAfterMs = options.maxRetryAfterMs ?? 10_000;
    this.wait = options.sleep ?? ((ms) => sleep(ms));
  }

  /** `POST /v1/credentials`: a new lease and its credential (shown once). */
  issue({ role, ttl, task, idempotencyKey }: IssueOptions): Promise<IssuedCredential> {
    return this.call({
      method: 'POST',
      path: '/v1/credentials',
      body: { role, ...(ttl !== undefined ? { ttl } : {}), ...(task ? { task } : {}) },
      headers: idempotencyKey ? { 'idempotency-key': idempotencyKey } : {},
      idempotent: idempotencyKey !== undefined,
      schema: IssuedCredentialSchema,
      what: 'POST /v1/credentials',
    });
  }

  /**
   * `POST /v1/leases/{id}/renew`. Repeating it moves the expiry to the same point (now + TTL,
   * capped at the lease's maximum), so it is retried like a read.
   */
  renew(leaseId: string, ttl?: number | string): Promise<LeaseView> {
    return this.call({
      method: 'POST',
      path: `/v1/leases/${encodeURIComponent(leaseId)}/renew`,
      body: ttl !== undefined ? { ttl } : {},
      idempotent: true,
      schema: LeaseViewSchema,
      what: 'POST /v1/leases/{id}/renew',
    });
  }

  /** `DELETE /v1/leases/{id}`: done, or requested from the revoker. */
  revoke(leaseId: string): Promise<LeaseRevocation> {
    return this.call({
      method: 'DELETE',
      path: `/v1/leases/${encodeURIComponent(leaseId)}`,
      idempotent: true,
      schema: LeaseRevocationSchema,
      what: 'DELETE /v1/leases/{id}',
    });
  }

  /** `GET /v1/leases/{id}`. */
  lease(leaseId: string): Promise<LeaseView> {
    return this.call({
      method: 'GET',
      path: `/v1/leases/${encodeURIComponent(leaseId)}`,
      idempotent: true,
      schema: LeaseViewSchema,
      what: 'GET /v1/leases/{id}',
    });
  }

  /** `GET /v1/secrets/{name}`: the current version of a managed secret and its value. */
  readSecret(name: string): Promise<SecretValue> {
    return this.call({
      method: 'GET',
      path: `/v1/secrets/${encodeURIComponent(name)}`,
      idempotent: true,
      schema: SecretValueSchema,
      what: 'GET /v1/secrets/{name}',
    });
  }

  /** `GET /v1/whoami`: who the issuer takes the token's bearer to be. */
  whoami(): Promise<CallerView> {
    return this.call({ method: 'GET', path: '/v1/whoami', idempotent: true, schema: CallerViewSchema, what: 'GET /v1/whoami' });
  }

  private async call<T>(call: Call<T>): Promise<T> {
    const attempts = call.idempotent ? this.attempts : 1;
    for (let attempt = 1; ; attempt++) {
      let waitMs: number;
      try {
        return await this.attempt(call);
      } catch (error) {
        if (!isTransient(error) || attempt >= attempts) throw error;
        const asked = error instanceof RotorProblemError ? error.retryAfterMs : undefined;
        waitMs = asked ?? backoffDelay(attempt, this.backoff);
      }
      await this.wait(waitMs);
    }
  }

  private async attempt<T>({ method, path, body, headers = {}, schema, what }: Call<T>): Promise<T> {
    const token = (await this.options.token()).trim();
    const traceparent = this.options.traceparent?.();
    const payload = body !== undefined ? JSON.stringify(body) : undefined;
    const answer = await this.exchange(method, path, {
      accept: 'application/json',
      authorization: `Bearer ${token}`,
      ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) } : {}),
      ...(traceparent ? { traceparent } : {}),
      ...headers,
    }, payload); // prettier-ignore
    if (answer.status >= 200 && answer.status <= 299) {
      const parsed = schema.safeParse(parseJson(answer.text));
      if (parsed.success) return parsed.data;
      // Paths and kinds only: the values may be a credential.
      const issues = parsed.error.issues.slice(0, 3).map((issue) => `${issue.path.join('.') || '(body)'}: ${issue.code}`);
      throw new RotorAnswerError(`${what} answered ${answer.status} in an unexpected shape (${issues.join('; ')})`);
    }
    const problem = ProblemDetailsSchema.partial().safeParse(parseJson(answer.text));
    throw new RotorProblemError(
      answer.status,
      // A body that is not a problem (a proxy's page) is not echoed: it could hold anything.
      problem.success ? pickProblem(problem.data) : { title: `non-problem answer to ${what}` },
      this.retryAfterMs(answer.headers['retry-after']),
    );
  }

  private exchange(
    method: string,
    path: string,
    headers: Record<string, string>,
    payload: string | undefined,
  ): Promise<{ status: number; text: string; headers: IncomingHttpHeaders }> {
    const target = new URL(path, this.origin);
    const secure = target.protocol === 'https:';
    return new Promise((resolve, reject) => {
      const options: RequestOptions = { method, headers, ...(secure && this.ca ? { ca: this.ca } : {}) };
      const onResponse: Parameters<typeof httpRequest>[2] = (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', (error: NodeJS.ErrnoException) => reject(this.unavailable(error)));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), headers: response.headers }),
        );
      };
      const outgoing = secure ? httpsRequest(target, options, onResponse) : httpRequest(target, options, onResponse);
      // Idle time, whatever the phase (connecting, waiting for the answer, reading it).
      outgoing.setTimeout(this.timeoutMs, () =>
        outgoing.destroy(Object.assign(new Error(`no answer within ${this.timeoutMs} ms`), { code: 'ERR_ROTOR_TIMEOUT' })),
      );
      outgoing.on('error', (error: NodeJS.ErrnoException) => reject(this.unavailable(error)));
      outgoing.end(payload);
    });
  }

  private unavailable(error: NodeJS.ErrnoException): RotorUnavailableError {
    const code = error.code ?? '';
    return new RotorUnavailableError(
      `cannot reach ${this.origin.origin}: ${code ? `${code} ` : ''}${error.message}`,
      TRANSIENT_CODES.has(code),
      code || undefined,
    );
  }

  /** Delta-seconds only (as rotor sends it), capped. */
  private retryAfterMs(header: string | string[] | undefined): number | undefined {
    const seconds = Number(Array.isArray(header) ? header[0] : header);
    return header !== undefined && Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds * 1000, this.maxRetryAfterMs) : undefined;
  }
}

const pickProblem = ({ type, title, status, detail, code, field, errorId }: Partial<ProblemDetails>): Partial<ProblemDetails> => ({
  ...(type !== undefined ? { type } : {}),
  ...(title !== undefined ? { title } : {}),
  ...(status !== undefined ? { status } : {}),
  ...(detail !== undefined ? { detail } : {}),
  ...(code !== undefined ? { code } : {}),
  ...(field !== undefined ? { field } : {}),
  ...(errorId !== undefined ? { errorId } : {}),
});

const parseJson = (text: string): unknown => {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
};
