export * from './token-verifier';
export * from './key-set';
