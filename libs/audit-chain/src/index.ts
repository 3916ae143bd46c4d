export * from './canonical-json';
export * from './chain';
export * from './identifiers';
export * from './inventory';
export * from './projection';
export * from './view-keys';
