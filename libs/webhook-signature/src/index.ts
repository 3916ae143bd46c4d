export * from './notice';
export * from './replay-guard';
export * from './signature';
export * from './webhook-receiver';
export * from './webhook-request';
