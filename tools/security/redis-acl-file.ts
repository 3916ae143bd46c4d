/**
 * Writes the Redis ACL file for the local stack from docs/access-policy.md's table:
 *   redis-acl-file.ts <secrets dir> <out file>
 * Each user's password is read from <secrets dir>/redis-<user>.password and stored as its
 * SHA-256 (Redis ACL `#<hash>`), so the ACL file holds no password. `admin` (scripts, tests)
 * may do everything; the `default` user is off.
 */
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { REDIS_ACCESS, REDIS_ACL_ADMIN, redisAclLine } from '@rotor/contracts';

const [secretsDir, out] = process.argv.slice(2);
if (!secretsDir || !out) {
  console.error('usage: redis-acl-file.ts <secrets dir> <out file>');
  process.exit(2);
}
const hashOf = (user: string) => createHash('sha256').update(readFileSync(join(secretsDir, `redis-${user}.password`), 'utf8').trim()).digest('hex');

const lines = [
  'user default off resetkeys resetchannels -@all',
  `user admin on #${hashOf('admin')} ~* &* +@all`,
  ...Object.entries(REDIS_ACCESS).map(([user, access]) => redisAclLine(user, access, hashOf(user))),
  redisAclLine(REDIS_ACL_ADMIN.user, REDIS_ACL_ADMIN, hashOf(REDIS_ACL_ADMIN.user)),
];
writeFileSync(`${out}.tmp`, `${lines.join('\n')}\n`, { mode: 0o600 });
renameSync(`${out}.tmp`, out);
