/**
 * Fail fast (issue 15, item 0): while the broker hangs (SIGSTOP, as a partition or a stalled
 * JVM looks to a client), issuance answers 503 with Retry-After within 2 s instead of hanging
 * for ~100 s on kafkajs' retries, mints nothing once /readyz knows Kafka is down (no PostgreSQL
 * role is even created), and undoes the credential of a request caught in between. The revoker's
 * and the distributor's routes that need Kafka refuse the same way and change nothing. The
 * shared broker is resumed in any case.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { postgresGroupName } from '@rotor/credential-backends';

import { eventually } from '../support/eventually';
import { loggingDdl, POSTGRES_LOG, postgresLogOffset, postgresLogSince } from '../support/postgres-log';
import { requiredEnv } from '../support/services-env';
import { ServiceProcess } from '../support/service-process';
import { writeTempCatalog } from '../support/temp-files';
import { TestIdentity } from '../support/test-identity';
import { readRotorTopicsSince } from '../support/topic-tap';
import { redisFromEnv } from '../../tools/security/env-clients';

const ROOT = join(__dirname, '..', '..');
const KAFKA_PID = join(ROOT, '.rotor', 'run', 'kafka.pid');
interface Answer {
  status: number;
  retryAfter: string | null;
  code?: string;
  leaseId?: string;
  expiresAt?: string;
  ms: number;
}

const call = async (url: string, init: RequestInit): Promise<Answer> => {
  const started = Date.now();
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
  const body = (await response.json()) as { code?: string; leaseId?: string; expiresAt?: string };
  return {
    status: response.status,
    retryAfter: response.headers.get('retry-after'),
    code: body.code,
    leaseId: body.leaseId,
    expiresAt: body.expiresAt,
    ms: Date.now() - started,
  };
};

describe('issuance while Kafka hangs', () => {
  const namespace = `failfast-${randomUUID().slice(0, 8)}`;
  // A grant template of this run alone: its group role tells this run's CREATE ROLE lines apart.
  const grants = [`/* ${namespace} */ GRANT CONNECT ON DATABASE rotor TO {{role}}`];
  const group = postgresGroupName(grants);
  const reportedPath = `/srv/${namespace}/config.env`;
  let identity: TestIdentity;
  let issuer: ServiceProcess;
  let revoker: ServiceProcess;
  let distributor: ServiceProcess;
  let kafkaPid: number;
  let leaseId: string;
  let leaseExpiresAt: string;
  let sre: string;
  let emergencyId: string | undefined;

  const json = (token: string) => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });
  const workloadToken = () => identity.serviceAccountToken(namespace, 'app');

  const issue = async (role: 'token' | 'db') =>
    call(`${issuer.url}/v1/credentials`, { method: 'POST', headers: json(await workloadToken()), body: JSON.stringify({ role }) });

  /** Renew or revoke the control lease early: both need Kafka. */
  const onLease = async (method: 'POST' | 'DELETE') =>
    call(`${issuer.url}/v1/leases/${leaseId}${method === 'POST' ? '/renew' : ''}`, {
      method,
      headers: json(await workloadToken()),
      ...(method === 'POST' ? { body: '{}' } : {}),
    });

  /** An emergency rotation of this run's namespace (nothing in it): 202 when it starts, 200 when this request id already had. */
  const emergencyRequestId = `failfast-${randomUUID()}`;
  const startEmergency = () =>
    call(`${revoker.url}/v1/emergency-rotations`, {
      method: 'POST',
      headers: json(sre),
      body: JSON.stringify({ selector: { namespace }, mode: 'immediate', reason: 'fail-fast test', requestId: emergencyRequestId }),
    });

  /** What `rotor scan --report` posts; the version is one the distributor does not know (400 once it answers). */
  const reportFindings = () =>
    call(`${distributor.url}/v1/copy-scan/findings`, {
      method: 'POST',
      headers: json(sre),
      body: JSON.stringify({ findings: [{ secret: namespace, version: 1, form: 'raw', kind: 'file', path: reportedPath, line: 1 }] }),
    });

  const kafkaDown = async (service: ServiceProcess) =>
    eventually(
      async () => {
        const body = (await (await fetch(`${service.url}/readyz`)).json()) as { checks: Record<string, { ok: boolean }> };
        return body.checks['kafka']?.ok === false ? true : undefined;
      },
      { timeoutMs: 15_000, what: `${service.url}/readyz to report Kafka down` },
    );

  beforeAll(async () => {
    kafkaPid = Number(readFileSync(KAFKA_PID, 'utf8').trim());
    identity = await TestIdentity.create();
    sre = await identity.operatorToken('sre@example.com', ['rotor:sre']);
    const catalog = writeTempCatalog(`
roles:
  - name: token
    owner: team-test
    backend: { kind: opaque-token }
    bindings: [{ namespace: ${namespace}, serviceAccount: app }]
    ttl: 1m
    maxTtl: 5m
    quota: { perWorkload: 1000, perRole: 1000 }
  - name: db
    owner: team-test
    backend: { kind: postgres, grants: ${JSON.stringify(grants)} }
    bindings: [{ namespace: ${namespace}, serviceAccount: app }]
    ttl: 1m
    maxTtl: 5m
    quota: { perWorkload: 1000, perRole: 1000 }
`);
    // The production default (the suites' services get more): the bound under test.
    const bound = { ROTOR_DEPENDENCY_TIMEOUT_MS: '1500' };
    issuer = new ServiceProcess('issuer', 19650, {
      ...identity.env,
      ...bound,
      ROTOR_TOKEN_HASH_KEY: randomBytes(32).toString('hex'),
      DATABASE_URL: loggingDdl(requiredEnv('DATABASE_URL')),
      LOG_LEVEL: 'debug', // 'lease issued' is a debug line: the recovery is checked by it
      ROTOR_CATALOG: catalog,
    });
    revoker = new ServiceProcess('revoker', 19651, { ...identity.env, ...bound, ROTOR_CATALOG: catalog });
    distributor = new ServiceProcess('distributor', 19652, {
      ...identity.env,
      ...bound,
      ROTOR_CATALOG: catalog,
      ROTOR_DRIFT_SCAN_MS: '0',
      ROTOR_COPY_SCAN_MS: '0',
    });
    await Promise.all([issuer.start().ready(), revoker.start().ready(), distributor.start().ready()]);
    const control = await issue('token'); // it issues while Kafka answers
    expect(control.status).toBe(201);
    leaseId = control.leaseId!;
    leaseExpiresAt = control.expiresAt!;
  }, 120_000);

  afterAll(async () => {
    if (kafkaPid) execFileSync('kill', ['-CONT', String(kafkaPid)]);
    await Promise.all([issuer?.stop(), revoker?.stop(), distributor?.stop()]);
    if (emergencyId) {
      // What the revoker keeps of the test's emergency rotation (as revoker-emergency.int-spec cleans up).
      const redis = redisFromEnv(requiredEnv('REDIS_URL'));
      const tag = `revoker:emergency:{${emergencyId}}`;
      await redis.del(tag, ...['leases', 'secrets', 'revoked', 'failed', 'rotated', 'delivered', 'retired'].map((set) => `${tag}:${set}`));
      await redis.zrem('{revoker:schedule:emergency:s0}:due', emergencyId);
      await redis.zrem('{revoker:schedule:emergency:s0}:inflight', emergencyId);
      redis.disconnect();
    }
  });

  it('answers 503 within 2 s, creates no PostgreSQL role once /readyz knows, changes nothing in the revoker or distributor, and recovers', async () => {
    // The control: a role issued before the freeze does show in the server log, under this run's group.
    const beforeFreeze = postgresLogOffset();
    const db = await issue('db');
    expect(db.status).toBe(201);
    await eventually(async () => (postgresLogSince(beforeFreeze).includes(`IN ROLE "${group}"`) ? true : undefined), {
      what: `the CREATE ROLE of the control lease in ${POSTGRES_LOG}`,
    });

    const started = new Date();
    let knownDownAt = 0;
    let answers: Answer[] = [];
    let revokerAnswer: Answer;
    let distributorAnswer: Answer;
    execFileSync('kill', ['-STOP', String(kafkaPid)]);
    try {
      // Caught before the probes notice: the produce is bounded, the credential undone.
      const early = await issue('token');
      expect(early).toMatchObject({ status: 503 });
      expect(early.ms).toBeLessThan(2_500);
      // A renewal caught the same way: its bounded lease.renewed times out and the extension is undone.
      const earlyRenewal = await onLease('POST');
      expect(earlyRenewal).toMatchObject({ status: 503, code: 'kafka-unavailable' });
      expect(earlyRenewal.ms).toBeLessThan(2_500);

      await kafkaDown(issuer);
      knownDownAt = postgresLogOffset();
      answers = await Promise.all(Array.from({ length: 50 }, () => issue('db')));
      answers.push(await onLease('POST'), await onLease('DELETE'));
      await Promise.all([kafkaDown(revoker), kafkaDown(distributor)]);
      [revokerAnswer, distributorAnswer] = await Promise.all([startEmergency(), reportFindings()]);
    } finally {
      execFileSync('kill', ['-CONT', String(kafkaPid)]);
    }
    for (const answer of [...answers, revokerAnswer, distributorAnswer]) {
      expect(answer).toMatchObject({ status: 503, code: 'kafka-unavailable' }); // refused before anything was done
      expect(answer.retryAfter).toBeTruthy();
      expect(answer.ms).toBeLessThan(2_000);
    }
    // Not one CREATE ROLE for this run's group since /readyz first said Kafka was down.
    const sinceDown = postgresLogSince(knownDownAt);
    expect(sinceDown.split('\n').filter((line) => line.includes('CREATE ROLE') && line.includes(`IN ROLE "${group}"`))).toEqual([]);

    await eventually(async () => ((await issue('token')).status === 201 ? true : undefined), {
      timeoutMs: 60_000,
      what: 'issuance to work again',
    });
    expect(issuer.logs).toMatch(/"leaseId":"[^"]+".*"msg":"lease issued"/);
    // No renewal was recorded, so the lease still ends when it did.
    const lease = await call(`${issuer.url}/v1/leases/${leaseId}`, { headers: json(await workloadToken()) });
    expect(lease).toMatchObject({ status: 200, expiresAt: leaseExpiresAt });
    // The refused emergency rotation stored nothing: this request id now starts it (202, not 200).
    const emergency = await eventually(
      async () => {
        const response = await fetch(`${revoker.url}/v1/emergency-rotations`, {
          method: 'POST',
          headers: json(sre),
          body: JSON.stringify({ selector: { namespace }, mode: 'immediate', reason: 'fail-fast test', requestId: emergencyRequestId }),
        });
        return response.status === 503 ? undefined : { status: response.status, id: ((await response.json()) as { id: string }).id };
      },
      { timeoutMs: 30_000, what: 'the emergency rotation to start once Kafka is back' },
    );
    emergencyId = emergency.id;
    expect(emergency.status).toBe(202);
    // The distributor answers again (400: a version it does not know) and the refused report published nothing.
    await eventually(async () => ((await reportFindings()).code === 'unknown-version' ? true : undefined), {
      timeoutMs: 30_000,
      what: 'the distributor to answer findings again',
    });
    const published = (await readRotorTopicsSince(started)).filter((message) => message.value.includes(reportedPath));
    expect(published).toEqual([]);
  }, 180_000);
});
