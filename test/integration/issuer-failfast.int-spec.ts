/**
 * Fail fast (issue 15, item 0): while the broker hangs (SIGSTOP, as a partition or a stalled
 * JVM looks to a client), issuance answers 503 with Retry-After within 2 s instead of hanging
 * for ~100 s on kafkajs' retries, mints nothing once /readyz knows Kafka is down, and undoes
 * the credential of a request caught in between. The shared broker is resumed in any case.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { eventually } from '../support/eventually';
import { ServiceProcess } from '../support/service-process';
import { writeTempCatalog } from '../support/temp-files';
import { TestIdentity } from '../support/test-identity';

const KAFKA_PID = join(__dirname, '..', '..', '.rotor', 'run', 'kafka.pid');

describe('issuance while Kafka hangs', () => {
  const namespace = `failfast-${randomUUID().slice(0, 8)}`;
  let identity: TestIdentity;
  let issuer: ServiceProcess;
  let kafkaPid: number;
  let leaseId: string;

  /** Renew or revoke the control lease early: both need Kafka. */
  const onLease = async (method: 'POST' | 'DELETE') => {
    const started = Date.now();
    const response = await fetch(`${issuer.url}/v1/leases/${leaseId}${method === 'POST' ? '/renew' : ''}`, {
      method,
      headers: { authorization: `Bearer ${await identity.serviceAccountToken(namespace, 'app')}`, 'content-type': 'application/json' },
      ...(method === 'POST' ? { body: '{}' } : {}),
      signal: AbortSignal.timeout(30_000),
    });
    return { status: response.status, code: ((await response.json()) as { code?: string }).code, ms: Date.now() - started };
  };

  const request = async () => {
    const started = Date.now();
    const response = await fetch(`${issuer.url}/v1/credentials`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await identity.serviceAccountToken(namespace, 'app')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ role: 'token' }),
      signal: AbortSignal.timeout(30_000),
    });
    const body = (await response.json()) as { code?: string; leaseId?: string };
    return {
      status: response.status,
      retryAfter: response.headers.get('retry-after'),
      code: body.code,
      leaseId: body.leaseId,
      ms: Date.now() - started,
    };
  };

  beforeAll(async () => {
    kafkaPid = Number(readFileSync(KAFKA_PID, 'utf8').trim());
    identity = await TestIdentity.create();
    issuer = new ServiceProcess('issuer', 19650, {
      ...identity.env,
      ROTOR_TOKEN_HASH_KEY: randomBytes(32).toString('hex'),
      LOG_LEVEL: 'info',
      ROTOR_CATALOG: writeTempCatalog(`
roles:
  - name: token
    owner: team-test
    backend: { kind: opaque-token }
    bindings: [{ namespace: ${namespace}, serviceAccount: app }]
    ttl: 1m
    maxTtl: 5m
    quota: { perWorkload: 1000, perRole: 1000 }
`),
    });
    await issuer.start().ready();
    const control = await request(); // it issues while Kafka answers
    expect(control.status).toBe(201);
    leaseId = control.leaseId!;
  }, 90_000);

  afterAll(async () => {
    if (kafkaPid) execFileSync('kill', ['-CONT', String(kafkaPid)]);
    await issuer?.stop();
  });

  it('answers 503 within 2 s, mints nothing once /readyz knows, and recovers when Kafka is back', async () => {
    execFileSync('kill', ['-STOP', String(kafkaPid)]);
    try {
      // Caught before the probes notice: the produce is bounded, the credential undone.
      const early = await request();
      expect(early).toMatchObject({ status: 503 });
      expect(early.ms).toBeLessThan(2_500);

      await eventually(
        async () => {
          const body = (await (await fetch(`${issuer.url}/readyz`)).json()) as { checks: Record<string, { ok: boolean }> };
          return body.checks['kafka']?.ok === false ? true : undefined;
        },
        { timeoutMs: 15_000, what: '/readyz to report Kafka down' },
      );

      const answers = await Promise.all(Array.from({ length: 50 }, () => request()));
      for (const answer of answers) {
        expect(answer).toMatchObject({ status: 503, code: 'kafka-unavailable' }); // refused before anything was minted
        expect(answer.retryAfter).toBeTruthy();
        expect(answer.ms).toBeLessThan(2_000);
      }
      for (const method of ['POST', 'DELETE'] as const) {
        const answer = await onLease(method);
        expect(answer).toMatchObject({ status: 503, code: 'kafka-unavailable' });
        expect(answer.ms).toBeLessThan(2_000);
      }
    } finally {
      execFileSync('kill', ['-CONT', String(kafkaPid)]);
    }
    await eventually(async () => ((await request()).status === 201 ? true : undefined), {
      timeoutMs: 60_000,
      what: 'issuance to work again',
    });
    expect(issuer.logs).toMatch(/"leaseId":"[^"]+".*"msg":"lease issued"/);
  }, 120_000);
});
