/**
 * Fail fast on PostgreSQL (issue 15, item 0): the postgres backend's statements on the issuer's
 * request paths are bounded by ROTOR_DEPENDENCY_TIMEOUT_MS (statement_timeout on the server,
 * query_timeout on the client, the connect timeout). The issuer reaches the shared PostgreSQL
 * through a TCP relay of this test; freezing the relay is how a stopped server or a cut link
 * looks to the issuer alone.
 */
import { randomBytes, randomUUID } from 'node:crypto';

import { Client } from 'pg';

import { leaseIdOfPostgresRole, postgresGroupName } from '@rotor/credential-backends';

import { eventually } from '../support/eventually';
import { FreezableRelay } from '../support/freezable-relay';
import { requiredEnv } from '../support/services-env';
import { ServiceProcess } from '../support/service-process';
import { writeTempCatalog } from '../support/temp-files';
import { TestIdentity } from '../support/test-identity';

describe('the issuer while its PostgreSQL hangs', () => {
  const namespace = `failfast-pg-${randomUUID().slice(0, 8)}`;
  let identity: TestIdentity;
  let issuer: ServiceProcess;
  let relay: FreezableRelay;
  let admin: Client;
  let control: string;

  const issue = async () => {
    const started = Date.now();
    const response = await fetch(`${issuer.url}/v1/credentials`, {
      method: 'POST',
      body: JSON.stringify({ role: 'db' }),
      headers: { authorization: `Bearer ${await identity.serviceAccountToken(namespace, 'app')}`, 'content-type': 'application/json' },
      signal: AbortSignal.timeout(30_000),
    });
    const body = (await response.json()) as { code?: string; leaseId?: string; credential?: { username?: string } };
    return { status: response.status, code: body.code, username: body.credential?.username, ms: Date.now() - started };
  };
  /** This test's lease roles: the members of its grant template's group (the comment makes the template its own). */
  const grants = [`/* ${namespace} */ GRANT CONNECT ON DATABASE rotor TO {{role}}`];
  const leaseRoles = async () =>
    (
      await admin.query<{ rolname: string }>(
        'SELECT r.rolname FROM pg_roles r JOIN pg_auth_members m ON m.member = r.oid JOIN pg_roles g ON g.oid = m.roleid WHERE g.rolname = $1 ORDER BY 1',
        [postgresGroupName(grants)],
      )
    ).rows.map((row) => row.rolname);

  beforeAll(async () => {
    const databaseUrl = new URL(requiredEnv('DATABASE_URL'));
    relay = new FreezableRelay({ host: databaseUrl.hostname, port: Number(databaseUrl.port || 5432) });
    await relay.start();
    databaseUrl.port = String(relay.port); // same host: the server certificate still matches
    admin = new Client({ connectionString: requiredEnv('DATABASE_URL') });
    await admin.connect();
    identity = await TestIdentity.create();
    issuer = new ServiceProcess('issuer', 19670, {
      ...identity.env,
      DATABASE_URL: databaseUrl.toString(),
      ROTOR_TOKEN_HASH_KEY: randomBytes(32).toString('hex'),
      LOG_LEVEL: 'info',
      ROTOR_DEPENDENCY_TIMEOUT_MS: '1500', // the production default: the bound under test
      ROTOR_CATALOG: writeTempCatalog(`
roles:
  - name: db
    owner: team-test
    backend: { kind: postgres, grants: ${JSON.stringify(grants)} }
    bindings: [{ namespace: ${namespace}, serviceAccount: app }]
    ttl: 1m
    maxTtl: 5m
    quota: { perWorkload: 1000, perRole: 1000 }
`),
    });
    await issuer.start().ready();
    const first = await eventually(
      async () => {
        const answer = await issue();
        return answer.status === 201 ? answer : undefined;
      },
      { timeoutMs: 30_000, what: 'a first issuance through the relay' },
    );
    control = first.username!;
  }, 90_000);

  afterAll(async () => {
    relay?.thaw();
    await issuer?.stop();
    await relay?.stop();
    await admin?.end();
  });

  it('answers 503 postgres-unavailable within 2 s, creates no role, and issues again when PostgreSQL answers', async () => {
    relay.freeze();
    let caught;
    try {
      // Before the readiness probe notices: the statement times out (1.5 s) and the connection is closed.
      caught = await issue();
    } finally {
      relay.thaw();
    }
    expect(caught).toMatchObject({ status: 503, code: 'postgres-unavailable' });
    expect(caught.ms).toBeLessThan(2_500);

    const again = await eventually(
      async () => {
        const answer = await issue();
        return answer.status === 201 ? answer : undefined;
      },
      { timeoutMs: 30_000, what: 'issuance to work again' },
    );
    // Nothing was issued while it hung: the template's group has the control lease, the one just
    // issued and, at most, the role of the held CREATE ROLE if the thaw released it to the server
    // before its connection closed: that one belongs to no lease (the revoker's orphan sweep ends
    // such roles: revoker-reconciliation.int-spec).
    const roles = await leaseRoles();
    expect(roles).toEqual(expect.arrayContaining([control, again.username]));
    const token = await identity.serviceAccountToken(namespace, 'app');
    for (const role of roles.filter((name) => name !== control && name !== again.username)) {
      const lease = await fetch(`${issuer.url}/v1/leases/${leaseIdOfPostgresRole(role)}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect([role, lease.status]).toEqual([role, 404]);
    }
    expect(roles.length).toBeLessThanOrEqual(3);
  }, 120_000);
});
