/**
 * Runs the fake kube-apiserver on its own, for `npm start` and benchmarks:
 *
 *   node -r @swc-node/register tools/fake-kube-api/main.ts [--port 6443] [--host 127.0.0.1]
 *        [--kubeconfig-out .rotor/kubeconfig] [--token T] [--namespaces a,b] [--seed-secrets N]
 *
 * Prints its URL as the first line of stdout; stops on SIGINT/SIGTERM.
 */
import { parseArgs } from 'node:util';

import { FakeKubeApi } from './fake-kube-api';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '6443' },
      host: { type: 'string', default: '127.0.0.1' },
      'kubeconfig-out': { type: 'string' },
      token: { type: 'string' },
      namespaces: { type: 'string' },
      'seed-secrets': { type: 'string', default: '0' },
    },
  });
  const port = Number(values.port);
  const seed = Number(values['seed-secrets']);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be a port number, got ${values.port}`);
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`--seed-secrets must be a count, got ${values['seed-secrets']}`);

  const kube = await new FakeKubeApi({ port, host: values.host, requiredToken: values.token }).start();
  if (values.namespaces) kube.setNamespaces(values.namespaces.split(',').map((name) => name.trim()));
  // Secrets nobody at rotor wrote, spread over ten namespaces, for cluster-scan benchmarks.
  for (let index = 0; index < seed; index++) {
    kube.putSecret({
      metadata: {
        name: `seeded-${String(index).padStart(6, '0')}`,
        namespace: `scan-${index % 10}`,
        labels: { 'rotor.dev/seeded': 'true' },
      },
      data: { value: Buffer.from(`seeded-value-${index}`).toString('base64') },
    });
  }
  // The kubeconfig is on disk before the URL is printed, so a script that waits for the URL can use both.
  if (values['kubeconfig-out']) process.stderr.write(`kubeconfig: ${kube.writeKubeconfig(values['kubeconfig-out'])}\n`);
  process.stdout.write(`${kube.url}\n`);
  if (seed) process.stderr.write(`seeded ${seed} Secrets in namespaces scan-0..scan-9\n`);

  const stop = () => void kube.stop().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`fake-kube-api: ${(error as Error).message}\n`);
  process.exit(1);
});
