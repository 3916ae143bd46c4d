export * from './backend-registry';
export * from './credential-backend';
export * from './opaque-token.backend';
export * from './postgres.backend';
export * from './redis-acl.backend';
export * from './scram-verifier';
