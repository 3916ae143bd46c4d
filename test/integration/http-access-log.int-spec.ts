import { randomBytes } from 'node:crypto';

import { eventually } from '../support/eventually';
import { insecureStack } from '../support/principals';
import { ServiceProcess } from '../support/service-process';
import { TestIdentity } from '../support/test-identity';
import { ensurePortFree, writeTempCatalog } from '../support/temp-files';

const RUN = randomBytes(3).toString('hex');
const NAMESPACE = `it-access-${RUN}`;
const ROLE = `access-log-${RUN}`;
const CANARY = `canary-${RUN}-access`;

const CATALOG = `
roles:
  - name: ${ROLE}
    owner: team-it
    backend: { kind: opaque-token }
    bindings:
      - { namespace: ${NAMESPACE}, serviceAccount: worker }
    ttl: 1m
    maxTtl: 5m
`;

type LogLine = Record<string, unknown>;

/** The JSON log lines a service wrote, skipping anything else on its output. */
const logLines = (service: ServiceProcess): LogLine[] =>
  service.logs.split('\n').flatMap((line) => {
    try {
      return [JSON.parse(line) as LogLine];
    } catch {
      return [];
    }
  });

describe("a real service's access log and certificate expiry", () => {
  let identity: TestIdentity;
  let issuer: ServiceProcess;

  beforeAll(async () => {
    identity = await TestIdentity.create();
    issuer = new ServiceProcess('issuer', 19160, {
      ...identity.env,
      ROTOR_CATALOG: writeTempCatalog(CATALOG),
      ROTOR_TOKEN_HASH_KEY: randomBytes(32).toString('hex'),
      LOG_LEVEL: 'info',
    });
    await ensurePortFree(issuer.port);
    await issuer.start().ready();
  }, 120_000);

  afterAll(() => issuer?.stop());

  it('writes one line per request, with route template, status, duration and caller kind, never the tokens it carried', async () => {
    const workloadToken = await identity.serviceAccountToken(NAMESPACE, 'worker');
    const issued = await fetch(`${issuer.url}/v1/credentials?access_token=${CANARY}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${workloadToken}`, 'content-type': 'application/json', cookie: `session=${CANARY}` },
      body: JSON.stringify({ role: ROLE }),
    });
    expect(issued.status).toBe(201);
    const credential = JSON.stringify(await issued.json());
    const refused = await fetch(`${issuer.url}/v1/leases/${CANARY}`, { headers: { authorization: `Bearer ${CANARY}` } });
    expect(refused.status).toBe(401);

    const access = await eventually(
      async () => {
        const lines = logLines(issuer).filter((line) => line['component'] === 'http' && line['level'] !== 'debug');
        return lines.length >= 2 ? lines : undefined;
      },
      { timeoutMs: 10_000, what: 'two access log lines' },
    );
    expect(access).toEqual([
      expect.objectContaining({
        level: 'info',
        method: 'POST',
        route: '/v1/credentials',
        status: 201,
        caller: 'workload',
        service: 'issuer',
      }),
      expect.objectContaining({ level: 'warn', method: 'GET', route: '/v1/leases/:id', status: 401, caller: 'anonymous' }),
    ]);
    for (const line of access) expect(line['durationMs']).toEqual(expect.any(Number));
    expect(issuer.logs).not.toContain(CANARY);
    expect(issuer.logs).not.toContain(workloadToken);
    expect(issuer.logs).not.toContain(/"token":"([^"]+)"/.exec(credential)![1]);
  });

  it('exports the expiry of the certificates it serves and trusts on /metrics', async () => {
    const text = await (await fetch(`${issuer.url}/metrics`)).text();
    const expiries = Object.fromEntries(
      [...text.matchAll(/^rotor_tls_certificate_expiry_timestamp_seconds\{certificate="([^"]+)",[^}]*\} (\S+)$/gm)].map(
        ([, name, value]) => [name, Number(value)],
      ),
    );
    // An explicitly insecure stack (ROTOR_INSECURE_LOCAL=1) loads no certificate at all.
    const expected = insecureStack() ? [] : ['kafka-ca', 'postgres-ca', 'redis-ca', 'server'];
    expect(Object.keys(expiries).sort()).toEqual(expected);
    for (const seconds of Object.values(expiries)) expect(seconds).toBeGreaterThan(Date.now() / 1000);
  });
});
