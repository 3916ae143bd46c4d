export * from './client-errors';
export { IssuerClient, type IssueOptions, type IssuerClientOptions, type TokenSource } from './issuer-client';
