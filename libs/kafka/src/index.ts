// First: fixes kafkajs before any client is made (see the file).
import './kafkajs-idle-timer-fix';

export * from './retry-retriable';
export * from './consumer-runner';
export * from './errors';
export * from './event-publisher';
export * from './kafka-connection';
export * from './kafka-namespace';
export * from './topic-reader';
export * from './topic-retention';
export { applyKafkajsIdleTimerFix } from './kafkajs-idle-timer-fix';
