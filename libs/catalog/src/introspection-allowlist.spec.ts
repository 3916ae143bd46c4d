import { CatalogError, parseCatalog } from './index';

const problemsOf = (text: string): string[] => {
  try {
    parseCatalog(text);
  } catch (error) {
    if (error instanceof CatalogError) return error.problems;
    throw error;
  }
  throw new Error('expected the catalog to be rejected');
};

describe('catalog introspection allowlist', () => {
  it('allows nobody by default', () => {
    expect(parseCatalog('roles: []\n').introspection).toEqual({ allowed: [] });
  });

  it('reads resource servers by exact namespace and service account', () => {
    const catalog = parseCatalog('introspection:\n  allowed:\n    - { namespace: shop, serviceAccount: api.gateway }\n');
    expect(catalog.introspection.allowed).toEqual([{ namespace: 'shop', serviceAccount: 'api.gateway' }]);
  });

  it('refuses globs, naming the line and field: each resource server is a deliberate grant', () => {
    expect(problemsOf('introspection:\n  allowed:\n    - { namespace: "*", serviceAccount: "*" }\n')).toEqual([
      expect.stringMatching(/^line 3: introspection\.allowed\[0\]\.namespace: must be a DNS-1123 label/),
      expect.stringMatching(/^line 3: introspection\.allowed\[0\]\.serviceAccount: must be a Kubernetes service account name/),
    ]);
  });
});
