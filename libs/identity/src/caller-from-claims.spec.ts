import { DomainError } from '@rotor/errors';

import { operatorFrom, parseGroupMap, workloadFrom } from './caller-from-claims';

const refusal = (fn: () => unknown): DomainError => {
  try {
    fn();
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
};

describe('workloadFrom (the cluster issuer)', () => {
  it('refuses a subject that is not a string as unauthenticated, never as a crash', () => {
    for (const sub of [[], {}, 42, null, true]) expect(refusal(() => workloadFrom({ sub } as never)).kind).toBe('unauthenticated');
  });

  it('reads a service-account subject as the workload, with its pod', () => {
    expect(
      workloadFrom({ sub: 'system:serviceaccount:demo:api', 'kubernetes.io': { namespace: 'demo', pod: { name: 'api-1', uid: 'u1' } } }),
    ).toEqual({
      kind: 'workload',
      subject: 'system:serviceaccount:demo:api',
      workload: { namespace: 'demo', serviceAccount: 'api', podName: 'api-1', podUid: 'u1' },
    });
  });

  it('never makes an operator of a cluster token, whatever groups it claims', () => {
    expect(refusal(() => workloadFrom({ sub: 'sre@example.com', groups: ['rotor:sre'] }))).toMatchObject({
      kind: 'unauthenticated',
      code: 'unknown-subject',
    });
    expect(workloadFrom({ sub: 'system:serviceaccount:demo:api', groups: ['rotor:sre'] }).kind).toBe('workload');
  });

  it("refuses a token whose kubernetes.io namespace is not its subject's", () => {
    expect(refusal(() => workloadFrom({ sub: 'system:serviceaccount:demo:api', 'kubernetes.io': { namespace: 'other' } })).kind).toBe(
      'unauthenticated',
    );
  });
});

describe('operatorFrom (the operator issuer)', () => {
  const rules = { groupsClaim: 'groups' };

  it("takes rotor's own groups as they are when no map is configured, and nothing else", () => {
    expect(operatorFrom({ sub: 'ana@example.com', groups: ['rotor:sre', 'rotor:owner', 'staff'] }, rules)).toEqual({
      kind: 'operator',
      subject: 'ana@example.com',
      groups: ['rotor:sre'],
    });
  });

  it('maps IdP groups to rotor groups, one IdP group to several', () => {
    const groupMap = parseGroupMap('platform-sre=rotor:sre, security=rotor:auditor,security=rotor:introspect');
    expect(operatorFrom({ sub: 'bo', groups: ['security', 'rotor:sre', 'staff'] }, { ...rules, groupMap }).groups).toEqual([
      'rotor:auditor',
      'rotor:introspect',
    ]);
  });

  it('reads the groups claim by name or dotted path, one string or a list', () => {
    expect(operatorFrom({ sub: 'c', 'https://corp/groups': 'rotor:auditor' }, { groupsClaim: 'https://corp/groups' }).groups).toEqual([
      'rotor:auditor',
    ]);
    expect(operatorFrom({ sub: 'c', realm_access: { roles: ['rotor:sre', 7] } }, { groupsClaim: 'realm_access.roles' }).groups).toEqual([
      'rotor:sre',
    ]);
  });

  it('signs in a person with no rotor group (every operator route then answers 403)', () => {
    expect(operatorFrom({ sub: 'd', groups: 'staff' }, rules).groups).toEqual([]);
    expect(operatorFrom({ sub: 'd' }, rules).groups).toEqual([]);
  });

  it('refuses a Kubernetes identity from the operator issuer, and a token without a subject', () => {
    expect(refusal(() => operatorFrom({ sub: 'system:serviceaccount:demo:api', groups: ['rotor:sre'] }, rules)).code).toBe(
      'not-an-operator-token',
    );
    expect(refusal(() => operatorFrom({ sub: 'x', 'kubernetes.io': {}, groups: ['rotor:sre'] }, rules)).code).toBe('not-an-operator-token');
    expect(refusal(() => operatorFrom({ groups: ['rotor:sre'] }, rules)).code).toBe('unknown-subject');
  });
});

describe('parseGroupMap', () => {
  it('refuses a pair without a group on either side, and a group rotor does not have', () => {
    expect(() => parseGroupMap('=rotor:sre')).toThrow(/not idp-group=rotor:group/);
    expect(() => parseGroupMap('admins')).toThrow(/not idp-group=rotor:group/);
    expect(() => parseGroupMap('admins=rotor:root')).toThrow(/not a rotor group/);
    expect(parseGroupMap('')).toEqual(new Map());
  });
});
