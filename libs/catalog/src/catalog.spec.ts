import { bindingMatches, CatalogError, parseCatalog, parseDuration } from './index';

const VALID = `
roles:
  - name: orders-token
    owner: team-orders
    backend: { kind: opaque-token }
    bindings:
      - { namespace: shop, serviceAccount: orders }
      - { namespace: "batch-*", serviceAccount: "*" }
    ttl: 15m
    maxTtl: 1h
managedSecrets:
  - name: payments-api-key
    owner: team-payments
    generator: { kind: random-bytes }
    rotationPeriod: 30d
    gracePeriod: 1h
`;

const problemsOf = (text: string): string[] => {
  try {
    parseCatalog(text);
  } catch (error) {
    if (error instanceof CatalogError) return error.problems;
    throw error;
  }
  throw new Error('expected the catalog to be rejected');
};

describe('catalog', () => {
  it('parses roles and managed secrets with durations in milliseconds and default quotas', () => {
    const catalog = parseCatalog(VALID);
    expect(catalog.roles[0]).toMatchObject({ name: 'orders-token', ttl: 900_000, maxTtl: 3_600_000, quota: { perWorkload: 50 } });
    expect(catalog.managedSecrets[0]).toMatchObject({ rotationPeriod: 30 * 86_400_000, targets: [], copies: 'report' });
  });

  it('names the line and field of a bad value', () => {
    expect(problemsOf(VALID.replace('ttl: 15m', 'ttl: soon'))).toEqual([
      'line 9: roles[0].ttl: must be a duration such as 90s, 15m, 1h or 7d',
    ]);
  });

  it('names the parent line of a missing field', () => {
    expect(problemsOf(VALID.replace('    owner: team-orders\n', ''))).toEqual([expect.stringMatching(/^line 3: roles\[0\]\.owner: /)]);
  });

  it('refuses a maxTtl shorter than the ttl', () => {
    expect(problemsOf(VALID.replace('maxTtl: 1h', 'maxTtl: 1m'))).toEqual(['line 10: roles[0].maxTtl: must not be shorter than ttl']);
  });

  it('refuses duplicate role names', () => {
    const twice = VALID.replace('managedSecrets:', VALID.split('managedSecrets:')[0]!.replace('roles:\n', '') + 'managedSecrets:');
    expect(problemsOf(twice)).toEqual([expect.stringContaining('duplicate role name orders-token')]);
  });

  it('reports YAML syntax errors with their line', () => {
    expect(problemsOf('roles:\n  - name: [unclosed\n')).toEqual([expect.stringMatching(/^line \d+: /)]);
  });

  it('matches bindings by exact name and by glob', () => {
    const [exact, glob] = parseCatalog(VALID).roles[0]!.bindings;
    expect(bindingMatches(exact!, { namespace: 'shop', serviceAccount: 'orders' })).toBe(true);
    expect(bindingMatches(exact!, { namespace: 'shop', serviceAccount: 'orders2' })).toBe(false);
    expect(bindingMatches(glob!, { namespace: 'batch-nightly', serviceAccount: 'any' })).toBe(true);
    expect(bindingMatches(glob!, { namespace: 'batch', serviceAccount: 'any' })).toBe(false);
  });

  it('parses compound durations and rejects nonsense', () => {
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('2s')).toBe(2_000);
    expect(parseDuration('10')).toBeUndefined();
    expect(parseDuration('0s')).toBeUndefined();
  });
});

describe('kubernetes-secret rollout (opt-in)', () => {
  const withTarget = (extra: string) =>
    `${VALID}    targets:\n      - { kind: kubernetes-secret, name: cluster, namespace: shop, secretName: payments${extra} }\n`;
  const rolloutOf = (extra: string) => {
    const target = parseCatalog(withTarget(extra)).managedSecrets[0]!.targets[0]!;
    return target.kind === 'kubernetes-secret' ? target.rollout : 'not a kubernetes-secret target';
  };

  it('is off unless the target asks for it', () => {
    expect(rolloutOf('')).toBeUndefined();
    expect(rolloutOf(', rollout: false')).toBeUndefined();
  });

  it('covers Deployments and StatefulSets with rollout: true or an empty object, or the kinds listed', () => {
    expect(rolloutOf(', rollout: true')).toEqual({ kinds: ['Deployment', 'StatefulSet'] });
    expect(rolloutOf(', rollout: {}')).toEqual({ kinds: ['Deployment', 'StatefulSet'] });
    expect(rolloutOf(', rollout: { kinds: [Deployment] }')).toEqual({ kinds: ['Deployment'] });
  });

  it('refuses other kinds, an empty or repeated list and unknown fields', () => {
    expect(problemsOf(withTarget(', rollout: { kinds: [DaemonSet] }'))).toEqual([expect.stringContaining('targets[0].rollout')]);
    expect(problemsOf(withTarget(', rollout: { kinds: [] }'))).toEqual([expect.stringContaining('targets[0].rollout')]);
    expect(problemsOf(withTarget(', rollout: { kinds: [Deployment, Deployment] }'))).toEqual([
      expect.stringContaining('must not repeat a kind'),
    ]);
    expect(problemsOf(withTarget(', rollout: { kind: Deployment }'))).toEqual([expect.stringContaining('targets[0].rollout')]);
    expect(problemsOf(withTarget(', rollout: "yes"'))).toEqual([expect.stringContaining('targets[0].rollout')]);
  });
});
