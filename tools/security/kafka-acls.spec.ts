import { AclOperationTypes } from 'kafkajs';

import { KafkaNamespace } from '@rotor/kafka';

import { desiredAcls } from './kafka-acls';

describe('desiredAcls in namespaces', () => {
  it('grants each principal in every namespace exactly what it has at the root, under the prefixed names', () => {
    const root = desiredAcls();
    const both = desiredAcls([new KafkaNamespace(''), new KafkaNamespace('test1.')]);
    expect(both).toHaveLength(root.length * 2);
    const inTest = both.filter((acl) => acl.resourceName.startsWith('test1.'));
    expect(inTest.map((acl) => ({ ...acl, resourceName: acl.resourceName.slice('test1.'.length) }))).toEqual(root);
  });

  it('keeps literal topics literal: the issuer may write test1.rotor.lease.issued.v1, not the revoker', () => {
    const acls = desiredAcls([new KafkaNamespace('test1.')]);
    const writers = acls
      .filter((acl) => acl.resourceName === 'test1.rotor.lease.issued.v1' && acl.operation === AclOperationTypes.WRITE)
      .map((acl) => acl.principal);
    expect(writers).toEqual(['User:issuer']);
    expect(acls.some((acl) => acl.resourceName === 'rotor.lease.issued.v1')).toBe(false);
  });
});
