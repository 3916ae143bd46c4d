export * from './client-errors';
export { AuditorClient, type AuditEventQuery, type LeaseQuery } from './auditor-client';
export { DistributorClient, type ReportedCopies } from './distributor-client';
export {
  HttpTransport,
  TIMEOUT_CODE,
  type HttpAnswer,
  type RestCall,
  type TlsOptions,
  type TokenSource,
  type TransportOptions,
} from './http-transport';
export { IssuerClient, type BreakGlassRequest, type IssueOptions, type IssuerClientOptions, type PageQuery } from './issuer-client';
export { RevokerClient, type EmergencyRotationRequest, type EmergencySelector, type LeaseSelector } from './revoker-client';
