export * from './bindings';
export * from './catalog.schema';
export * from './duration';
export * from './parse-catalog';
export * from './target-rules';
