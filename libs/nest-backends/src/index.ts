export * from './backends.provider';
export * from './separate-redis.check';
