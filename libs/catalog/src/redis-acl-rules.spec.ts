import { CatalogError, parseCatalog } from './index';

const catalogWith = (rules: string[]) => `
roles:
  - name: cache-rw
    owner: team-cache
    backend:
      kind: redis-acl
      rules:
${rules.map((rule) => `        - "${rule}"`).join('\n')}
    bindings: [{ namespace: shop, serviceAccount: cart }]
    ttl: 15m
    maxTtl: 1h
`;

const problemsOf = (text: string): string[] => {
  try {
    parseCatalog(text);
  } catch (error) {
    if (error instanceof CatalogError) return error.problems;
    throw error;
  }
  return [];
};

describe('catalog: redis-acl rules a lease may get', () => {
  it.each([
    '+@all',
    '+@ALL',
    'allcommands',
    '+@admin',
    '+@dangerous',
    '+acl',
    '+acl|setuser',
    '+config',
    '+config|set',
    '+module',
    '+debug',
    '+flushall',
    '+shutdown',
    '+client|kill',
  ])('refuses %s, naming the line, the field and the role', (rule) => {
    expect(problemsOf(catalogWith(['+get', rule]))).toEqual([
      expect.stringMatching(
        new RegExp(`^line 9: roles\\[0\\]\\.backend\\.rules\\[1\\]: role cache-rw: grants (an |every )?(admin or dangerous )?command`),
      ),
    ]);
  });

  it.each(['allkeys', '~*', '%RW~*', '%R~*', '%W~*', '~?*', '~[a-z]*'])('refuses %s: every key', (rule) => {
    expect(problemsOf(catalogWith([rule, '+get']))).toEqual([
      expect.stringMatching(/^line 8: roles\[0\]\.backend\.rules\[0\]: role cache-rw: grants every key/),
    ]);
  });

  it('accepts data commands and categories on a key prefix', () => {
    expect(
      problemsOf(catalogWith(['+get', '+set', '+@read', '+@write', '-@dangerous', '~cart:*', '%R~catalog:*', '&cart-events'])),
    ).toEqual([]);
  });
});
