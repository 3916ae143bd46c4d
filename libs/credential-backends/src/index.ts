export * from './backend-registry';
export * from './credential-backend';
export * from './opaque-token.backend';
