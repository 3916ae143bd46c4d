import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { createEvent, Topics } from '@rotor/contracts';
import { EventPublisher, readTopicRange } from '@rotor/kafka';
import type { AuditEventsPage, AuditVerifyReport, IssuedCredential, SecretInventory } from '@rotor/rest-contract';

import { eventually } from '../support/eventually';
import { PrivateAuditLog } from '../support/private-audit-log';
import { ServiceProcess } from '../support/service-process';
import { ensurePortFree, writeTempCatalog } from '../support/temp-files';
import { TestIdentity } from '../support/test-identity';
import { kafkaFromEnv, redisFromEnv } from '../../tools/security/env-clients';

const kafka = kafkaFromEnv('rotor-test-audit-canary');

describe('audit canary: credentials issued, delivered, rotated and revoked leave no value in any audit record', () => {
  const name = `canary-${randomUUID().slice(0, 8)}`;
  const fileDir = join(mkdtempSync(join(tmpdir(), 'rotor-canary-target-')), 'app');
  const audit = new PrivateAuditLog(kafka, 'canary');
  const { db, topic: auditTopic } = audit;
  let identity: TestIdentity;
  let services: ServiceProcess[] = [];
  let issuer: ServiceProcess;
  let auditor: ServiceProcess;

  beforeAll(async () => {
    await Promise.all([19420, 19421, 19422, 19423].map(ensurePortFree));
    identity = await TestIdentity.create();
    const catalogFile = writeTempCatalog(`
roles:
  - name: canary-token
    owner: team-canary
    backend: { kind: opaque-token }
    bindings: [{ namespace: canary, serviceAccount: worker }]
    ttl: 10m
    maxTtl: 1h
managedSecrets:
  - name: ${name}
    owner: team-canary
    generator: { kind: random-bytes, bytes: 32 }
    rotationPeriod: 1h
    gracePeriod: 1h
    bindings: [{ namespace: canary, serviceAccount: "*" }]
    targets:
      - { kind: file, name: node-agent, path: ${fileDir} }
`);
    await audit.create();
    const common = { ...identity.env, ROTOR_CATALOG: catalogFile, LOG_LEVEL: 'info' };
    auditor = new ServiceProcess('auditor', 19423, {
      ...common,
      ...audit.env(),
      ROTOR_AUDIT_KEY: randomBytes(32).toString('hex'),
    });
    await auditor.start().ready();
    issuer = new ServiceProcess('issuer', 19420, { ...common, ROTOR_TOKEN_HASH_KEY: randomBytes(32).toString('hex') });
    services = [
      auditor,
      issuer,
      new ServiceProcess('revoker', 19421, { ...common, ROTOR_REVOKE_POLL_MS: '100' }),
      new ServiceProcess('distributor', 19422, {
        ...common,
        ROTOR_CONTENT_HASH_KEY: randomBytes(32).toString('hex'),
        ROTOR_DRIFT_SCAN_MS: '0',
        ROTOR_COPY_SCAN_MS: '0',
        ROTOR_FILE_TARGET_ROOTS: dirname(fileDir),
      }),
    ];
    await Promise.all(services.slice(1).map((service) => service.start().ready()));
  }, 120_000);

  afterAll(async () => {
    await Promise.all(services.map((service) => service.stop()));
    await audit.drop();
  });

  it('audits every step, the chain verifies, and none of the values is in the audit log', async () => {
    const canaries: string[] = [];
    const worker = {
      authorization: `Bearer ${await identity.serviceAccountToken('canary', 'worker', { name: 'worker-1', uid: 'pod-uid-1' })}`,
      'content-type': 'application/json',
    };

    // Issue: a dynamic lease whose token is returned once.
    const issued = (await (
      await fetch(`${issuer.url}/v1/credentials`, { method: 'POST', headers: worker, body: JSON.stringify({ role: 'canary-token' }) })
    ).json()) as IssuedCredential;
    canaries.push(issued.credential['token']!);

    // Deliver: the initial version reaches the file target; read it just in time as well.
    const delivered = (version: number) =>
      eventually(
        async () => {
          const value = readFileSync(join(fileDir, 'value'), 'utf8');
          const read = (await (await fetch(`${issuer.url}/v1/secrets/${name}`, { headers: worker })).json()) as {
            version: number;
            value: string;
          };
          return read.version === version && read.value === value ? value : undefined;
        },
        { what: `version ${version} delivered`, timeoutMs: 30_000 },
      );
    canaries.push(await delivered(1));

    // Rotate: an operator asks for a new version, which replaces the copy.
    const publisher = new EventPublisher(kafka);
    await publisher.connect();
    await publisher.publish(
      createEvent({
        topic: Topics.rotationRequested,
        source: '/rotor/test',
        subject: name,
        data: { secret: name, reason: 'requested', requestedBy: { kind: 'operator', subject: 'sre@example.com', groups: ['rotor:sre'] } },
      }),
    );
    await publisher.disconnect();
    canaries.push(await delivered(2));

    // Revoke: the workload ends its lease early.
    expect((await fetch(`${issuer.url}/v1/leases/${issued.leaseId}`, { method: 'DELETE', headers: worker })).status).toBeLessThan(300);

    const token = await identity.operatorToken('auditor@example.com', ['rotor:auditor']);
    const types = async (query: string) =>
      (
        (await (
          await fetch(`${auditor.url}/v1/audit/events?${query}`, { headers: { authorization: `Bearer ${token}` } })
        ).json()) as AuditEventsPage
      ).items.map((item) => item.eventType);
    await eventually(async () => ((await types(`lease=${issued.leaseId}`)).includes(Topics.revocationRequested) ? true : undefined), {
      what: 'the revocation request audited',
    });
    // The revoker works through its shared group's backlog first (other suites' and benches' leases): allow it time.
    await eventually(async () => ((await types(`lease=${issued.leaseId}`)).includes(Topics.leaseRevoked) ? true : undefined), {
      what: 'the revocation audited',
      timeoutMs: 120_000,
      intervalMs: 1_000,
    });
    await eventually(
      async () => {
        const seen = await types(`secret=${name}`);
        return [Topics.secretVersionCreated, Topics.deliveryCompleted, Topics.deliveryRemoved, Topics.access].every((type) =>
          seen.includes(type),
        )
          ? true
          : undefined;
      },
      { what: 'versions, deliveries, the replaced copy and the reads audited', timeoutMs: 30_000 },
    );
    const inventory = (await (
      await fetch(`${auditor.url}/v1/inventory/secrets/${name}`, { headers: { authorization: `Bearer ${token}` } })
    ).json()) as SecretInventory;
    expect(inventory.currentVersion).toBe(2);
    expect(inventory.copies.map((copy) => [copy.version, copy.state]).sort()).toEqual([
      [1, 'removed'],
      [2, 'delivered'],
    ]);
    const verify = (await (
      await fetch(`${auditor.url}/v1/audit/verify`, { headers: { authorization: `Bearer ${token}` } })
    ).json()) as AuditVerifyReport;
    expect(verify.ok).toBe(true);

    // The canary: no value (nor its base64/hex spelling) in any audit record, key or header; nor the pod name.
    const records: string[] = [];
    await readTopicRange(kafka, {
      topic: auditTopic,
      onMessage: (message) =>
        void records.push(`${message.key?.toString()} ${message.value?.toString()} ${JSON.stringify(message.headers)}`),
    });
    // Every message is scanned, the signed checkpoints (key `checkpoint`) too; the chains hold the records.
    expect(records.filter((record) => !record.startsWith('checkpoint ')).length).toBe(verify.records);
    expect(records.join('\n')).toContain(issued.leaseId);
    expect(canaries).toHaveLength(3); // the lease token and the two versions
    const spellings = canaries.flatMap((value) => [value, Buffer.from(value).toString('base64'), Buffer.from(value).toString('hex')]);
    expect(spellings.filter((spelling) => records.some((record) => record.includes(spelling)))).toEqual([]);
    expect(records.some((record) => record.includes('worker-1') || record.includes('pod-uid-1'))).toBe(false);
    expect(canaries.some((value) => auditor.logs.includes(value))).toBe(false);

    // Nor in the auditor's views and state in PostgreSQL: every row of the tables it derives from the records.
    const views = await db.open();
    const rows: string[] = [];
    for (const table of ['records', 'record_keys', 'entities', 'members', 'seen', 'chains', 'state'])
      rows.push(...(await views.pool.query<{ row: string }>(`SELECT t::text AS row FROM ${table} t`)).rows.map((r) => r.row));
    expect(rows.join('\n')).toContain(issued.leaseId);
    expect(spellings.filter((spelling) => rows.some((row) => row.includes(spelling)))).toEqual([]);
    expect(rows.some((row) => row.includes('worker-1') || row.includes('pod-uid-1'))).toBe(false);

    // Nor in Redis, where the issuer, revoker and distributor keep their state: every key and value of this stack's database.
    const redis = redisFromEnv();
    const entries: string[] = [];
    try {
      for (const key of await redis.keys('*')) entries.push(`${key} ${JSON.stringify(await redisValue(redis, key))}`);
    } finally {
      redis.disconnect();
    }
    expect(entries.length).toBeGreaterThan(0);
    expect(spellings.filter((spelling) => entries.some((entry) => entry.includes(spelling)))).toEqual([]);
  }, 240_000);
});

/** A key's value whatever its type (as text: the scan looks for values, not structure). */
async function redisValue(redis: ReturnType<typeof redisFromEnv>, key: string): Promise<unknown> {
  switch (await redis.type(key)) {
    case 'string':
      return redis.get(key);
    case 'hash':
      return redis.hgetall(key);
    case 'zset':
      return redis.zrange(key, 0, -1, 'WITHSCORES');
    case 'set':
      return redis.smembers(key);
    case 'list':
      return redis.lrange(key, 0, -1);
    case 'stream':
      return redis.xrange(key, '-', '+');
    default:
      return null; // gone since KEYS
  }
}
