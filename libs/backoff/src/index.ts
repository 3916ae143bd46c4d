export * from './backoff';
export * from './transient';
export * from './timeout';
