/**
 * Which Redis ACL rules a catalog role may hand to a lease. A lease is a workload's
 * credential: it gets data commands on named keys, never the server (ACL, CONFIG, MODULE,
 * DEBUG, SHUTDOWN, replication…) and never every key. The redis-acl backend also appends
 * `-@admin -@dangerous` to every user, so a category such as `+@write` cannot bring FLUSHALL
 * back; this check is what names the catalog line.
 */

/** Redis 7's @admin and @dangerous commands (`ACL CAT admin`, `ACL CAT dangerous`), by top-level name. */
const DANGEROUS_COMMANDS = new Set([
  'acl',
  'bgrewriteaof',
  'bgsave',
  'client',
  'cluster',
  'config',
  'debug',
  'failover',
  'flushall',
  'flushdb',
  'info',
  'keys',
  'lastsave',
  'latency',
  'migrate',
  'module',
  'monitor',
  'pfdebug',
  'pfselftest',
  'psync',
  'replconf',
  'replicaof',
  'restore',
  'restore-asking',
  'role',
  'save',
  'shutdown',
  'slaveof',
  'slowlog',
  'sort',
  'sort_ro',
  'swapdb',
  'sync',
]);

const DANGEROUS_CATEGORIES = new Set(['all', 'admin', 'dangerous']);

/** Why `rule` must not be in a catalog role, or undefined when it may. */
export function unsafeRedisAclRule(rule: string): string | undefined {
  const lower = rule.toLowerCase();
  if (lower === 'allcommands') return 'grants every command (allcommands)';
  if (lower === 'allkeys') return 'grants every key (allkeys)';
  const grant = /^\+(@?)([a-z_|-]+)$/.exec(lower);
  if (grant) {
    const [, category, name = ''] = grant;
    if (category && DANGEROUS_CATEGORIES.has(name)) return `grants admin or dangerous commands (${rule})`;
    if (!category && DANGEROUS_COMMANDS.has(name.split('|')[0]!)) return `grants an admin or dangerous command (${rule})`;
    return undefined;
  }
  const keys = /^%?[rw]*~(.*)$/.exec(lower);
  // A key pattern must start with a literal prefix: `*`, `?*`, `[a-z]*` reach every key.
  if (keys && (keys[1] === '' || /^[*?[\\]/.test(keys[1]!))) return `grants every key or keys without a fixed prefix (${rule})`;
  return undefined;
}
