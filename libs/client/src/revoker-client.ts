import type { z } from 'zod';

import {
  EmergencyPreviewSchema,
  EmergencyRotationPageSchema,
  EmergencyRotationViewSchema,
  IrrevocableLeasePageSchema,
  LeaseRevocationPageSchema,
  LeaseRevocationPreviewSchema,
  LeaseRevocationViewSchema,
  type EmergencyPreview,
  type EmergencyRotationPage,
  type EmergencyRotationRequestSchema,
  type EmergencyRotationView,
  type EmergencySelectorSchema,
  type IrrevocableLeasePage,
  type LeaseRevocationPage,
  type LeaseRevocationPreview,
  type LeaseRevocationView,
  type LeaseSelectorSchema,
} from '@rotor/rest-contract';

import { HttpTransport, type TransportOptions } from './http-transport';
import type { PageQuery } from './issuer-client';

export type EmergencySelector = z.input<typeof EmergencySelectorSchema>;
export type EmergencyRotationRequest = z.input<typeof EmergencyRotationRequestSchema>;
export type LeaseSelector = z.input<typeof LeaseSelectorSchema>;

const id = encodeURIComponent;

/** The revoker's operators' API: emergency rotations, revocations by selector, irrevocable leases. */
export class RevokerClient {
  private readonly http: HttpTransport;

  constructor(options: TransportOptions | HttpTransport) {
    this.http = options instanceof HttpTransport ? options : new HttpTransport(options);
  }

  /** `GET /v1/leases?state=irrevocable`: leases the revoker could not end yet, with attempts and the last error. */
  irrevocableLeases(): Promise<IrrevocableLeasePage> {
    return this.http.json({
      method: 'GET',
      path: '/v1/leases',
      query: { state: 'irrevocable' },
      idempotent: true,
      schema: IrrevocableLeasePageSchema,
      what: 'GET /v1/leases',
    });
  }

  /** `POST /v1/emergency-rotations/preview`: what a selector covers; starts nothing, so retried. */
  previewEmergencyRotation(selector: EmergencySelector): Promise<EmergencyPreview> {
    return this.http.json({
      method: 'POST',
      path: '/v1/emergency-rotations/preview',
      body: { selector },
      idempotent: true,
      schema: EmergencyPreviewSchema,
      what: 'POST /v1/emergency-rotations/preview',
    });
  }

  /** `POST /v1/emergency-rotations`. With a `requestId` a repeat finds the first rotation, so only then is it retried. */
  startEmergencyRotation(request: EmergencyRotationRequest): Promise<EmergencyRotationView> {
    return this.http.json({
      method: 'POST',
      path: '/v1/emergency-rotations',
      body: request,
      idempotent: request.requestId !== undefined,
      schema: EmergencyRotationViewSchema,
      what: 'POST /v1/emergency-rotations',
    });
  }

  /** `GET /v1/emergency-rotations/{id}`: one rotation and its progress. */
  emergencyRotation(rotationId: string): Promise<EmergencyRotationView> {
    return this.http.json({
      method: 'GET',
      path: `/v1/emergency-rotations/${id(rotationId)}`,
      idempotent: true,
      schema: EmergencyRotationViewSchema,
      what: 'GET /v1/emergency-rotations/{id}',
    });
  }

  /** `GET /v1/emergency-rotations`: newest first, a page at a time. */
  emergencyRotations(query: PageQuery = {}): Promise<EmergencyRotationPage> {
    return this.http.json({
      method: 'GET',
      path: '/v1/emergency-rotations',
      query: { ...query },
      idempotent: true,
      schema: EmergencyRotationPageSchema,
      what: 'GET /v1/emergency-rotations',
    });
  }

  /** `POST /v1/lease-revocations/preview`: how many leases a selector covers; revokes nothing, so retried. */
  previewLeaseRevocation(selector: LeaseSelector): Promise<LeaseRevocationPreview> {
    return this.http.json({
      method: 'POST',
      path: '/v1/lease-revocations/preview',
      body: { selector },
      idempotent: true,
      schema: LeaseRevocationPreviewSchema,
      what: 'POST /v1/lease-revocations/preview',
    });
  }

  /** `POST /v1/lease-revocations` with an Idempotency-Key: a repeat finds the first run, so it is retried. */
  revokeLeases(request: { selector: LeaseSelector; reason: string }, idempotencyKey: string): Promise<LeaseRevocationView> {
    return this.http.json({
      method: 'POST',
      path: '/v1/lease-revocations',
      body: request,
      headers: { 'idempotency-key': idempotencyKey },
      idempotent: true,
      schema: LeaseRevocationViewSchema,
      what: 'POST /v1/lease-revocations',
    });
  }

  /** `GET /v1/lease-revocations/{id}`: one revocation by selector and its progress. */
  leaseRevocation(revocationId: string): Promise<LeaseRevocationView> {
    return this.http.json({
      method: 'GET',
      path: `/v1/lease-revocations/${id(revocationId)}`,
      idempotent: true,
      schema: LeaseRevocationViewSchema,
      what: 'GET /v1/lease-revocations/{id}',
    });
  }

  /** `GET /v1/lease-revocations`: newest first, a page at a time. */
  leaseRevocations(query: PageQuery = {}): Promise<LeaseRevocationPage> {
    return this.http.json({
      method: 'GET',
      path: '/v1/lease-revocations',
      query: { ...query },
      idempotent: true,
      schema: LeaseRevocationPageSchema,
      what: 'GET /v1/lease-revocations',
    });
  }
}
