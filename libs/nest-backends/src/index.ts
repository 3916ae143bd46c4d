export * from './backends.provider';
