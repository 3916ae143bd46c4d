import { randomBytes } from 'node:crypto';

import { Topics } from '@rotor/contracts';
import { readTopicRange } from '@rotor/kafka';
import type { AuditEventsPage, IssuedCredential, LeaseView } from '@rotor/rest-contract';

import { eventually } from '../support/eventually';
import { fetchTrace, newTraceparent } from '../support/jaeger';
import { PrivateAuditLog } from '../support/private-audit-log';
import { ServiceProcess } from '../support/service-process';
import { TestIdentity } from '../support/test-identity';
import { readRotorTopicsSince } from '../support/topic-tap';
import { writeTempCatalog } from '../support/temp-files';
import { kafkaFromEnv, redisFromEnv } from '../../tools/security/env-clients';

const kafka = kafkaFromEnv('rotor-test-walking-skeleton');

const CATALOG = `
roles:
  - name: skeleton-token
    owner: team-e2e
    backend: { kind: opaque-token }
    bindings:
      - { namespace: e2e, serviceAccount: worker }
    ttl: 2s
    maxTtl: 10s
introspection:
  # The worker checks its own token here, standing in for the resource server it would hand it to.
  allowed: [{ namespace: e2e, serviceAccount: worker }]
`;

describe('walking skeleton: one credential through issuer, revoker and auditor', () => {
  const started = new Date();
  const audit = new PrivateAuditLog(kafka, 'skeleton');
  const { db, topic: auditTopic } = audit;
  let identity: TestIdentity;
  let services: Record<'issuer' | 'revoker' | 'auditor' | 'distributor', ServiceProcess>;

  beforeAll(async () => {
    identity = await TestIdentity.create();
    await audit.create();
    const catalogFile = writeTempCatalog(CATALOG);
    const env = {
      ...identity.env,
      ROTOR_CATALOG: catalogFile,
      ROTOR_TOKEN_HASH_KEY: randomBytes(32).toString('hex'),
      ROTOR_AUDIT_KEY: randomBytes(32).toString('hex'),
      ROTOR_REVOKE_POLL_MS: '100',
    };
    services = {
      issuer: new ServiceProcess('issuer', 18080, env),
      revoker: new ServiceProcess('revoker', 18081, env),
      distributor: new ServiceProcess('distributor', 18082, env),
      auditor: new ServiceProcess('auditor', 18083, {
        ...env,
        ...audit.env(),
      }),
    };
    await Promise.all(Object.values(services).map((service) => service.start().ready()));
  }, 120_000);

  afterAll(async () => {
    await Promise.all(Object.values(services ?? {}).map((service) => service.stop()));
    await audit.drop();
  });

  it('issues a 2-second opaque token, audits it, revokes it when its TTL runs out, and leaks its value nowhere', async () => {
    const workloadToken = await identity.serviceAccountToken('e2e', 'worker', { name: 'worker-7f9c', uid: 'pod-uid-1' });
    const auditorToken = await identity.operatorToken('auditor@example.com', ['rotor:auditor']);
    const asWorkload = { authorization: `Bearer ${workloadToken}`, 'content-type': 'application/json' };

    // 1. The workload proves who it is and gets a credential (in a trace of its own, to look up below).
    const caller = newTraceparent();
    const issuedResponse = await fetch(`${services.issuer.url}/v1/credentials`, {
      method: 'POST',
      headers: { ...asWorkload, traceparent: caller.traceparent },
      body: JSON.stringify({ role: 'skeleton-token', ttl: 2 }),
    });
    expect(issuedResponse.status).toBe(201);
    const issued = (await issuedResponse.json()) as IssuedCredential;
    const canary = issued.credential['token']!;
    expect(canary).toMatch(/^[A-Za-z0-9_-]{43}$/); // 256 random bits, base64url
    expect(issued.workload).toEqual({ namespace: 'e2e', serviceAccount: 'worker', podName: 'worker-7f9c', podUid: 'pod-uid-1' });

    const introspect = async () => {
      const response = await fetch(`${services.issuer.url}/v1/introspect`, {
        method: 'POST',
        headers: { authorization: `Bearer ${workloadToken}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: canary }).toString(),
      });
      expect(response.status).toBe(200);
      return (await response.json()) as { active: boolean; lease_id?: string };
    };
    expect(await introspect()).toMatchObject({ active: true, lease_id: issued.leaseId });

    const auditedTypes = async () => {
      const response = await fetch(`${services.auditor.url}/v1/audit/events?lease=${issued.leaseId}`, {
        headers: { authorization: `Bearer ${auditorToken}` },
      });
      expect(response.status).toBe(200);
      return ((await response.json()) as AuditEventsPage).items.map((item) => item.eventType);
    };

    // 2. The auditor records the issuance.
    await eventually(async () => ((await auditedTypes()).includes(Topics.leaseIssued) ? true : undefined), {
      what: 'lease.issued in the audit log',
      timeoutMs: 120_000,
    });

    // 3. The revoker revokes it when the TTL runs out, and introspection follows.
    await eventually(async () => ((await introspect()).active === false ? true : undefined), { what: 'introspection to say inactive' });
    const revoked = await eventually(
      async () => {
        const response = await fetch(`${services.issuer.url}/v1/leases/${issued.leaseId}`, { headers: asWorkload });
        const lease = (await response.json()) as LeaseView;
        return lease.state === 'revoked' ? lease : undefined;
      },
      { what: 'the issuer to record the revocation' },
    );
    expect(revoked.revocationReason).toBe('expired');
    const lagMs = new Date(revoked.revokedAt!).getTime() - new Date(issued.expiresAt).getTime();
    expect(lagMs).toBeGreaterThanOrEqual(0);
    expect(lagMs).toBeLessThan(5_000);

    // 4. The revocation is audited too, and the chain verifies.
    await eventually(async () => ((await auditedTypes()).includes(Topics.leaseRevoked) ? true : undefined), {
      what: 'lease.revoked in the audit log',
      timeoutMs: 60_000,
    });
    const verify = await fetch(`${services.auditor.url}/v1/audit/verify`, { headers: { authorization: `Bearer ${auditorToken}` } });
    expect(await verify.json()).toMatchObject({ ok: true });

    // 5. Canary: the token appears in no message on any rotor topic (the audit topic too), no service log, no Redis value,
    //    no row of the auditor's database.
    const messages = await readRotorTopicsSince(started);
    await readTopicRange(kafka, {
      topic: auditTopic,
      onMessage: (message, partition) =>
        void messages.push({
          topic: Topics.auditLog,
          partition,
          offset: message.offset,
          key: message.key?.toString() ?? null,
          value: message.value?.toString() ?? '',
          headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([name, value]) => [name, String(value)])),
        }),
    });
    expect(messages.some((message) => message.topic === Topics.leaseIssued && message.value.includes(issued.leaseId))).toBe(true);
    expect(messages.some((message) => message.topic === Topics.auditLog && message.value.includes(issued.leaseId))).toBe(true);
    const leakingMessages = messages.filter((message) =>
      `${message.key} ${message.value} ${JSON.stringify(message.headers)}`.includes(canary),
    );
    expect(leakingMessages.map((message) => `${message.topic}@${message.partition}:${message.offset}`)).toEqual([]);
    for (const service of Object.values(services)) {
      expect(service.logs).toContain(service.name === 'issuer' ? 'lease issued' : `${service.name} listening`);
      expect({ service: service.name, leaks: service.logs.includes(canary) }).toEqual({ service: service.name, leaks: false });
    }
    expect(await redisValuesContaining(canary)).toEqual([]);
    const views = await db.open();
    const rows: string[] = [];
    for (const table of ['records', 'record_keys', 'entities', 'members', 'seen'])
      rows.push(...(await views.pool.query<{ row: string }>(`SELECT t::text AS row FROM ${table} t`)).rows.map((r) => r.row));
    expect(rows.some((row) => row.includes(issued.leaseId))).toBe(true);
    expect(rows.filter((row) => row.includes(canary))).toEqual([]);
    // … and no span of its trace, as exported to Jaeger: attributes, events and names.
    // Each service exports its spans in its own batches (up to 5 s apart): wait for all three.
    const everyService = ['rotor-auditor', 'rotor-issuer', 'rotor-revoker'];
    const trace = await eventually(
      async () => {
        const found = await fetchTrace(caller.traceId);
        const services = [...new Set(found?.spans.map((span) => span.service))].sort();
        if (!found?.spans.some((span) => span.operationName === 'revoke lease') || services.join() !== everyService.join())
          throw new Error(`Jaeger has spans of [${services.join(', ')}] so far`);
        return found;
      },
      { what: 'the credential trace in Jaeger, revocation included, from all three services', timeoutMs: 30_000 },
    );
    expect(trace.json).not.toContain(canary);
  }, 240_000);
});

/** Keys of string and hash values in Redis that contain `needle`. */
async function redisValuesContaining(needle: string): Promise<string[]> {
  const redis = redisFromEnv(process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379');
  const hits: string[] = [];
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        const type = await redis.type(key);
        const content = type === 'string' ? await redis.get(key) : type === 'hash' ? JSON.stringify(await redis.hgetall(key)) : '';
        if (content?.includes(needle) || key.includes(needle)) hits.push(key);
      }
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return hits;
}
