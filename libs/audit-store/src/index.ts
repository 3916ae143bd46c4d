export * from './audit-database';
export * from './chain-state';
export * from './partitions';
export * from './view-writer';
export * from './views-reader';
export * from './schema-rebuild';
export * from './derived-rows';
