import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import { FakeKubeApi } from '../support/fake-kube-api';

const ROOT = join(__dirname, '..', '..');
const SCRIPT = join(ROOT, 'test', 'support', 'unaccounted-secret-delete.ts');
const rotorLabels = { 'app.kubernetes.io/managed-by': 'rotor', 'rotor.dev/secret': 'payments-api-key' };

describe('deleting a Secret nobody accounts for (real client, fake API server)', () => {
  const kube = new FakeKubeApi();
  let kubeconfig: string;

  beforeAll(async () => {
    await kube.start();
    kubeconfig = kube.writeKubeconfig();
  });

  afterAll(() => kube.stop());

  /** Lists and inspects the Secret, lets `between` run, then deletes it as inspected. */
  async function inspectThenDelete(name: string, between: () => void): Promise<{ inspected: string; outcome: string }> {
    const child = spawn(process.execPath, ['-r', '@swc-node/register', SCRIPT, kubeconfig, 'shop', name], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const next = async () => {
      const line = await lines.next();
      if (line.done) throw new Error(`the scenario ended early: ${stderr}`);
      return JSON.parse(line.value) as Record<string, string>;
    };
    const { inspected } = await next();
    between();
    child.stdin.write('go\n');
    const { outcome } = await next();
    return { inspected: inspected!, outcome: outcome! };
  }

  it('does not delete a Secret that changed after it was inspected', async () => {
    kube.putSecret({ metadata: { name: 'left-over', namespace: 'shop', labels: rotorLabels }, stringData: { 'api-key': 'old' } });
    const result = await inspectThenDelete('left-over', () =>
      kube.editSecretData('shop', 'left-over', { 'api-key': Buffer.from('someone put this here').toString('base64') }),
    );
    expect(result.outcome).toBe('changed');
    expect(kube.secret('shop', 'left-over')).toBeDefined();
    expect(kube.secret('shop', 'left-over')!.metadata.resourceVersion).not.toBe(result.inspected);
  });

  it('does not delete a Secret deleted and re-created under the same name after it was inspected', async () => {
    kube.putSecret({ metadata: { name: 'recreated', namespace: 'shop', labels: rotorLabels }, stringData: { 'api-key': 'old' } });
    const result = await inspectThenDelete('recreated', () => {
      kube.deleteSecret('shop', 'recreated');
      kube.putSecret({ metadata: { name: 'recreated', namespace: 'shop' }, stringData: { 'api-key': 'a new owner' } });
    });
    expect(result.outcome).toBe('changed');
    expect(kube.secret('shop', 'recreated')).toBeDefined();
  });

  it('deletes the Secret it inspected when nothing changed, and calls one already gone absent', async () => {
    kube.putSecret({ metadata: { name: 'unchanged', namespace: 'shop', labels: rotorLabels }, stringData: { 'api-key': 'old' } });
    await expect(inspectThenDelete('unchanged', () => undefined)).resolves.toMatchObject({ outcome: 'deleted' });
    expect(kube.secret('shop', 'unchanged')).toBeUndefined();

    kube.putSecret({ metadata: { name: 'vanishing', namespace: 'shop', labels: rotorLabels }, stringData: { 'api-key': 'old' } });
    await expect(inspectThenDelete('vanishing', () => kube.deleteSecret('shop', 'vanishing'))).resolves.toMatchObject({
      outcome: 'absent',
    });
  });
});
