import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { AclOperationTypes, AclResourceTypes } from 'kafkajs';

import { Topics } from '@rotor/contracts';

import { renderAccessPolicyDoc } from './access-policy-doc';
import { desiredAcls } from './kafka-acls';

describe('access policy', () => {
  it('docs/access-policy.md is the rendering of the table the ACLs come from', () => {
    expect(readFileSync(join(__dirname, '..', '..', 'docs', 'access-policy.md'), 'utf8')).toBe(renderAccessPolicyDoc());
  });

  it('only the auditor may write the audit log; the operators read it and write nothing', () => {
    const writers = desiredAcls().filter(
      (acl) =>
        acl.operation === AclOperationTypes.WRITE && (acl.resourceName === Topics.auditLog || Topics.auditLog.startsWith(acl.resourceName)),
    );
    expect([...new Set(writers.map((acl) => acl.principal))]).toEqual(['User:auditor']);
    expect(
      desiredAcls()
        .filter((acl) => acl.principal === 'User:cli-audit' && acl.resourceType === AclResourceTypes.TOPIC)
        .map((acl) => acl.operation),
    ).toEqual([AclOperationTypes.READ]);
  });

  it('every principal may dead-letter; none but the revoker may announce a revocation', () => {
    const writersOf = (topic: string) =>
      new Set(
        desiredAcls()
          .filter((acl) => acl.operation === AclOperationTypes.WRITE && acl.resourceName === topic)
          .map((acl) => acl.principal),
      );
    expect(writersOf(Topics.deadLetter)).toEqual(new Set(['User:issuer', 'User:revoker', 'User:distributor', 'User:auditor']));
    expect(writersOf(Topics.leaseRevoked)).toEqual(new Set(['User:revoker']));
  });
});
