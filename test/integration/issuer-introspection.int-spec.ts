import { randomBytes } from 'node:crypto';

import { ServiceProcess } from '../support/service-process';
import { TestIdentity } from '../support/test-identity';
import { ensurePortFree, writeTempCatalog } from '../support/temp-files';

const RUN = randomBytes(3).toString('hex');
const NAMESPACE = `it-introspect-${RUN}`;
const ROLE = `introspect-${RUN}`;

const CATALOG = `
roles:
  - name: ${ROLE}
    owner: team-it
    backend: { kind: opaque-token }
    bindings: [{ namespace: ${NAMESPACE}, serviceAccount: client }]
    ttl: 5m
    maxTtl: 5m
introspection:
  allowed:
    - { namespace: ${NAMESPACE}, serviceAccount: resource-server }
    - { namespace: ${NAMESPACE}, serviceAccount: busy-server }
`;

interface Answer {
  status: number;
  contentType: string;
  retryAfter: string | null;
  body: { active?: boolean; lease_id?: string; code?: string };
}

describe('token introspection is for allowlisted resource servers and rotor:introspect operators, at a bounded rate', () => {
  let identity: TestIdentity;
  let issuer: ServiceProcess;
  let credential: string;
  let leaseId: string;

  beforeAll(async () => {
    identity = await TestIdentity.create();
    issuer = new ServiceProcess('issuer', 19851, {
      ...identity.env,
      ROTOR_CATALOG: writeTempCatalog(CATALOG),
      ROTOR_TOKEN_HASH_KEY: randomBytes(32).toString('hex'),
      // 5 at once, then one every 10 s: slow enough that no token comes back during a test.
      ROTOR_INTROSPECTION_RATE_PER_MINUTE: '6',
      ROTOR_INTROSPECTION_BURST: '5',
      LOG_LEVEL: 'info',
    });
    await ensurePortFree(issuer.port);
    await issuer.start().ready();
    const response = await fetch(`${issuer.url}/v1/credentials`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await identity.serviceAccountToken(NAMESPACE, 'client')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ role: ROLE }),
    });
    expect(response.status).toBe(201);
    ({
      leaseId,
      credential: { token: credential },
    } = (await response.json()) as { leaseId: string; credential: { token: string } });
  }, 120_000);

  afterAll(async () => {
    await issuer?.stop();
  });

  const introspect = async (bearer: string): Promise<Answer> => {
    const response = await fetch(`${issuer.url}/v1/introspect`, {
      method: 'POST',
      headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: credential }).toString(),
    });
    return {
      status: response.status,
      contentType: response.headers.get('content-type') ?? '',
      retryAfter: response.headers.get('retry-after'),
      body: (await response.json()) as Answer['body'],
    };
  };

  it('answers a resource server named in the catalog allowlist', async () => {
    const answer = await introspect(await identity.serviceAccountToken(NAMESPACE, 'resource-server'));
    expect({ status: answer.status, body: answer.body }).toMatchObject({ status: 200, body: { active: true, lease_id: leaseId } });
  });

  it.each([
    ['the workload holding the token itself', () => identity.serviceAccountToken(NAMESPACE, 'client')],
    ['a service account of the same name in another namespace', () => identity.serviceAccountToken(`${NAMESPACE}-x`, 'resource-server')],
    ['an operator without rotor:introspect', () => identity.operatorToken('sre@example.com', ['rotor:sre'])],
  ])('refuses %s with 403 problem+json, telling nothing about the token', async (_who, token) => {
    const answer = await introspect(await token());
    expect({
      status: answer.status,
      problemJson: answer.contentType.startsWith('application/problem+json'),
      code: answer.body.code,
    }).toEqual({ status: 403, problemJson: true, code: 'introspection-not-allowed' });
    expect(answer.body).not.toHaveProperty('active');
  });

  it('answers an operator in rotor:introspect', async () => {
    const answer = await introspect(await identity.operatorToken('resource-admin@example.com', ['rotor:introspect']));
    expect({ status: answer.status, active: answer.body.active }).toEqual({ status: 200, active: true });
  });

  it('answers 429 problem+json with Retry-After once a caller exceeds its rate, while another caller is unaffected', async () => {
    const busy = await identity.serviceAccountToken(NAMESPACE, 'busy-server');
    const answers = await Promise.all(Array.from({ length: 8 }, () => introspect(busy)));
    const limited = answers.filter((answer) => answer.status === 429);
    expect({ ok: answers.filter((answer) => answer.status === 200).length, limited: limited.length }).toEqual({ ok: 5, limited: 3 });
    for (const answer of limited) {
      expect(answer.contentType).toMatch(/^application\/problem\+json/);
      expect(answer.body.code).toBe('introspection-rate-limited');
      expect(Number(answer.retryAfter)).toBeGreaterThan(0);
    }
    expect((await introspect(await identity.serviceAccountToken(NAMESPACE, 'resource-server'))).status).toBe(200);
  });
});
