import { DomainError } from '@rotor/errors';

import { callerFrom } from './caller-from-claims';

describe('callerFrom', () => {
  it('refuses a subject that is not a string as unauthenticated, never as a crash', () => {
    for (const sub of [[], {}, 42, null, true]) {
      let thrown: unknown;
      try {
        callerFrom({ sub } as never);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(DomainError);
      expect((thrown as DomainError).kind).toBe('unauthenticated');
    }
  });

  it('still reads a service-account subject as the workload', () => {
    expect(callerFrom({ sub: 'system:serviceaccount:demo:api' })).toMatchObject({
      kind: 'workload',
      workload: { namespace: 'demo', serviceAccount: 'api' },
    });
  });
});
