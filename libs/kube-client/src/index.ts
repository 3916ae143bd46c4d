export * from './kube-config';
export * from './pod-lister';
export * from './token-reviewer';
