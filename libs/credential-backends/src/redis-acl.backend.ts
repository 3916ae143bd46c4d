import { randomBytes } from 'node:crypto';

import Redis from 'ioredis';

import type { RevocationHandle } from '@rotor/contracts';
import { DomainError } from '@rotor/errors';
import { redisSecurityOptions, type RedisLinkSecurity } from '@rotor/redis-store';

import type { CredentialBackend, HandleOf, SettingsOf, IssuedCredential, IssueRequest, MintedCredential } from './credential-backend';

export interface RedisAclBackendSettings {
  /** The Redis whose ACL rotor manages (never the one holding rotor's own keys), with an admin user allowed to run ACL and CLIENT. */
  url: string;
  /** Its own ACL user and TLS trust (the `acl-admin` user of docs/access-policy.md). */
  security?: RedisLinkSecurity;
  /** Bounds every command (the issuer's request paths: fail fast while this Redis hangs or is cut off). */
  commandTimeoutMs?: number;
}

export const redisAclUsername = (leaseId: string): string => `rotor-${leaseId}`;

const USERNAME = /^rotor-[0-9a-f-]{36}$/;
/** A lease user's name: `rotor-` and the lease id (a UUID). */
const LEASE_USERNAME = /^rotor-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;
/**
 * Applied after the role's rules: whatever its categories grant (`+@write` includes FLUSHALL,
 * `+@connection` CLIENT KILL), a lease never gets admin or dangerous commands. The catalog
 * refuses such rules by name; this keeps a category from bringing them back.
 */
const NEVER_GRANTED = ['-@admin', '-@dangerous'];
/** One ACL rule: a command (+get, -@all, +@read), key (~orders:*, %R~x) or channel (&x) pattern, no spaces. */
const RULE = /^([+-]@?[a-z|]+|[%RW]*~\S+|&\S+|allchannels|resetchannels|allkeys|allcommands|nocommands)$/i;

/**
 * Real Redis ACL users: `ACL SETUSER` with a random password and the role's rules. Revoked
 * by `ACL DELUSER` and killing the user's connections. Redis ACLs have no expiry of their
 * own, so the revoker's TTL clock is what ends them.
 */
export class RedisAclBackend implements CredentialBackend<'redis-acl'> {
  readonly kind = 'redis-acl' as const;
  private readonly redis: Redis;
  private readonly target: { host: string; port: number };

  constructor(settings: RedisAclBackendSettings) {
    this.redis = new Redis(settings.url, {
      lazyConnect: false,
      maxRetriesPerRequest: 2,
      connectionName: 'rotor-acl-admin',
      ...(settings.commandTimeoutMs ? { commandTimeout: settings.commandTimeoutMs } : {}),
      ...redisSecurityOptions(settings.security),
    });
    this.redis.on('error', () => undefined); // surfaced by commands
    const url = new URL(settings.url);
    this.target = { host: url.hostname, port: Number(url.port || 6379) };
  }

  leaseHandle(leaseId: string): HandleOf<'redis-acl'> {
    return { backend: 'redis-acl', username: redisAclUsername(leaseId) };
  }

  async issue({ leaseId, settings }: IssueRequest<SettingsOf<'redis-acl'>>): Promise<IssuedCredential<HandleOf<'redis-acl'>>> {
    const { rules } = settings;
    const bad = rules.find((rule) => !RULE.test(rule));
    if (bad !== undefined) throw new DomainError('invalid', 'bad-acl-rule', 'the role has an ACL rule rotor does not accept');
    const username = redisAclUsername(leaseId);
    const password = randomBytes(24).toString('base64url');
    await this.call(() => this.redis.call('ACL', 'SETUSER', username, 'reset', 'on', `>${password}`, ...rules, ...NEVER_GRANTED));
    return {
      credential: { username, password, host: this.target.host, port: String(this.target.port) },
      handle: { backend: 'redis-acl', username },
    };
  }

  /** Readiness, and what the issuer's dependency gate asks before minting a user here. */
  async ping(): Promise<void> {
    await this.call(() => this.redis.ping());
  }

  /** Nothing to extend: the user lives until revoked. */
  async renew(handle: RevocationHandle): Promise<void> {
    usernameOf(handle);
    return Promise.resolve();
  }

  /** Idempotent: DELUSER of a missing user and killing no clients both succeed. */
  async revoke(handle: RevocationHandle): Promise<void> {
    const username = usernameOf(handle);
    await this.call(async () => {
      await this.redis.call('ACL', 'SETUSER', username, 'off').catch(() => undefined); // no new AUTH while clients are killed
      await this.redis.call('CLIENT', 'KILL', 'USER', username).catch((error: Error) => {
        if (!/No such user/i.test(error.message)) throw error;
      });
      return this.redis.call('ACL', 'DELUSER', username);
    });
  }

  /** The server's run_id (INFO server): tells two URLs that reach one server apart from two servers. */
  async serverRunId(): Promise<string | undefined> {
    return runIdOf(await this.call(() => this.redis.info('server')));
  }

  /** The lease users on this Redis (ACL USERS), recognised by their `rotor-<lease id>` names. */
  async listMinted(): Promise<MintedCredential<HandleOf<'redis-acl'>>[]> {
    const users = (await this.call(() => this.redis.call('ACL', 'USERS'))) as string[];
    return users.flatMap((username) => {
      const leaseId = LEASE_USERNAME.exec(username)?.[1];
      return leaseId ? [{ leaseId, handle: { backend: 'redis-acl' as const, username } }] : [];
    });
  }

  /**
   * The admin password changed (its file was rewritten): the next connection authenticates with
   * it; the current one stays authenticated, as Redis keeps it when a password is rotated.
   */
  usePassword(password: string): void {
    this.redis.options.password = password;
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  /** Redis echoes ACL SETUSER arguments in some errors: never pass its message on. */
  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw new DomainError('unavailable', 'redis-acl-unavailable', `Redis ACL command failed (${(error as Error).name})`, {
        retryAfterSeconds: 5,
        cause: error,
      });
    }
  }
}

/** The run_id line of `INFO server`, unique per running Redis process. */
export const runIdOf = (info: string): string | undefined => /^run_id:([0-9a-f]+)\s*$/m.exec(info)?.[1];

const usernameOf = (handle: RevocationHandle): string => {
  if (handle.backend !== 'redis-acl' || !USERNAME.test(handle.username)) {
    throw new DomainError('invalid', 'bad-revocation-handle', 'not a rotor Redis ACL handle');
  }
  return handle.username;
};
