/**
 * Every Kafka topic rotor uses, in one place: `rotor.<entity>.<action>.v<N>`.
 * A breaking change to an event is a new topic version, never an edit of an old one.
 */
export const Topics = {
  leaseIssued: 'rotor.lease.issued.v1',
  leaseRenewed: 'rotor.lease.renewed.v1',
  secretVersionCreated: 'rotor.secret.version-created.v1',
  deliveryCompleted: 'rotor.delivery.completed.v1',
  deliveryFailed: 'rotor.delivery.failed.v1',
  deliveryRemoved: 'rotor.delivery.removed.v1',
  deliveryDriftDetected: 'rotor.delivery.drift-detected.v1',
  revocationRequested: 'rotor.revocation.requested.v1',
  leaseRevoked: 'rotor.lease.revoked.v1',
  secretVersionRetired: 'rotor.secret.version-retired.v1',
  revocationFailed: 'rotor.revocation.failed.v1',
  credentialOrphanRevoked: 'rotor.credential.orphan-revoked.v1',
  rotationRequested: 'rotor.rotation.requested.v1',
  emergencyProgress: 'rotor.emergency.progress.v1',
  access: 'rotor.access.v1',
  breakglassUsed: 'rotor.breakglass.used.v1',
  copyDiscovered: 'rotor.copy.discovered.v1',
  auditLog: 'rotor.audit.log.v1',
  deadLetter: 'rotor.dlq.v1',
} as const;

export type TopicName = (typeof Topics)[keyof typeof Topics];

export const ALL_TOPICS: readonly TopicName[] = Object.values(Topics);

/** Topics that carry domain events (everything the auditor chains), i.e. all but its own log and the DLQ. */
export const DOMAIN_TOPICS: readonly TopicName[] = ALL_TOPICS.filter((topic) => topic !== Topics.auditLog && topic !== Topics.deadLetter);

/**
 * An installation's Kafka namespace (ROTOR_KAFKA_NAMESPACE): a prefix of every topic and consumer
 * group, such as `staging.`, so that installations (or parallel test workers) can share a cluster;
 * empty for none. libs/kafka maps names at the connection; ACLs are granted per namespace.
 */
export const KAFKA_NAMESPACE_PATTERN = /^(?:[a-z0-9][a-z0-9-]{0,30}\.)?$/;
