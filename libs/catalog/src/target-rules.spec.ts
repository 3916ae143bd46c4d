import { CatalogError, parseCatalog } from './index';

const catalogWith = (targets: string[], second: string[] = []) => `
managedSecrets:
  - name: payments-api-key
    owner: team-payments
    generator: { kind: random-bytes }
    rotationPeriod: 30d
    gracePeriod: 1h
    targets:
${targets.map((line) => `      - ${line}`).join('\n')}
  - name: orders-api-key
    owner: team-orders
    generator: { kind: random-bytes }
    rotationPeriod: 30d
    gracePeriod: 1h
    targets:
${(second.length ? second : ['{ kind: file, name: orders-agent, path: /srv/rotor/orders }']).map((line) => `      - ${line}`).join('\n')}
`;

const problemsOf = (text: string, options?: Parameters<typeof parseCatalog>[2]): string[] => {
  try {
    parseCatalog(text, 'catalog', options);
  } catch (error) {
    if (error instanceof CatalogError) return error.problems;
    throw error;
  }
  return [];
};

describe('catalog: webhook target keys', () => {
  const billing = '{ kind: webhook, name: billing, url: "https://billing.example/rotor", signingKeyEnv: ROTOR_WEBHOOK_KEY_BILLING }';

  it('refuses two receivers sharing one key variable, naming both targets and the line', () => {
    const ledger = '{ kind: webhook, name: ledger, url: "https://ledger.example/rotor", signingKeyEnv: ROTOR_WEBHOOK_KEY_BILLING }';
    expect(problemsOf(catalogWith([billing], [ledger]))).toEqual([
      'line 16: managedSecrets[1].targets[0].signingKeyEnv: webhook targets payments-api-key/billing (https://billing.example/rotor) ' +
        'and orders-api-key/ledger (https://ledger.example/rotor) share ROTOR_WEBHOOK_KEY_BILLING: each receiver needs a key of its own',
    ]);
  });

  it('lets targets that name the same receiver share its key', () => {
    const again =
      '{ kind: webhook, name: billing, url: "https://billing.example/rotor?secret=orders", signingKeyEnv: ROTOR_WEBHOOK_KEY_BILLING }';
    expect(problemsOf(catalogWith([billing], [again]))).toEqual([]);
  });

  it('has no shared default key: a webhook target names its own ROTOR_WEBHOOK_KEY_<RECEIVER>', () => {
    expect(problemsOf(catalogWith(['{ kind: webhook, name: billing, url: "https://billing.example/rotor" }']))).toEqual([
      expect.stringMatching(/^line 9: managedSecrets\[0\]\.targets\[0\]\.signingKeyEnv: /),
    ]);
    for (const variable of ['ROTOR_WEBHOOK_KEY', 'ROTOR_CONTENT_HASH_KEY', 'DATABASE_URL', 'ROTOR_WEBHOOK_KEY_BILLING_FILE']) {
      const target = `{ kind: webhook, name: billing, url: "https://billing.example/rotor", signingKeyEnv: ${variable} }`;
      expect(problemsOf(catalogWith([target]))).toEqual([expect.stringContaining('must be ROTOR_WEBHOOK_KEY_<RECEIVER>')]);
    }
  });
});

describe('catalog: file target paths', () => {
  const file = (path: string) => `{ kind: file, name: agent, path: "${path}" }`;

  it('refuses .., relative and non-normalised paths, naming the line', () => {
    expect(problemsOf(catalogWith([file('/srv/rotor/../etc/cron.d')]))).toEqual([
      'line 9: managedSecrets[0].targets[0].path: must not contain ..',
    ]);
    expect(problemsOf(catalogWith([file('srv/rotor/app')]))).toEqual([expect.stringContaining('must be an absolute path')]);
    for (const path of ['/srv/rotor//app', '/srv/rotor/./app', '/srv/rotor/app/', '/']) {
      expect(problemsOf(catalogWith([file(path)]))).toEqual([expect.stringContaining('must be a normalised directory path')]);
    }
  });

  it('refuses, when roots are given, a path outside every root (or a root itself)', () => {
    const roots = { fileTargetRoots: ['/srv/rotor', '/var/run/rotor'] };
    expect(problemsOf(catalogWith([file('/srv/rotor/payments')]), roots)).toEqual([]);
    expect(problemsOf(catalogWith([file('/srv/rotor-evil/payments')]), roots)).toEqual([
      'line 9: managedSecrets[0].targets[0].path: is outside the file target roots (/srv/rotor, /var/run/rotor)',
    ]);
    expect(problemsOf(catalogWith([file('/srv/rotor')]), roots)).toEqual([expect.stringContaining('is outside the file target roots')]);
    expect(problemsOf(catalogWith([file('/srv/rotor/payments')]), { fileTargetRoots: [] })).toEqual([
      expect.stringContaining('none: set ROTOR_FILE_TARGET_ROOTS'),
      expect.stringContaining('managedSecrets[1].targets[0].path'),
    ]);
  });
});
