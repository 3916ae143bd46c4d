export * from './backoff';
export * from './consumer-runner';
export * from './errors';
export * from './event-publisher';
export * from './kafka-connection';
export * from './topic-reader';
