import type { z } from 'zod';

import {
  CopyFingerprintSetSchema,
  DeliveryPageSchema,
  DriftScanReportSchema,
  ReportedCopiesReceiptSchema,
  type CopyFingerprintSet,
  type DeliveryPage,
  type DriftScanReport,
  type ReportedCopiesReceipt,
  type ReportedCopiesSchema,
} from '@rotor/rest-contract';

import { HttpTransport, type TransportOptions } from './http-transport';

/** `POST /v1/copy-scan/findings`: where each copy was found (never its value). */
export type ReportedCopies = z.input<typeof ReportedCopiesSchema>;

/** The distributor's operators' API: deliveries, the drift scan, and copy discovery. */
export class DistributorClient {
  private readonly http: HttpTransport;

  constructor(options: TransportOptions | HttpTransport) {
    this.http = options instanceof HttpTransport ? options : new HttpTransport(options);
  }

  /** `GET /v1/deliveries?secret=&state=`: every copy of a managed secret the distributor made, and its state. */
  deliveries(query: { secret: string; state?: string | undefined }): Promise<DeliveryPage> {
    return this.http.json({
      method: 'GET',
      path: '/v1/deliveries',
      query: { ...query },
      idempotent: true,
      schema: DeliveryPageSchema,
      what: 'GET /v1/deliveries',
    });
  }

  /** `POST /v1/reconcile`: the drift scan now. It compares and repairs toward the catalog: a repeat leaves the same state. */
  reconcile(): Promise<DriftScanReport> {
    return this.http.json({
      method: 'POST',
      path: '/v1/reconcile',
      idempotent: true,
      schema: DriftScanReportSchema,
      what: 'POST /v1/reconcile',
    });
  }

  /** `POST /v1/copy-scan/fingerprints`: the scan key and keyed hashes of the managed versions (never a value). */
  copyFingerprints(): Promise<CopyFingerprintSet> {
    return this.http.json({
      method: 'POST',
      path: '/v1/copy-scan/fingerprints',
      idempotent: false,
      schema: CopyFingerprintSetSchema,
      what: 'POST /v1/copy-scan/fingerprints',
    });
  }

  /** `POST /v1/copy-scan/findings`: publishes copies found in files or CI variables; each repeat publishes again, so it is sent once. */
  reportCopies(findings: ReportedCopies): Promise<ReportedCopiesReceipt> {
    return this.http.json({
      method: 'POST',
      path: '/v1/copy-scan/findings',
      body: findings,
      idempotent: false,
      schema: ReportedCopiesReceiptSchema,
      what: 'POST /v1/copy-scan/findings',
    });
  }
}
