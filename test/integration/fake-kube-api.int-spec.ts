import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { FakeKubeApi } from '../support/fake-kube-api';

const ROOT = join(__dirname, '..', '..');
const SCENARIOS = join(ROOT, 'tools', 'fake-kube-api', 'client-scenarios.ts');

/** Runs a scenario of the real @kubernetes/client-node (ESM: it cannot load inside Jest) and parses its JSON. */
async function runClient(kubeconfig: string, ...args: string[]): Promise<any> {
  const { stdout } = await promisify(execFile)(process.execPath, ['-r', '@swc-node/register', SCENARIOS, ...args], {
    cwd: ROOT,
    env: { ...process.env, KUBECONFIG: kubeconfig },
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(stdout);
}

const b64 = (text: string) => Buffer.from(text).toString('base64');

describe('fake kube-apiserver, driven by the real @kubernetes/client-node', () => {
  const kube = new FakeKubeApi();
  let kubeconfig: string;

  beforeAll(async () => {
    await kube.start();
    kubeconfig = kube.writeKubeconfig();
  });

  afterAll(async () => {
    await kube.stop();
  });

  afterEach(() => kube.clearFaults());

  it("creates, reads, replaces, patches and deletes Secrets with the API server's concurrency rules", async () => {
    const steps = (await runClient(kubeconfig, 'crud', 'crud')) as {
      step: string;
      ok: boolean;
      code?: number;
      reason?: string;
      [k: string]: any;
    }[];
    const at = (name: string) => steps.find((s) => s.step === name)!;
    const outcome = (name: string) => {
      const s = at(name);
      return s.ok ? 'ok' : `${s.code} ${s.reason}`;
    };

    expect(at('create')).toMatchObject({
      ok: true,
      kind: 'Secret',
      apiVersion: 'v1',
      type: 'Opaque',
      generation: 1,
      data: { 'api-key': b64('v1-value') },
    });
    expect(at('create').uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(outcome('create-again')).toBe('409 AlreadyExists');
    expect(at('get')).toMatchObject({ ok: true, resourceVersion: at('create').resourceVersion, uid: at('create').uid });

    expect(outcome('replace-stale')).toBe('409 Conflict');
    expect(at('replace-fresh')).toMatchObject({
      ok: true,
      uid: at('create').uid,
      creationTimestamp: at('create').creationTimestamp,
      data: { 'api-key': b64('v2-value') },
    });
    expect(Number(at('replace-fresh').resourceVersion)).toBeGreaterThan(Number(at('replace-other-writer').resourceVersion));
    expect(outcome('replace-missing')).toBe('404 NotFound');

    expect(at('list-by-label')).toMatchObject({ kind: 'SecretList', names: ['app-credentials'] });
    expect(at('list-all-namespaces').names).toContain('crud/unrelated');
    expect(at('list-all-namespaces').names).not.toContain('crud/app-credentials');
    expect(outcome('list-bad-selector')).toBe('400 BadRequest');

    expect(at('merge-patch')).toMatchObject({
      ok: true,
      annotations: { 'rotor.dev/version': '2' },
      data: { 'api-key': b64('v2-value'), extra: b64('x') },
    });
    expect(outcome('strategic-patch-stale')).toBe('409 Conflict');
    expect(at('json-patch')).toMatchObject({ ok: true, data: { 'api-key': b64('v2-value') } });
    expect(Object.keys(at('json-patch').data)).toEqual(['api-key']);

    expect(outcome('delete-stale')).toBe('409 Conflict');
    expect(at('delete')).toMatchObject({ ok: true, kind: 'Status', status: 'Success' });
    expect(outcome('get-deleted')).toBe('404 NotFound');
    expect(outcome('delete-missing')).toBe('404 NotFound');
    expect(kube.secret('crud', 'app-credentials')).toBeUndefined();

    expect(at('configmap-create')).toMatchObject({ ok: true, kind: 'ConfigMap', data: { mode: 'strict' } });
    expect(at('configmap-merge-patch')).toMatchObject({ ok: true, data: { mode: 'lenient' } });
    expect(at('configmap-list')).toMatchObject({ kind: 'ConfigMapList', names: ['settings'] });
    expect(at('configmap-delete')).toMatchObject({ ok: true, status: 'Success' });

    // Every write moved the one global resourceVersion forward.
    const versions = steps.filter((s) => s.ok && s.resourceVersion && s.step !== 'get').map((s) => Number(s.resourceVersion));
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    expect(kube.requests).toContainEqual({
      method: 'GET',
      path: '/api/v1/namespaces/crud/secrets',
      authorization: 'Bearer rotor-service-account-token',
      query: expect.stringContaining('labelSelector='),
    });
  }, 60_000);

  it('pages through 1,200 matching Secrets 500 at a time, in order, skipping those the selector excludes', async () => {
    for (let index = 0; index < 1500; index++) {
      kube.putSecret({
        metadata: {
          name: `copy-${String(index).padStart(4, '0')}`,
          namespace: 'paged',
          labels: index % 5 === 4 ? { 'app.kubernetes.io/managed-by': 'helm' } : { 'app.kubernetes.io/managed-by': 'rotor' },
        },
        data: { value: b64(`v${index}`) },
      });
    }
    kube.putSecret({ metadata: { name: 'elsewhere', namespace: 'paged-other', labels: { 'app.kubernetes.io/managed-by': 'rotor' } } });

    const selected = await runClient(kubeconfig, 'paginate', 'paged', 'app.kubernetes.io/managed-by=rotor');
    expect(selected).toMatchObject({ total: 1200, unique: 1200, sorted: true });
    expect(selected.pages.map((page: { items: number }) => page.items)).toEqual([500, 500, 200]);

    const everything = await runClient(kubeconfig, 'paginate', 'paged');
    expect(everything).toMatchObject({ total: 1500, unique: 1500, sorted: true });
    expect(everything.pages).toEqual([{ items: 500, remainingItemCount: 1000 }, { items: 500, remainingItemCount: 500 }, { items: 500 }]);
  }, 60_000);

  it('lets a test edit a Secret by hand, so a writer holding the old resourceVersion conflicts', async () => {
    const before = kube.putSecret({ metadata: { name: 'edited', namespace: 'hooks' }, stringData: { key: 'written-by-rotor' } });
    const after = kube.editSecretData('hooks', 'edited', { key: b64('edited-by-hand') });
    expect(Number(after.metadata.resourceVersion)).toBeGreaterThan(Number(before.metadata.resourceVersion));
    expect(kube.secrets('hooks')).toEqual([after]);

    const response = await fetch(`${kube.url}/api/v1/namespaces/hooks/secrets/edited`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        metadata: { name: 'edited', resourceVersion: before.metadata.resourceVersion },
        stringData: { key: 'rotor-again' },
      }),
    });
    expect(response.status).toBe(409);
    expect(await response.json()).toMatchObject({ kind: 'Status', reason: 'Conflict', code: 409 });
    expect(kube.deleteSecret('hooks', 'edited')).toBe(true);
    expect(kube.deleteSecret('hooks', 'edited')).toBe(false);
  });

  it('injects failures, unreachable and slow namespaces, and leaves other namespaces alone', async () => {
    kube.putSecret({ metadata: { name: 's', namespace: 'flaky' } });
    kube.putSecret({ metadata: { name: 's', namespace: 'healthy' } });
    const get = (namespace: string) => fetch(`${kube.url}/api/v1/namespaces/${namespace}/secrets/s`);

    kube.failNext('GET', /\/namespaces\/flaky\//, 503, { times: 2 });
    expect((await get('flaky')).status).toBe(503);
    expect(await (await get('flaky')).json()).toMatchObject({ kind: 'Status', reason: 'ServiceUnavailable', code: 503 });
    expect((await get('flaky')).status).toBe(200);

    kube.setNamespaceFault('flaky', { kind: 'unreachable' });
    await expect(get('flaky')).rejects.toThrow();
    expect((await get('healthy')).status).toBe(200);

    kube.setNamespaceFault('flaky', { kind: 'slow', delayMs: 300 });
    const started = Date.now();
    expect((await get('flaky')).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);

    kube.setNamespaceFault('flaky', { kind: 'hang' });
    await expect(fetch(`${kube.url}/api/v1/namespaces/flaky/secrets/s`, { signal: AbortSignal.timeout(200) })).rejects.toThrow();

    kube.clearFaults();
    expect((await get('flaky')).status).toBe(200);
  });

  it('creates only in namespaces that exist once the namespaces are set', async () => {
    kube.setNamespaces(['exists']);
    const create = (namespace: string) =>
      fetch(`${kube.url}/api/v1/namespaces/${namespace}/secrets`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ metadata: { name: 'x' } }),
      });
    try {
      expect((await create('exists')).status).toBe(201);
      const missing = await create('missing');
      expect(missing.status).toBe(404);
      expect(await missing.json()).toMatchObject({ reason: 'NotFound', message: 'namespaces "missing" not found' });
    } finally {
      kube.setNamespaces(undefined);
    }
  });
});

describe('fake kube-apiserver: apps/v1 workloads, driven by the real @kubernetes/client-node', () => {
  const kube = new FakeKubeApi();
  let kubeconfig: string;

  beforeAll(async () => {
    await kube.start();
    kubeconfig = kube.writeKubeconfig();
  });

  afterAll(async () => {
    await kube.stop();
  });

  it('creates, lists in pages and patches the pod template of Deployments and StatefulSets, as a rollout does', async () => {
    const steps = (await runClient(kubeconfig, 'workloads', 'apps')) as { step: string; ok: boolean; [k: string]: any }[];
    const at = (name: string) => steps.find((s) => s.step === name)!;

    expect(at('create-deployment')).toMatchObject({
      ok: true,
      kind: 'Deployment',
      apiVersion: 'apps/v1',
      generation: 1,
      envFrom: 'payments',
    });
    expect(at('create-statefulset')).toMatchObject({ ok: true, kind: 'StatefulSet', apiVersion: 'apps/v1' });
    expect(at('create-invalid')).toMatchObject({ ok: false, code: 422, reason: 'Invalid' });
    expect(at('list-deployments')).toMatchObject({ names: ['api', 'web', 'worker'], pages: 2 });
    expect(at('list-statefulsets')).toMatchObject({ kind: 'StatefulSetList', apiVersion: 'apps/v1', names: ['db'] });

    // A merge patch of one annotation changes the template (a new generation: the rollout) and keeps the containers.
    expect(at('merge-patch')).toMatchObject({
      ok: true,
      generation: 2,
      annotations: { 'secret.rotor.dev/payments': 'k1:one' },
      containers: ['app'],
      envFrom: 'payments',
    });
    // The same patch again is no change: same resourceVersion and generation, so no new rollout.
    expect(at('merge-patch-again')).toMatchObject({ ok: true, generation: 2, resourceVersion: at('merge-patch').resourceVersion });
    expect(at('strategic-patch-statefulset')).toMatchObject({
      ok: true,
      generation: 2,
      annotations: { 'secret.rotor.dev/payments': 'k1:two' },
    });
    expect(at('read-deployment')).toMatchObject({ ok: true, annotations: { 'secret.rotor.dev/payments': 'k1:one' } });
    expect(at('patch-missing')).toMatchObject({ ok: false, code: 404, reason: 'NotFound' });

    expect(kube.deployment('apps', 'web')?.spec).toMatchObject({
      template: { metadata: { annotations: { 'secret.rotor.dev/payments': 'k1:one' } } },
    });
    const patches = kube.requests.filter((r) => r.method === 'PATCH').map((r) => r.path);
    expect(patches).toContain('/apis/apps/v1/namespaces/apps/deployments/web');
    expect(patches).toContain('/apis/apps/v1/namespaces/apps/statefulsets/db');
  }, 30_000);
});

describe('fake kube-apiserver run on its own', () => {
  it('prints its URL, writes a kubeconfig and serves until SIGTERM', async () => {
    const kubeconfig = join(mkdtempSync(join(tmpdir(), 'rotor-fake-kube-')), 'nested', 'kubeconfig');
    const child = spawn(
      process.execPath,
      [
        '-r',
        '@swc-node/register',
        join(ROOT, 'tools', 'fake-kube-api', 'main.ts'),
        '--port',
        '0',
        '--kubeconfig-out',
        kubeconfig,
        '--seed-secrets',
        '20',
      ],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (out.includes('\n')) resolve(out.split('\n')[0]!);
        });
        child.once('exit', (code) => reject(new Error(`exited with ${code}`)));
      });
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const list: any = await (await fetch(`${url}/api/v1/secrets?limit=5`)).json();
      expect(list).toMatchObject({ kind: 'SecretList', metadata: { remainingItemCount: 15 } });
      expect(list.items).toHaveLength(5);
      expect(readFileSync(kubeconfig, 'utf8')).toContain(`server: "${url}"`);
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
  }, 30_000);
});
