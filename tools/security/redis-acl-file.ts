/**
 * Writes the Redis ACL file for the local stack from docs/access-policy.md's table:
 *   redis-acl-file.ts <secrets dir> <out file> [--credential-backend]
 * With --credential-backend, the file of the second Redis whose ACL users the redis-acl
 * backend mints (ROTOR_REDIS_ACL_URL): only `default`, `admin` and the backend's `acl-admin`;
 * the services' users and keys have no business there.
 * Each user's password is read from <secrets dir>/redis-<user>.password and stored as its
 * SHA-256 (Redis ACL `#<hash>`), so the ACL file holds no password. `admin` (scripts, tests)
 * may do everything.
 *
 * The `default` user is not `off`: Redis 7.0 replays MULTI/EXEC blocks from the append-only
 * file as the default user, and with `off -@all` it drops every one of them on restart
 * ("NOPERM ACLs rules changed between the moment the transaction was accumulated and the
 * EXEC call"), silently losing those writes (seen here: the auditor's confirmed runs). It gets
 * all commands and a password given to no one, so an unauthenticated client still gets NOAUTH.
 */
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { REDIS_ACCESS, REDIS_ACL_ADMIN, redisAclLine } from '@rotor/contracts';

const [secretsDir, out, mode] = process.argv.slice(2);
if (!secretsDir || !out || (mode !== undefined && mode !== '--credential-backend')) {
  console.error('usage: redis-acl-file.ts <secrets dir> <out file> [--credential-backend]');
  process.exit(2);
}
const hashOf = (user: string) =>
  createHash('sha256')
    .update(readFileSync(join(secretsDir, `redis-${user}.password`), 'utf8').trim())
    .digest('hex');

const lines = [
  `user default on #${hashOf('default')} ~* &* +@all`,
  `user admin on #${hashOf('admin')} ~* &* +@all`,
  ...(mode === '--credential-backend'
    ? []
    : Object.entries(REDIS_ACCESS).map(([user, access]) => redisAclLine(user, access, hashOf(user)))),
  redisAclLine(REDIS_ACL_ADMIN.user, REDIS_ACL_ADMIN, hashOf(REDIS_ACL_ADMIN.user)),
];
writeFileSync(`${out}.tmp`, `${lines.join('\n')}\n`, { mode: 0o600 });
renameSync(`${out}.tmp`, out);
