export * from './admission';
export * from './annotations';
export * from './pod-mutation';
