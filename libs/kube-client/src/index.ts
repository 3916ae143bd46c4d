export * from './kube-config';
export * from './token-reviewer';
