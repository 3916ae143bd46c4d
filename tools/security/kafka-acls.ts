import { AclOperationTypes, AclPermissionTypes, AclResourceTypes, ResourcePatternTypes, type AclEntry, type Admin } from 'kafkajs';

import { KAFKA_ACCESS, KAFKA_PRINCIPALS, type KafkaPrincipal, type TopicPattern } from '@rotor/contracts';
import { KafkaNamespace } from '@rotor/kafka';

/** One ACL binding in kafkajs' shape, for one of rotor's principals. */
export type RotorAcl = Required<
  Pick<AclEntry, 'resourceType' | 'resourceName' | 'resourcePatternType' | 'principal' | 'host' | 'operation' | 'permissionType'>
>;

const allow = (
  principal: KafkaPrincipal,
  resourceType: AclResourceTypes,
  pattern: { name: string; prefixed: boolean },
  operation: AclOperationTypes,
): RotorAcl => ({
  resourceType,
  resourceName: pattern.name,
  resourcePatternType: pattern.prefixed ? ResourcePatternTypes.PREFIXED : ResourcePatternTypes.LITERAL,
  principal: `User:${principal}`,
  host: '*',
  operation,
  permissionType: AclPermissionTypes.ALLOW,
});

/** A table entry as a broker resource in a namespace (see libs/kafka's kafka-namespace.ts): its names prefixed. */
const topicResource = (pattern: TopicPattern, namespace: KafkaNamespace) =>
  'topic' in pattern
    ? { name: namespace.physical(pattern.topic), prefixed: false }
    : { name: namespace.physical(pattern.prefix), prefixed: true };

/**
 * The broker ACLs for the access table: WRITE, CREATE and DESCRIBE_CONFIGS on what a principal writes, READ on
 * what it reads, READ and DELETE on its own consumer groups (throw-away readers delete theirs); the same
 * table again in each namespace, so a principal has in every namespace exactly the rights it has at the root.
 */
export function desiredAcls(namespaces: readonly KafkaNamespace[] = [new KafkaNamespace('')]): RotorAcl[] {
  return namespaces.flatMap((namespace) => aclsIn(namespace));
}

function aclsIn(namespace: KafkaNamespace): RotorAcl[] {
  const topicResourceOf = (pattern: TopicPattern) => topicResource(pattern, namespace);
  return KAFKA_PRINCIPALS.flatMap((principal) => {
    const access = KAFKA_ACCESS[principal];
    const group = { name: namespace.physical(access.groupPrefix), prefixed: true };
    return [
      ...access.writes.flatMap((pattern) => [
        allow(principal, AclResourceTypes.TOPIC, topicResourceOf(pattern), AclOperationTypes.WRITE),
        allow(principal, AclResourceTypes.TOPIC, topicResourceOf(pattern), AclOperationTypes.CREATE),
        // To check at start-up that its topics keep their records; changing them stays admin's.
        allow(principal, AclResourceTypes.TOPIC, topicResourceOf(pattern), AclOperationTypes.DESCRIBE_CONFIGS),
      ]),
      ...access.reads.map((pattern) => allow(principal, AclResourceTypes.TOPIC, topicResourceOf(pattern), AclOperationTypes.READ)),
      ...(access.reads.length
        ? [
            allow(principal, AclResourceTypes.GROUP, group, AclOperationTypes.READ),
            allow(principal, AclResourceTypes.GROUP, group, AclOperationTypes.DELETE),
          ]
        : []),
    ];
  });
}

const aclKey = (acl: RotorAcl) =>
  [acl.principal, acl.resourceType, acl.resourcePatternType, acl.resourceName, acl.operation, acl.permissionType, acl.host].join('|');

/**
 * Makes the broker's ACLs for rotor's principals exactly the table's: missing bindings are
 * created, bindings the table no longer lists are deleted (a privilege removed from the table
 * is removed from the broker). Bindings of other principals are left alone.
 */
export async function applyAcls(
  admin: Admin,
  namespaces?: readonly KafkaNamespace[],
): Promise<{ created: number; deleted: number; total: number }> {
  const desired = new Map(desiredAcls(namespaces).map((acl) => [aclKey(acl), acl]));
  const existing: RotorAcl[] = [];
  for (const principal of KAFKA_PRINCIPALS) {
    const described = await admin.describeAcls({
      resourceType: AclResourceTypes.ANY,
      resourcePatternType: ResourcePatternTypes.ANY,
      principal: `User:${principal}`,
      operation: AclOperationTypes.ANY,
      permissionType: AclPermissionTypes.ANY,
    });
    for (const resource of described.resources) {
      for (const acl of resource.acls) {
        existing.push({
          resourceType: resource.resourceType,
          resourceName: resource.resourceName,
          resourcePatternType: resource.resourcePatternType,
          principal: acl.principal,
          host: acl.host,
          operation: acl.operation,
          permissionType: acl.permissionType,
        });
      }
    }
  }
  const existingKeys = new Set(existing.map(aclKey));
  const toCreate = [...desired.values()].filter((acl) => !existingKeys.has(aclKey(acl)));
  const toDelete = existing.filter((acl) => !desired.has(aclKey(acl)));
  if (toCreate.length) await admin.createAcls({ acl: toCreate });
  if (toDelete.length) await admin.deleteAcls({ filters: toDelete });
  return { created: toCreate.length, deleted: toDelete.length, total: desired.size };
}
