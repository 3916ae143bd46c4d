export * from './claim-loop.worker';
export * from './redis.module';
