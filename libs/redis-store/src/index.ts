export * from './claim-loop';
export * from './due-schedule';
export * from './redis-connection';
export * from './redis-lock';
export * from './shared-rate-limiter';
export * from './transaction';
export * from './scan-keys';
export * from './layout-upgrade';
