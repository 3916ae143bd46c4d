import { KubeStatusError } from './kube-status';
import { parseLabelSelector } from './label-selector';
import { ObjectStore } from './object-store';

const statusOf = (call: () => unknown) => {
  try {
    call();
  } catch (error) {
    if (error instanceof KubeStatusError) return `${error.code} ${error.reason}`;
    throw error;
  }
  return 'ok';
};

describe('object store', () => {
  it('keeps Pods by namespace: Running once created, listed per namespace, and a pod created again under its name has a new uid', () => {
    const store = new ObjectStore();
    const first = store.create('pods', 'shop', { metadata: { name: 'orders-0' } });
    store.create('pods', 'other', { metadata: { name: 'orders-0' } });
    expect(first).toMatchObject({ kind: 'Pod', apiVersion: 'v1', status: { phase: 'Running' } });
    expect(store.list('pods', { namespace: 'shop', selector: [] }).items.map((pod) => pod.metadata.uid)).toEqual([first.metadata.uid]);
    store.delete('pods', 'shop', 'orders-0');
    expect(store.list('pods', { namespace: 'shop', selector: [] }).items).toEqual([]);
    const again = store.create('pods', 'shop', { metadata: { name: 'orders-0' } });
    expect(again.metadata.uid).not.toBe(first.metadata.uid);
  });

  it('folds stringData into base64 data and refuses data that is not base64', () => {
    const store = new ObjectStore();
    const secret = store.create('secrets', 'ns', { metadata: { name: 's' }, data: { a: 'YQ==' }, stringData: { b: 'plain' } });
    expect(secret).toMatchObject({
      kind: 'Secret',
      apiVersion: 'v1',
      type: 'Opaque',
      data: { a: 'YQ==', b: Buffer.from('plain').toString('base64') },
    });
    expect(secret).not.toHaveProperty('stringData');
    expect(statusOf(() => store.create('secrets', 'ns', { metadata: { name: 't' }, data: { a: 'not base64!' } }))).toBe('400 BadRequest');
    expect(statusOf(() => store.create('secrets', 'ns', { metadata: { name: 'Bad_Name' } }))).toBe('422 Invalid');
    expect(statusOf(() => store.create('secrets', 'ns', { metadata: { name: 'u', namespace: 'other' } }))).toBe('400 BadRequest');
  });

  it('keeps the resourceVersion of an update that changes nothing, and bumps generation only for content', () => {
    const store = new ObjectStore();
    const created = store.create('configmaps', 'ns', { metadata: { name: 'c' }, data: { k: 'v' } });
    expect(store.replace('configmaps', 'ns', 'c', { metadata: { name: 'c' }, data: { k: 'v' } }).metadata.resourceVersion).toBe(
      created.metadata.resourceVersion,
    );
    const labelled = store.patch('configmaps', 'ns', 'c', 'merge', { metadata: { labels: { a: 'b' } } });
    expect(labelled.metadata).toMatchObject({ generation: 1, resourceVersion: String(Number(created.metadata.resourceVersion) + 1) });
    expect(store.patch('configmaps', 'ns', 'c', 'merge', { data: { k: 'w' } }).metadata.generation).toBe(2);
  });

  it('deletes only when every precondition present matches, as the API server does (409 Conflict otherwise)', () => {
    const store = new ObjectStore();
    const inspected = store.create('secrets', 'ns', { metadata: { name: 's' }, stringData: { k: 'v1' } });
    const changed = store.patch('secrets', 'ns', 's', 'merge', { stringData: { k: 'v2' } });
    const attempt = (preconditions: { resourceVersion?: string | null; uid?: string | null }) =>
      statusOf(() => store.delete('secrets', 'ns', 's', preconditions));
    expect(attempt({ resourceVersion: inspected.metadata.resourceVersion })).toBe('409 Conflict');
    // Present but empty is still a precondition: the API server compares it (and nothing matches '').
    expect(attempt({ resourceVersion: '' })).toBe('409 Conflict');
    expect(attempt({ uid: '' })).toBe('409 Conflict');
    expect(attempt({ uid: 'another-uid' })).toBe('409 Conflict');
    expect(store.find('secrets', 'ns', 's')).toBeDefined();
    expect(attempt({ resourceVersion: changed.metadata.resourceVersion, uid: changed.metadata.uid })).toBe('ok');
    expect(attempt({})).toBe('404 NotFound');
    store.create('secrets', 'ns', { metadata: { name: 's' } });
    expect(attempt({ resourceVersion: null })).toBe('ok');
  });

  it('refuses to change the data of an immutable Secret', () => {
    const store = new ObjectStore();
    store.create('secrets', 'ns', { metadata: { name: 's' }, immutable: true, stringData: { a: '1' } });
    expect(statusOf(() => store.patch('secrets', 'ns', 's', 'merge', { stringData: { a: '2' } }))).toBe('422 Invalid');
    expect(statusOf(() => store.patch('secrets', 'ns', 's', 'merge', { metadata: { labels: { x: 'y' } } }))).toBe('ok');
  });

  it('lists one namespace exactly, even when another namespace name extends it', () => {
    const store = new ObjectStore();
    for (const namespace of ['a', 'a-b', 'a.b', 'ab', 'b']) store.create('secrets', namespace, { metadata: { name: 'x' } });
    const names = (namespace?: string) => store.list('secrets', { namespace, selector: [] }).items.map((item) => item.metadata.namespace);
    expect(names('a')).toEqual(['a']);
    expect(names('a-b')).toEqual(['a-b']);
    // etcd's byte order of `<namespace>/<name>`: '-' and '.' sort before '/'.
    expect(names()).toEqual(['a-b', 'a.b', 'a', 'ab', 'b']);
  });

  it('refuses a continue token it did not issue, and gives no token after the last match', () => {
    const store = new ObjectStore();
    for (const name of ['a', 'b', 'c'])
      store.create('secrets', 'ns', { metadata: { name, labels: { keep: name === 'c' ? 'no' : 'yes' } } });
    expect(statusOf(() => store.list('secrets', { selector: [], continueToken: 'garbage' }))).toBe('400 BadRequest');
    const page = store.list('secrets', { selector: parseLabelSelector('keep=yes'), limit: 2 });
    expect(page.items).toHaveLength(2);
    expect(page.continueToken).toBeUndefined();
    const first = store.list('secrets', { selector: [], limit: 2 });
    expect(
      store.list('secrets', { selector: [], limit: 2, continueToken: first.continueToken }).items.map((item) => item.metadata.name),
    ).toEqual(['c']);
  });
});

describe('object store: apps/v1 workloads', () => {
  const deployment = (extra: Record<string, unknown> = {}) => ({
    metadata: { name: 'web' },
    spec: {
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'app', image: 'app:1' }] } },
      ...extra,
    },
  });

  it('stores Deployments and StatefulSets as apps/v1, refusing a missing template, containers or a mismatched selector', () => {
    const store = new ObjectStore();
    expect(store.create('deployments', 'ns', deployment())).toMatchObject({ kind: 'Deployment', apiVersion: 'apps/v1' });
    expect(store.create('statefulsets', 'ns', deployment())).toMatchObject({ kind: 'StatefulSet', apiVersion: 'apps/v1' });
    expect(
      statusOf(() => store.create('deployments', 'ns', { metadata: { name: 'x' }, spec: { selector: { matchLabels: { a: 'b' } } } })),
    ).toBe('422 Invalid');
    expect(
      statusOf(() =>
        store.create('deployments', 'ns', {
          ...deployment(),
          metadata: { name: 'y' },
          spec: { ...deployment().spec, selector: { matchLabels: { app: 'db' } } },
        }),
      ),
    ).toBe('422 Invalid');
    expect(statusOf(() => store.create('deployments', 'ns', { kind: 'StatefulSet', ...deployment(), metadata: { name: 'z' } }))).toBe(
      '400 BadRequest',
    );
  });

  it('merges a pod-template annotation patch, keeping the containers, and bumps the generation (a rollout)', () => {
    const store = new ObjectStore();
    const created = store.create('deployments', 'ns', deployment());
    const patch = { spec: { template: { metadata: { annotations: { 'secret.rotor.dev/payments': 'k1:abc' } } } } };
    const patched = store.patch('deployments', 'ns', 'web', 'merge', patch);
    expect(patched.metadata.generation).toBe(created.metadata.generation + 1);
    expect(patched.spec).toMatchObject({
      template: {
        metadata: { labels: { app: 'web' }, annotations: { 'secret.rotor.dev/payments': 'k1:abc' } },
        spec: { containers: [{ name: 'app' }] },
      },
    });
    // The same patch again changes nothing: same resourceVersion, no new generation.
    expect(store.patch('deployments', 'ns', 'web', 'merge', patch).metadata).toMatchObject({
      resourceVersion: patched.metadata.resourceVersion,
      generation: patched.metadata.generation,
    });
    expect(
      statusOf(() => store.patch('deployments', 'ns', 'web', 'merge', { spec: { template: { metadata: { annotations: { a: 1 } } } } })),
    ).toBe('400 BadRequest');
  });
});
