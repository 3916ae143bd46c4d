import { LabelSelectorError, matchesLabelSelector, parseLabelSelector } from './label-selector';

const matches = (selector: string, labels?: Record<string, string>) => matchesLabelSelector(parseLabelSelector(selector), labels);

describe('label selector', () => {
  const rotor = { 'app.kubernetes.io/managed-by': 'rotor', 'rotor.dev/secret': 'payments-api-key', tier: 'backend' };

  it('parses every operator into requirements', () => {
    expect(parseLabelSelector('a=1,b==2,c!=3,d,!e,f in (x, y),g notin (z)')).toEqual([
      { key: 'a', operator: 'in', values: ['1'] },
      { key: 'b', operator: 'in', values: ['2'] },
      { key: 'c', operator: 'notin', values: ['3'] },
      { key: 'd', operator: 'exists' },
      { key: 'e', operator: 'does-not-exist' },
      { key: 'f', operator: 'in', values: ['x', 'y'] },
      { key: 'g', operator: 'notin', values: ['z'] },
    ]);
  });

  it('matches everything when empty or absent', () => {
    expect(parseLabelSelector('')).toEqual([]);
    expect(parseLabelSelector(undefined)).toEqual([]);
    expect(matches('', undefined)).toBe(true);
  });

  it('matches equality and inequality on prefixed keys', () => {
    expect(matches('app.kubernetes.io/managed-by=rotor', rotor)).toBe(true);
    expect(matches('app.kubernetes.io/managed-by=helm', rotor)).toBe(false);
    expect(matches('app.kubernetes.io/managed-by!=helm', rotor)).toBe(true);
    expect(matches('app.kubernetes.io/managed-by!=rotor', rotor)).toBe(false);
  });

  it('lets != and notin match objects that lack the label, as Kubernetes does', () => {
    expect(matches('tier!=frontend', {})).toBe(true);
    expect(matches('tier notin (frontend)', undefined)).toBe(true);
    expect(matches('tier in (frontend,backend)', {})).toBe(false);
  });

  it('checks existence and absence', () => {
    expect(matches('rotor.dev/secret', rotor)).toBe(true);
    expect(matches('!rotor.dev/secret', rotor)).toBe(false);
    expect(matches('!rotor.dev/version', rotor)).toBe(true);
  });

  it('requires every comma-joined requirement', () => {
    expect(matches('app.kubernetes.io/managed-by=rotor,tier in (backend, batch),!legacy', rotor)).toBe(true);
    expect(matches('app.kubernetes.io/managed-by=rotor,tier in (frontend)', rotor)).toBe(false);
  });

  it('matches an empty value only for a label set to the empty string', () => {
    expect(matches('tier=', { tier: '' })).toBe(true);
    expect(matches('tier=', {})).toBe(false);
  });

  it.each(['a in (x', 'a in ()', 'a,,b', 'a=b=c', 'bad key=1', 'a=has space', '-a=1', 'a=' + 'x'.repeat(64)])(
    'refuses the malformed selector %p',
    (selector) => {
      expect(() => parseLabelSelector(selector)).toThrow(LabelSelectorError);
    },
  );
});
