import type { z } from 'zod';

import {
  BreakGlassEndingSchema,
  BreakGlassGrantSchema,
  BreakGlassPageSchema,
  BreakGlassPreviewSchema,
  CallerViewSchema,
  IssuedCredentialSchema,
  LeaseRevocationSchema,
  LeaseViewSchema,
  SecretValueSchema,
  type BreakGlassEnding,
  type BreakGlassGrant,
  type BreakGlassPage,
  type BreakGlassPreview,
  type BreakGlassRequestSchema,
  type CallerView,
  type IssuedCredential,
  type LeaseRevocation,
  type LeaseView,
  type SecretValue,
} from '@rotor/rest-contract';

import { HttpTransport, type TransportOptions } from './http-transport';

export type IssuerClientOptions = TransportOptions;

export interface IssueOptions {
  role: string;
  /** Seconds or a duration (`15m`); the role's TTL by default. */
  ttl?: number | string;
  /** What the lease is for (a pod, a job): shown on the lease and in the audit trail. */
  task?: string;
  /** Makes a retried issuance return the first lease instead of minting a second one; issuance is retried only with one. */
  idempotencyKey?: string;
}

/** `POST /v1/break-glass[/preview]`: secrets and/or a role, why, the ticket, and the time box. */
export type BreakGlassRequest = z.input<typeof BreakGlassRequestSchema>;

/** The list flags of a paged route: a state, a page size, the previous page's `next`. */
export interface PageQuery {
  state?: string | undefined;
  limit?: number | undefined;
  after?: string | undefined;
}

const id = encodeURIComponent;

/**
 * The issuer's REST API, typed: one place that knows its routes, bodies and problems. The
 * workload API (issue, renew, revoke, read a secret) and the operators' (break-glass).
 */
export class IssuerClient {
  private readonly http: HttpTransport;

  constructor(options: IssuerClientOptions | HttpTransport) {
    this.http = options instanceof HttpTransport ? options : new HttpTransport(options);
  }

  /** `POST /v1/credentials`: a new lease and its credential (shown once). */
  issue({ role, ttl, task, idempotencyKey }: IssueOptions): Promise<IssuedCredential> {
    return this.http.json({
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
    return this.http.json({
      method: 'POST',
      path: `/v1/leases/${id(leaseId)}/renew`,
      body: ttl !== undefined ? { ttl } : {},
      idempotent: true,
      schema: LeaseViewSchema,
      what: 'POST /v1/leases/{id}/renew',
    });
  }

  /** `DELETE /v1/leases/{id}`: done, or requested from the revoker. */
  revoke(leaseId: string): Promise<LeaseRevocation> {
    return this.http.json({
      method: 'DELETE',
      path: `/v1/leases/${id(leaseId)}`,
      idempotent: true,
      schema: LeaseRevocationSchema,
      what: 'DELETE /v1/leases/{id}',
    });
  }

  /** `GET /v1/leases/{id}`. */
  lease(leaseId: string): Promise<LeaseView> {
    return this.http.json({
      method: 'GET',
      path: `/v1/leases/${id(leaseId)}`,
      idempotent: true,
      schema: LeaseViewSchema,
      what: 'GET /v1/leases/{id}',
    });
  }

  /** `GET /v1/secrets/{name}`: the current version of a managed secret and its value. */
  readSecret(name: string): Promise<SecretValue> {
    return this.http.json({
      method: 'GET',
      path: `/v1/secrets/${id(name)}`,
      idempotent: true,
      schema: SecretValueSchema,
      what: 'GET /v1/secrets/{name}',
    });
  }

  /** `GET /v1/whoami`: who the issuer takes the token's bearer to be. */
  whoami(): Promise<CallerView> {
    return this.http.json({ method: 'GET', path: '/v1/whoami', idempotent: true, schema: CallerViewSchema, what: 'GET /v1/whoami' });
  }

  /** `POST /v1/break-glass/preview`: what an access would open, versions and never values. Opens nothing, so retried. */
  previewBreakGlass(request: BreakGlassRequest): Promise<BreakGlassPreview> {
    return this.http.json({
      method: 'POST',
      path: '/v1/break-glass/preview',
      body: request,
      idempotent: true,
      schema: BreakGlassPreviewSchema,
      what: 'POST /v1/break-glass/preview',
    });
  }

  /**
   * `POST /v1/break-glass`: opens the access and answers the values, once. Tried once even with
   * its Idempotency-Key: a repeat opens nothing twice, but answers 409 instead of the values, so
   * an answer lost on the way back cannot be had by asking again.
   */
  openBreakGlass(request: BreakGlassRequest, idempotencyKey: string): Promise<BreakGlassGrant> {
    return this.http.json({
      method: 'POST',
      path: '/v1/break-glass',
      body: request,
      headers: { 'idempotency-key': idempotencyKey },
      idempotent: false,
      schema: BreakGlassGrantSchema,
      what: 'POST /v1/break-glass',
    });
  }

  /** `GET /v1/break-glass`: accesses, newest first, a page at a time; never a value. */
  breakGlassAccesses(query: PageQuery = {}): Promise<BreakGlassPage> {
    return this.http.json({
      method: 'GET',
      path: '/v1/break-glass',
      query: { ...query },
      idempotent: true,
      schema: BreakGlassPageSchema,
      what: 'GET /v1/break-glass',
    });
  }

  /** `DELETE /v1/break-glass/{id}`: ends the access now; what it exposed is rotated. */
  endBreakGlass(breakGlassId: string): Promise<BreakGlassEnding> {
    return this.http.json({
      method: 'DELETE',
      path: `/v1/break-glass/${id(breakGlassId)}`,
      idempotent: true,
      schema: BreakGlassEndingSchema,
      what: 'DELETE /v1/break-glass/{id}',
    });
  }
}
