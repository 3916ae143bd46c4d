export * from './env';
export * from './transport-security';
export * from './http-settings';
export * from './keyring';
export * from './redis-server-identity';
export * from './secret-file';
export * from './catalog-file';
