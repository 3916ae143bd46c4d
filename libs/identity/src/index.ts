export * from './caller';
export * from './caller-from-claims';
