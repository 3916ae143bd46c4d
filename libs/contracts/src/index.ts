export * from './common';
export * from './envelope';
export * from './events';
export * from './gsm-reference';
export * from './json-schema';
export * from './kinds';
export * from './topics';
export * from './access-policy';
