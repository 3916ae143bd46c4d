export * from './bootstrap';
export * from './caller.guard';
export * from './nest-logger';
export * from './problem-details.filter';
export * from './readiness';
export * from './service-kit.module';
export * from './tokens';
export * from './zod-body.pipe';
