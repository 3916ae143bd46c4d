import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:net';

import { eventually } from '../support/eventually';
import { ServiceProcess } from '../support/service-process';
import { PrivateRedis } from '../support/private-redis';
import { TestIdentity } from '../support/test-identity';
import { ensurePortFree, writeTempCatalog } from '../support/temp-files';

const CATALOG = `
roles:
  - name: readiness-token
    owner: team-it
    backend: { kind: opaque-token }
    bindings:
      - { namespace: readiness, serviceAccount: worker }
    ttl: 1m
    maxTtl: 5m
`;

interface ReadinessReport {
  ready: boolean;
  checks: Record<string, { ok: boolean; reason?: string; ms: number }>;
}

/** A loopback port nothing listens on right now. */
const sparePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });

const readyz = async (service: ServiceProcess): Promise<{ status: number; report: ReadinessReport }> => {
  const response = await fetch(`${service.url}/readyz`);
  return { status: response.status, report: (await response.json()) as ReadinessReport };
};

describe('issuer readiness follows its dependencies', () => {
  let redis: PrivateRedis;
  let issuer: ServiceProcess;
  let identity: TestIdentity;

  beforeAll(async () => {
    identity = await TestIdentity.create();
    redis = new PrivateRedis(await sparePort());
    await redis.start();
    issuer = new ServiceProcess('issuer', 18180, {
      ...identity.env,
      ROTOR_CATALOG: writeTempCatalog(CATALOG),
      ROTOR_TOKEN_HASH_KEY: randomBytes(32).toString('hex'),
      REDIS_URL: redis.url,
      LOG_LEVEL: 'info',
    });
    await ensurePortFree(issuer.port);
    await issuer.start().ready();
  }, 120_000);

  afterAll(async () => {
    await issuer?.stop();
    await redis?.shutdown().catch(() => undefined);
    await redis?.kill();
  });

  it('is ready, with Kafka, Redis and GSM each reported ok, when all of them answer', async () => {
    const { status, report } = await readyz(issuer);
    expect(status).toBe(200);
    expect(report.ready).toBe(true);
    expect(report.checks).toMatchObject({ kafka: { ok: true }, redis: { ok: true }, gsm: { ok: true } });
  });

  it('answers 503 naming Redis while its Redis is down, stays live, and is ready again once Redis is back on the same port', async () => {
    await redis.shutdown();

    const down = await eventually(
      async () => {
        const answer = await readyz(issuer);
        return answer.status === 503 ? answer.report : undefined;
      },
      { timeoutMs: 20_000, what: '/readyz to answer 503 after Redis stopped' },
    );
    expect(down.ready).toBe(false);
    expect(down.checks['redis']?.ok).toBe(false);
    // A reason class, never the driver's text (host names, users).
    expect(down.checks['redis']).toMatchObject({ ok: false, reason: expect.stringMatching(/^(unreachable|timeout|unavailable)$/) });
    expect(JSON.stringify(down)).not.toMatch(/127\.0\.0\.1|ECONN|Error/);
    expect(down.checks['kafka']).toMatchObject({ ok: true });
    expect(down.checks['gsm']).toMatchObject({ ok: true });
    // Only Redis is named: every other dependency still answers.
    expect(
      Object.entries(down.checks)
        .filter(([, check]) => !check.ok)
        .map(([name]) => name),
    ).toEqual(['redis']);

    const health = await fetch(`${issuer.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });

    await redis.start();
    const up = await eventually(
      async () => {
        const answer = await readyz(issuer);
        return answer.status === 200 ? answer.report : undefined;
      },
      { timeoutMs: 30_000, what: '/readyz to answer 200 after Redis came back' },
    );
    expect(up.ready).toBe(true);
    expect(up.checks['redis']).toMatchObject({ ok: true });
  }, 90_000);

  it('answers a lease read with 503 problem+json, not 500, while Redis is down', async () => {
    const token = await identity.serviceAccountToken('readiness', 'worker');
    await redis.shutdown();
    try {
      const response = await fetch(`${issuer.url}/v1/leases/${randomUUID()}`, { headers: { authorization: `Bearer ${token}` } });
      const problem = (await response.json()) as { status: number; code: string };
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect({ httpStatus: response.status, problemStatus: problem.status }).toEqual({ httpStatus: 503, problemStatus: 503 });
    } finally {
      await redis.start();
      await issuer.ready(30_000);
    }
  }, 90_000);
});

describe('issuer refuses to start with bad configuration', () => {
  let identity: TestIdentity;
  let catalogFile: string;
  const started: ServiceProcess[] = [];

  const boot = (port: number, env: Record<string, string>): ServiceProcess => {
    const service = new ServiceProcess('issuer', port, {
      ...identity.env,
      ROTOR_CATALOG: catalogFile,
      ROTOR_TOKEN_HASH_KEY: randomBytes(32).toString('hex'),
      LOG_LEVEL: 'info',
      ...env,
    });
    started.push(service);
    return service.start();
  };

  beforeAll(async () => {
    identity = await TestIdentity.create();
    catalogFile = writeTempCatalog(CATALOG);
  });

  afterAll(async () => {
    await Promise.all(started.map((service) => service.kill()));
  });

  it('exits non-zero naming REDIS_URL, without echoing its value, when REDIS_URL is not a redis URL', async () => {
    const canary = `canary${randomBytes(6).toString('hex')}`;
    const issuer = boot(18181, { REDIS_URL: `http://${canary}.invalid:6379` });
    const code = await issuer.exitCode();
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    expect(issuer.logs).toMatch(/REDIS_URL: must be a redis or rediss URL/);
    expect(issuer.logs).not.toContain(canary);
  });

  it('exits non-zero naming ROTOR_TOKEN_HASH_KEY when it is missing', async () => {
    const issuer = boot(18182, { ROTOR_TOKEN_HASH_KEY: '' });
    const code = await issuer.exitCode();
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    expect(issuer.logs).toMatch(/ROTOR_TOKEN_HASH_KEY: is required/);
  });

  it('exits non-zero naming ROTOR_TOKEN_HASH_KEY, without echoing the key, when it is too short', async () => {
    const canary = `k${randomBytes(6).toString('hex')}`;
    const issuer = boot(18183, { ROTOR_TOKEN_HASH_KEY: canary });
    const code = await issuer.exitCode();
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    expect(issuer.logs).toMatch(/ROTOR_TOKEN_HASH_KEY: must be at least 32 characters/);
    expect(issuer.logs).not.toContain(canary);
  });

  it('stops with a message naming the line and field when the catalog has an invalid ttl', async () => {
    const badCatalog = writeTempCatalog(
      [
        'roles:', //                                      line 1
        '  - name: broken-token', //                      line 2
        '    owner: team-it', //                          line 3
        '    backend: { kind: opaque-token }', //         line 4
        '    bindings:', //                               line 5
        '      - { namespace: it, serviceAccount: app }', // line 6
        '    ttl: soon', //                               line 7
        '    maxTtl: 5m', //                              line 8
        '',
      ].join('\n'),
    );
    const issuer = boot(18184, { ROTOR_CATALOG: badCatalog });
    const code = await issuer.exitCode();
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    expect(issuer.logs).toContain('line 7: roles[0].ttl: must be a duration');
    expect(issuer.logs).not.toContain('issuer listening');
  });
});
