export * from './gsm-secret-store';
export * from './rate-limiter';
