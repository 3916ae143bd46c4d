import { classifyDependencyFailure } from './dependency-failure';

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('classifyDependencyFailure', () => {
  it.each([
    [
      new Error('SASL SCRAM SHA512 authentication failed: Authentication failed during authentication due to invalid credentials'),
      'authentication',
    ],
    [new Error('WRONGPASS invalid username-password pair or user is disabled.'), 'authentication'],
    [new Error('Not authorized to access topics: [Topic authorization failed]'), 'authorization'],
    [withCode('unable to verify the first certificate', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'), 'tls'],
    [withCode('certificate has expired', 'CERT_HAS_EXPIRED'), 'tls'],
    [new Error('no answer within 2000 ms'), 'timeout'],
    [withCode('connect ECONNREFUSED 127.0.0.1:9092', 'ECONNREFUSED'), 'unreachable'],
    [new Error('something odd'), 'unavailable'],
  ])('%s → %s', (error, expected) => {
    expect(classifyDependencyFailure(error)).toBe(expected);
  });

  it('looks through a wrapped cause', () => {
    expect(classifyDependencyFailure(new Error('Connection error', { cause: new Error('SASL authentication failed') }))).toBe(
      'authentication',
    );
  });
});
