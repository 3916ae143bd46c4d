// The fake kube-apiserver lives in tools/ so that `npm start` and benchmarks can run it too.
export * from '../../tools/fake-kube-api/fake-kube-api';
