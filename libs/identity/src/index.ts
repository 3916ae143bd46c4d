export * from './caller';
export * from './token-verifier';
export * from './key-set';
