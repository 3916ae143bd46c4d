import { KAFKA_ACCESS, KAFKA_PRINCIPALS, REDIS_ACCESS, REDIS_ACL_ADMIN, SHARED_REDIS_PREFIXES, type TopicPattern } from '@rotor/contracts';

const pattern = (p: TopicPattern) => ('topic' in p ? `\`${p.topic}\`` : `\`${p.prefix}*\``);
const list = (patterns: readonly TopicPattern[]) => (patterns.length === 0 ? '(none)' : patterns.map(pattern).join(', '));

/** docs/access-policy.md, rendered from the table the broker's ACLs and the Redis ACL file come from. */
export function renderAccessPolicyDoc(): string {
  const lines = [
    '# Access policy (generated)',
    '',
    'Rendered by `npm run -s security:doc` from `libs/contracts/src/access-policy.ts`, the same table',
    '`tools/security/kafka-setup.ts` applies as broker ACLs and `tools/security/redis-acl-file.ts` writes as',
    'the Redis ACL file. Do not edit by hand: a unit test fails when this file and the table differ.',
    '',
    '## Kafka (SASL_SSL, SCRAM-SHA-512, `StandardAuthorizer`, `allow.everyone.if.no.acl.found=false`)',
    '',
    'Each principal gets WRITE (and CREATE, and DESCRIBE_CONFIGS to check its retention) on what it',
    'writes, READ on what it reads (both imply DESCRIBE), and READ on consumer groups starting with its',
    'prefix. No principal but `admin` may ALTER_CONFIGS: only the setup sets retention. Nothing else: a topic not listed',
    "is invisible to it, and producing to another stage's topic is `TOPIC_AUTHORIZATION_FAILED`.",
    "`admin` (the scripts, the tests) and the broker's own certificate are the only super users.",
    '',
    '| principal | role | writes | reads | consumer groups |',
    '| --- | --- | --- | --- | --- |',
    ...KAFKA_PRINCIPALS.map((principal) => {
      const access = KAFKA_ACCESS[principal];
      return `| \`${principal}\` | ${access.role} | ${list(access.writes)} | ${list(access.reads)} | \`${access.groupPrefix}*\` |`;
    }),
    '',
    '## Redis (TLS, one ACL user per service, `default` user off)',
    '',
    'Each user may touch only its key patterns (its prefix and its hash-tagged keys such as',
    '`{revoker:schedule:lease-expiry:s0}:due`) with data, scripting and transaction commands; `-@dangerous`',
    'removes KEYS, FLUSHALL, CONFIG, ACL and the like.',
    '',
    '| user | keys | commands |',
    '| --- | --- | --- |',
    ...Object.entries(REDIS_ACCESS).map(
      ([user, access]) => `| \`${user}\` | ${access.keys.map((key) => `\`${key}\``).join(' ')} | \`${access.commands.join(' ')}\` |`,
    ),
    `| \`${REDIS_ACL_ADMIN.user}\` | (none) | \`${REDIS_ACL_ADMIN.commands.join(' ')}\` |`,
    '',
    `Shared on purpose: ${Object.entries(SHARED_REDIS_PREFIXES)
      .map(([name, prefix]) => `\`${prefix}*\` (${name})`)
      .join(', ')}, used by exactly the services listed with it above.`,
    '',
  ];
  return lines.join('\n');
}
