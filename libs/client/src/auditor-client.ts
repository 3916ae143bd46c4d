import type { z } from 'zod';

import {
  AuditEventsPageSchema,
  AuditKeySetSchema,
  AuditVerifyReportSchema,
  InventoryAtSchema,
  LeasePageSchema,
  OwnerInventorySchema,
  PostureReportSchema,
  SecretInventorySchema,
  WorkloadInventorySchema,
  type AuditEventsPage,
  type AuditKeySet,
  type AuditVerifyReport,
  type InventoryAt,
  type LeasePage,
  type OwnerInventory,
  type PostureReport,
  type SecretInventory,
  type WorkloadInventory,
} from '@rotor/rest-contract';

import { HttpTransport, type TransportOptions } from './http-transport';
import type { PageQuery } from './issuer-client';

/** `GET /v1/inventory/leases`: the selectors, and a page. */
export interface LeaseQuery extends PageQuery {
  namespace?: string | undefined;
  serviceAccount?: string | undefined;
  role?: string | undefined;
  backend?: string | undefined;
  owner?: string | undefined;
}

/** `GET /v1/audit/events`: the filters (`actor` is an operator's subject), and a page by offset. */
export interface AuditEventQuery {
  lease?: string | undefined;
  workload?: string | undefined;
  secret?: string | undefined;
  actor?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
  limit?: number | undefined;
  offset?: string | number | undefined;
}

const id = encodeURIComponent;

/** The auditor's API: the inventory, the audit trail and its verification, the posture report. */
export class AuditorClient {
  private readonly http: HttpTransport;

  constructor(options: TransportOptions | HttpTransport) {
    this.http = options instanceof HttpTransport ? options : new HttpTransport(options);
  }

  /** `GET /v1/inventory/leases`: every lease recorded, by selector, a page at a time. */
  leases(query: LeaseQuery = {}): Promise<LeasePage> {
    return this.get('/v1/inventory/leases', LeasePageSchema, { ...query });
  }

  /** `GET /v1/inventory/secrets/{name}`: versions, copies and bound readers. */
  secretInventory(name: string): Promise<SecretInventory> {
    return this.get(`/v1/inventory/secrets/${id(name)}`, SecretInventorySchema, {}, 'GET /v1/inventory/secrets/{name}');
  }

  /** `GET /v1/inventory/workloads/{namespace}/{serviceAccount}`: leases, bound roles and secrets. */
  workloadInventory(namespace: string, serviceAccount: string): Promise<WorkloadInventory> {
    return this.get(
      `/v1/inventory/workloads/${id(namespace)}/${id(serviceAccount)}`,
      WorkloadInventorySchema,
      {},
      'GET /v1/inventory/workloads/{namespace}/{serviceAccount}',
    );
  }

  /** `GET /v1/inventory/owners/{owner}`: a team's roles, secrets, copies and leases. */
  ownerInventory(owner: string): Promise<OwnerInventory> {
    return this.get(`/v1/inventory/owners/${id(owner)}`, OwnerInventorySchema, {}, 'GET /v1/inventory/owners/{owner}');
  }

  /** `GET /v1/inventory/at?time=`: what existed at a moment. */
  inventoryAt(time: string): Promise<InventoryAt> {
    return this.get('/v1/inventory/at', InventoryAtSchema, { time });
  }

  /** `GET /v1/audit/events`: the audit timeline, filtered. */
  auditEvents(query: AuditEventQuery = {}): Promise<AuditEventsPage> {
    return this.get('/v1/audit/events', AuditEventsPageSchema, { ...query });
  }

  /** `GET /v1/audit/verify`: the auditor's check of its chains and signed checkpoints. */
  verifyAudit(): Promise<AuditVerifyReport> {
    return this.get('/v1/audit/verify', AuditVerifyReportSchema);
  }

  /** `GET /v1/audit/keys`: the public checkpoint keys (JWKS); public, so it needs no token. */
  auditKeys(): Promise<AuditKeySet> {
    return this.get('/v1/audit/keys', AuditKeySetSchema);
  }

  /** `GET /v1/reports/posture`. */
  postureReport(): Promise<PostureReport> {
    return this.get('/v1/reports/posture', PostureReportSchema);
  }

  /** `GET /v1/reports/posture?format=html`: the same report as a self-contained page. */
  postureReportHtml(): Promise<string> {
    return this.http.text({
      method: 'GET',
      path: '/v1/reports/posture',
      query: { format: 'html' },
      accept: 'text/html',
      idempotent: true,
      what: 'GET /v1/reports/posture',
    });
  }

  private get<T>(
    path: string,
    schema: z.ZodType<T, T>,
    query: Record<string, string | number | undefined> = {},
    what = `GET ${path}`,
  ): Promise<T> {
    return this.http.json({ method: 'GET', path, query, idempotent: true, schema, what });
  }
}
