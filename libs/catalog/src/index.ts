export * from './bindings';
export * from './catalog.schema';
export * from './duration';
export * from './load-catalog';
export * from './target-rules';
