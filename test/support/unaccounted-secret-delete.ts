/**
 * Runs the distributor's KubernetesSecretWriter against a kube-apiserver (it loads the ESM
 * @kubernetes/client-node, which cannot load inside Jest): lists the rotor-labelled Secrets of a
 * namespace, prints what it inspected, waits for one line on stdin (the test changes the Secret
 * meanwhile, or not), deletes that Secret as inspected and prints the outcome.
 *
 *   node -r @swc-node/register test/support/unaccounted-secret-delete.ts <kubeconfig> <namespace> <name>
 */
import { createInterface } from 'node:readline';

import { loadKubeConfig } from '@rotor/kube-client';

import { KubernetesSecretWriter } from '../../apps/distributor/src/targets/kubernetes-secret.writer';

async function main(): Promise<void> {
  const [kubeconfig, namespace, name] = process.argv.slice(2);
  const writer = new KubernetesSecretWriter(loadKubeConfig(kubeconfig));
  const found = (await writer.listManaged(namespace!)).find((secret) => secret.name === name);
  if (!found) throw new Error(`${namespace}/${name} is not listed as rotor's`);
  process.stdout.write(JSON.stringify({ inspected: found.resourceVersion }) + '\n');
  const lines = createInterface({ input: process.stdin });
  await new Promise<void>((resolve) => lines.once('line', () => resolve()));
  lines.close();
  process.stdout.write(JSON.stringify({ outcome: await writer.deleteUnaccounted(found) }) + '\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
