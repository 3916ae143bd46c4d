export * from './due-schedule';
export * from './redis-connection';
export * from './redis-lock';
