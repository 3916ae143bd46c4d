export * from './caller';
export * from './token-verifier';
