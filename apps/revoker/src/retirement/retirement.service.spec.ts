import type { Retirement } from './retirement.store';
import { retirementReason } from './retirement.service';

const pending = (changes: Partial<Retirement>): Retirement => ({
  secret: 'api-key',
  version: 3,
  gsmVersion: 'projects/p/secrets/api-key/versions/3',
  newVersion: 4,
  graceEndsAt: 10_000,
  targets: 2,
  pending: ['a'],
  state: 'pending',
  ...changes,
});

describe('version retirement', () => {
  it('retires when every target confirmed, at the grace end otherwise, and at once when forced', () => {
    expect(retirementReason(pending({ pending: [] }), 0)).toBe('superseded');
    expect(retirementReason(pending({}), 9_999)).toBeUndefined();
    expect(retirementReason(pending({}), 10_000)).toBe('grace-period-ended');
    expect(retirementReason(pending({ forcedReason: 'emergency' }), 0)).toBe('emergency');
  });

  it('never retires a secret without targets early: nobody confirmed anything', () => {
    expect(retirementReason(pending({ targets: 0, pending: [] }), 9_999)).toBeUndefined();
    expect(retirementReason(pending({ targets: 0, pending: [] }), 10_000)).toBe('grace-period-ended');
  });
});
