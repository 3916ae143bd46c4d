export * from './alphabet';
export * from './fingerprint';
export * from './copy-matcher';
export * from './line-scanner';
