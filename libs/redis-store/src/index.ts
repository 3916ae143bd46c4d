export * from './due-schedule';
export * from './redis-connection';
