export * from './logger';
export * from './exposition';
export * from './metrics';
export * from './trace-context';
export * from './redaction';
