export * from './canonical-json';
export * from './chain';
