import { classifyDrift } from './classify-drift';

const expected = { version: 3, contentHash: 'h3' };
const present = (over: Partial<{ version: number; recordedHash: string; actualHash: string; managedByRotor: boolean }> = {}) => ({
  kind: 'present' as const,
  locator: 'k8s:ns/secrets/s#value',
  version: 3,
  recordedHash: 'h3',
  actualHash: 'h3',
  managedByRotor: true,
  ...over,
});
const notRetired = () => false;

describe('classifyDrift', () => {
  it('finds nothing when the target holds exactly what was delivered', () => {
    expect(classifyDrift(expected, present(), notRetired)).toBeUndefined();
  });

  it('calls content changed by hand "edited", whether or not the annotation was changed too', () => {
    expect(classifyDrift(expected, present({ actualHash: 'other' }), notRetired)).toBe('edited');
    expect(classifyDrift(expected, present({ actualHash: 'other', recordedHash: 'other' }), notRetired)).toBe('edited');
  });

  it('calls an older version put back by hand "edited"', () => {
    expect(classifyDrift(expected, present({ version: 2 }), notRetired)).toBe('edited');
  });

  it('reports a retired version still in place before anything else', () => {
    expect(classifyDrift(expected, present({ version: 2, actualHash: 'h2' }), (v) => v === 2)).toBe('retired-version');
  });

  it('reports a delivered copy deleted by hand as missing, and an undelivered empty target as nothing', () => {
    expect(classifyDrift(expected, { kind: 'missing', locator: 'x' }, notRetired)).toBe('missing');
    expect(classifyDrift(undefined, { kind: 'missing', locator: 'x' }, notRetired)).toBeUndefined();
  });

  it('reports rotor-labelled content rotor has no record of as unaccounted', () => {
    expect(classifyDrift(undefined, present(), notRetired)).toBe('unaccounted');
  });

  it('never calls content rotor does not own drift', () => {
    expect(classifyDrift(expected, present({ managedByRotor: false, actualHash: 'x' }), notRetired)).toBeUndefined();
  });
});
