import { randomBytes } from 'node:crypto';

import Redis from 'ioredis';
import { Client } from 'pg';

import type { IssuedCredential } from '@rotor/rest-contract';

import { eventually } from '../support/eventually';
import { requiredEnv } from '../support/services-env';
import { ServiceProcess } from '../support/service-process';
import { TestIdentity } from '../support/test-identity';
import { readRotorTopicsSince } from '../support/topic-tap';
import { writeTempCatalog } from '../support/temp-files';
import { redisFromEnv } from '../../tools/security/env-clients';

const CATALOG = `
roles:
  - name: orders-db
    owner: team-orders
    backend:
      kind: postgres
      grants: ["GRANT SELECT ON rotor_e2e_orders TO {{role}}"]
    bindings: [{ namespace: shop, serviceAccount: orders }]
    ttl: 3s
    maxTtl: 1m
  - name: orders-cache
    owner: team-orders
    backend: { kind: redis-acl, rules: ["+get", "+set", "~e2e:orders:*"] }
    bindings: [{ namespace: shop, serviceAccount: orders }]
    ttl: 3s
    maxTtl: 1m
`;

describe('dynamic credentials on real PostgreSQL and Redis, ended by the revoker at their TTL', () => {
  const started = new Date();
  let identity: TestIdentity;
  let issuer: ServiceProcess;
  let revoker: ServiceProcess;
  const admin = new Client({ connectionString: requiredEnv('DATABASE_URL') });

  beforeAll(async () => {
    await admin.connect();
    await admin.query('CREATE TABLE IF NOT EXISTS rotor_e2e_orders (id int primary key, item text)');
    await admin.query("INSERT INTO rotor_e2e_orders VALUES (1, 'book') ON CONFLICT DO NOTHING");
    identity = await TestIdentity.create();
    const catalogFile = writeTempCatalog(CATALOG);
    const env = {
      ...identity.env,
      ROTOR_CATALOG: catalogFile,
      ROTOR_TOKEN_HASH_KEY: randomBytes(32).toString('hex'),
      ROTOR_REVOKE_POLL_MS: '100',
    };
    issuer = new ServiceProcess('issuer', 18480, env);
    revoker = new ServiceProcess('revoker', 18481, env);
    await Promise.all([issuer.start().ready(), revoker.start().ready()]);
  }, 90_000);

  afterAll(async () => {
    await Promise.all([issuer?.stop(), revoker?.stop()]);
    await admin.end();
  });

  const issue = async (role: string): Promise<IssuedCredential> => {
    const token = await identity.serviceAccountToken('shop', 'orders');
    const response = await fetch(`${issuer.url}/v1/credentials`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ role }),
    });
    expect(response.status).toBe(201);
    return (await response.json()) as IssuedCredential;
  };

  const revokedByIssuer = async (leaseId: string) => {
    const token = await identity.serviceAccountToken('shop', 'orders');
    return eventually(
      async () => {
        const lease = (await (
          await fetch(`${issuer.url}/v1/leases/${leaseId}`, { headers: { authorization: `Bearer ${token}` } })
        ).json()) as { state: string };
        return lease.state === 'revoked' ? lease : undefined;
      },
      { what: `lease ${leaseId} to be revoked`, timeoutMs: 20_000 },
    );
  };

  it('a PostgreSQL role works for its grants until its TTL, then the revoker drops it and login fails', async () => {
    const { leaseId, credential } = await issue('orders-db');
    const url = new URL(requiredEnv('DATABASE_URL'));
    url.username = credential['username']!;
    url.password = credential['password']!;
    const session = new Client({ connectionString: url.toString() });
    session.on('error', () => undefined);
    await session.connect();
    expect((await session.query('SELECT item FROM rotor_e2e_orders WHERE id = 1')).rows).toEqual([{ item: 'book' }]);
    await expect(session.query('DELETE FROM rotor_e2e_orders')).rejects.toThrow(/permission denied/);

    await revokedByIssuer(leaseId);
    await expect(session.query('SELECT 1')).rejects.toThrow();
    const again = new Client({ connectionString: url.toString() });
    again.on('error', () => undefined);
    await expect(again.connect()).rejects.toThrow(/password authentication failed|does not exist/);
    expect((await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [credential['username']])).rowCount).toBe(0);

    const messages = await readRotorTopicsSince(started);
    expect(messages.filter((message) => message.value.includes(credential['password']!))).toEqual([]);
    expect(issuer.logs.includes(credential['password']!) || revoker.logs.includes(credential['password']!)).toBe(false);
  });

  it('a Redis ACL user runs its allowed commands until its TTL, then AUTH fails', async () => {
    const { leaseId, credential } = await issue('orders-cache');
    // The user lives on the redis-acl backend's own Redis, the one its credential names.
    const aclUrl = requiredEnv('ROTOR_REDIS_ACL_URL');
    expect(credential['port']).toBe(new URL(aclUrl).port);
    const session = new Redis(aclUrl, {
      username: credential['username'],
      password: credential['password'],
      enableReadyCheck: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    session.on('error', () => undefined);
    await session.set('e2e:orders:1', 'book');
    await expect(session.get('issuer:x')).rejects.toThrow(/NOPERM/);

    await revokedByIssuer(leaseId);
    const probe = redisFromEnv(aclUrl);
    await expect(probe.auth(credential['username']!, credential['password']!)).rejects.toThrow(/WRONGPASS/);
    probe.disconnect();
    session.disconnect();
  });
});
