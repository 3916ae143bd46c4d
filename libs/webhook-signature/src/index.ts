export * from './keyring';
export * from './notice';
export * from './replay-guard';
export * from './signature';
export * from './verify-webhook';
export * from './webhook-receiver';
export * from './webhook-request';
