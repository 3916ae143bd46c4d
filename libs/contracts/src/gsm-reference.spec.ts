import { checkGsmVersionName, gsmVersionName } from './gsm-reference';

const expected = { project: 'rotor-prod', secret: 'pay-key', version: 7 };

describe('GSM version references from events', () => {
  it('accepts the secret version in the configured project and returns the name rebuilt from the trusted parts', () => {
    expect(checkGsmVersionName('projects/rotor-prod/secrets/pay-key/versions/7', expected)).toEqual({
      ok: true,
      name: gsmVersionName(expected),
    });
  });

  it.each([
    ['projects/attacker/secrets/pay-key/versions/7', 'foreign-project'],
    ['projects/rotor-prod/secrets/other-key/versions/7', 'secret-mismatch'],
    ['projects/rotor-prod/secrets/pay-key/versions/6', 'version-mismatch'],
    ['projects/rotor-prod/secrets/pay-key/versions/latest', 'malformed-name'],
    ['projects/rotor-prod/secrets/pay-key/versions/7/extra', 'malformed-name'],
    ['projects/rotor-prod/secrets/../versions/7', 'secret-mismatch'],
  ])('refuses %s as %s', (name, reason) => {
    expect(checkGsmVersionName(name, expected)).toEqual({ ok: false, reason });
  });
});
