export * from './emergency';
export * from './inventory';
export * from './leases';
export * from './openapi';
export * from './posture';
export * from './problem';
export * from './registry';
