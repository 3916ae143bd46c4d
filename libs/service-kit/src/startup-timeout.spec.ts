import { startupTimeout } from './bootstrap';

describe('ROTOR_STARTUP_TIMEOUT_MS', () => {
  it('is 90 s unless set', () => {
    expect(startupTimeout(undefined)).toBe(90_000);
    expect(startupTimeout('')).toBe(90_000);
    expect(startupTimeout('30000')).toBe(30_000);
  });

  it('names the variable when the value is not a whole number of milliseconds of at least a second', () => {
    for (const bad of ['90s', '500', '1.5e3x', '-1']) {
      expect(() => startupTimeout(bad)).toThrow('ROTOR_STARTUP_TIMEOUT_MS: must be a whole number of milliseconds, at least 1000');
    }
  });
});
