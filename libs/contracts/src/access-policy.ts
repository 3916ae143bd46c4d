import { DOMAIN_TOPICS, Topics, type TopicName } from './topics';

/**
 * Who may do what on rotor's shared infrastructure: DESIGN §3's topic table and its "each
 * service owns its Redis keys" rule, made executable. scripts/security turns this one table
 * into the broker's ACLs, the Redis ACL file and docs/access-policy.md, so the three cannot
 * drift apart (a unit test renders the doc again and compares).
 */

/** Kafka and Redis principals: one per service, plus the operators' audit reader. */
export type ServicePrincipal = 'issuer' | 'revoker' | 'distributor' | 'auditor';
export type KafkaPrincipal = ServicePrincipal | 'cli-audit';

/**
 * A topic, or every topic under a prefix. The auditor's log is a prefix (`rotor.audit.`) so
 * that a second chain for a test or a migration (`rotor.audit.<name>.v1`) needs no new ACL.
 */
export type TopicPattern = { topic: TopicName } | { prefix: string };

export interface KafkaAccess {
  /** What the principal is, in one line (goes into the generated documentation). */
  role: string;
  writes: readonly TopicPattern[];
  reads: readonly TopicPattern[];
  /** Consumer groups it may join: every group id starting with this prefix. */
  groupPrefix: string;
}

const topics = (...names: TopicName[]): TopicPattern[] => names.map((topic) => ({ topic }));
const AUDIT_TOPICS: TopicPattern = { prefix: 'rotor.audit.' };

/** Everyone may dead-letter: a message any consumer cannot process must never be dropped. */
const DEAD_LETTER = topics(Topics.deadLetter);

export const KAFKA_ACCESS: Readonly<Record<KafkaPrincipal, KafkaAccess>> = {
  issuer: {
    role: 'mints leases and managed-secret versions; keeps lease state for reads and introspection',
    writes: [
      ...topics(
        Topics.leaseIssued,
        Topics.leaseRenewed,
        Topics.secretVersionCreated,
        Topics.revocationRequested,
        Topics.rotationRequested,
        Topics.access,
        Topics.breakglassUsed,
      ),
      ...DEAD_LETTER,
    ],
    reads: topics(Topics.leaseRevoked, Topics.rotationRequested),
    groupPrefix: 'rotor-issuer',
  },
  revoker: {
    role: 'the TTL clock: revokes leases, retires versions, runs emergency rotations and break-glass follow-up',
    writes: [
      ...topics(
        Topics.revocationRequested,
        Topics.leaseRevoked,
        Topics.secretVersionRetired,
        Topics.revocationFailed,
        Topics.credentialOrphanRevoked,
        Topics.rotationRequested,
        Topics.emergencyProgress,
      ),
      ...DEAD_LETTER,
    ],
    reads: topics(
      Topics.leaseIssued,
      Topics.leaseRenewed,
      Topics.revocationRequested,
      Topics.secretVersionCreated,
      Topics.deliveryCompleted,
      Topics.breakglassUsed,
    ),
    groupPrefix: 'rotor-revoker',
  },
  distributor: {
    role: 'delivers versions to targets, removes retired copies, reports drift and manual copies',
    writes: [
      ...topics(
        Topics.deliveryCompleted,
        Topics.deliveryFailed,
        Topics.deliveryRemoved,
        Topics.deliveryDriftDetected,
        Topics.access,
        Topics.copyDiscovered,
      ),
      ...DEAD_LETTER,
    ],
    reads: topics(Topics.secretVersionCreated, Topics.secretVersionRetired),
    groupPrefix: 'rotor-distributor',
  },
  auditor: {
    role: 'the only writer of the hash-chained audit log; reads every domain topic',
    writes: [AUDIT_TOPICS, ...DEAD_LETTER],
    reads: [...topics(...DOMAIN_TOPICS), AUDIT_TOPICS],
    groupPrefix: 'rotor-auditor',
  },
  'cli-audit': {
    role: 'operators replaying and tailing the audit log (`rotor audit`): read-only',
    writes: [],
    reads: [AUDIT_TOPICS],
    groupPrefix: 'rotor-cli',
  },
};

export const KAFKA_PRINCIPALS = Object.keys(KAFKA_ACCESS) as KafkaPrincipal[];

/** The named topics a service uses (what it creates if missing and waits for at start-up). */
export const topicsOf = (principal: KafkaPrincipal): TopicName[] => [
  ...new Set(
    [...KAFKA_ACCESS[principal].writes, ...KAFKA_ACCESS[principal].reads].flatMap((pattern) => ('topic' in pattern ? [pattern.topic] : [])),
  ),
];

/** Whether a topic name falls under a pattern. */
export const topicMatches = (pattern: TopicPattern, topic: string): boolean =>
  'topic' in pattern ? pattern.topic === topic : topic.startsWith(pattern.prefix);

export interface RedisAccess {
  /** Key patterns (Redis ACL `~pattern`): the service's prefix and its hash-tagged keys. */
  keys: readonly string[];
  /** Command rules in Redis ACL syntax, applied after `-@all`. */
  commands: readonly string[];
}

/**
 * What a service needs of Redis: data structures, Lua scripts, MULTI; never admin commands.
 * `CLUSTER SLOTS` and `CLUSTER INFO` are how ioredis' Cluster client learns the slot map and checks the cluster is ready (REDIS_CLUSTER_NODES).
 */
const DATA_COMMANDS = [
  '+@read',
  '+@write',
  '+@keyspace',
  '+@scripting',
  '+@transaction',
  '+@connection',
  '-@dangerous',
  '+info',
  '+time',
  '+cluster|slots',
  '+cluster|info',
];

/** Shared on purpose: the GSM quota buckets every GSM caller paces itself with (libs/nest-gsm). */
export const SHARED_REDIS_PREFIXES = { gsmQuota: 'rotor:quota:' } as const;

const ownKeys = (service: ServicePrincipal) => [`${service}:*`, `{${service}:*`];

export const REDIS_ACCESS: Readonly<Record<ServicePrincipal, RedisAccess>> = {
  issuer: { keys: [...ownKeys('issuer'), `${SHARED_REDIS_PREFIXES.gsmQuota}*`], commands: DATA_COMMANDS },
  revoker: { keys: [...ownKeys('revoker'), `${SHARED_REDIS_PREFIXES.gsmQuota}*`], commands: DATA_COMMANDS },
  distributor: { keys: [...ownKeys('distributor'), `${SHARED_REDIS_PREFIXES.gsmQuota}*`], commands: DATA_COMMANDS },
  auditor: { keys: ownKeys('auditor'), commands: DATA_COMMANDS },
};

/**
 * The redis-acl credential backend's own user (issuer mints, revoker revokes): it manages ACL
 * users and disconnects their clients, and touches no keys. In production it lives on a
 * separate Redis from the TTL clock's (ROTOR_REDIS_ACL_URL).
 */
export const REDIS_ACL_ADMIN: RedisAccess & { user: string } = {
  user: 'acl-admin',
  keys: [],
  commands: [
    '+acl|setuser',
    '+acl|deluser',
    '+acl|getuser',
    '+acl|users',
    '+client|kill',
    '+client|list',
    '+client|setname',
    '+ping',
    '+info',
    '+hello',
    '+auth',
  ],
};

/** One line of a Redis ACL file for a user whose password hash is given (never the password). */
export function redisAclLine(user: string, access: RedisAccess, passwordSha256: string): string {
  return [
    'user',
    user,
    'on',
    `#${passwordSha256}`,
    'resetkeys',
    ...access.keys.map((key) => `~${key}`),
    'resetchannels',
    '-@all',
    ...access.commands,
  ].join(' ');
}
