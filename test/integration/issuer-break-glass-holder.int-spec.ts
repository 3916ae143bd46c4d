import { randomBytes } from 'node:crypto';

import type { Redis } from '@rotor/redis-store';
import type { BreakGlassGrant } from '@rotor/rest-contract';

import { redisFromEnv } from '../../tools/security/env-clients';
import { requiredEnv } from '../support/services-env';
import { ServiceProcess } from '../support/service-process';
import { TestIdentity } from '../support/test-identity';
import { ensurePortFree, writeTempCatalog } from '../support/temp-files';

const RUN = randomBytes(3).toString('hex');
const NAMESPACE = `it-bg-${RUN}`;
const ROLE = `bg-role-${RUN}`;
const SRE = `oncall-${RUN}@example.com`;
/** The made-up workload break-glass leases used to be issued to: rotor-break-glass/<subject as a DNS label>. */
const STAND_IN = { namespace: 'rotor-break-glass', serviceAccount: `oncall-${RUN}-example-com` };

const CATALOG = `
policy: { breakGlassMaxTtl: 30m }
roles:
  - name: ${ROLE}
    owner: team-it
    backend: { kind: opaque-token }
    bindings: [{ namespace: ${NAMESPACE}, serviceAccount: app }]
    ttl: 5m
    maxTtl: 30m
introspection:
  allowed: [{ namespace: ${NAMESPACE}, serviceAccount: resource-server }]
`;

describe('break-glass leases are held by the operator, in a form no workload token can match', () => {
  let identity: TestIdentity;
  let issuer: ServiceProcess;
  let redis: Redis;

  beforeAll(async () => {
    identity = await TestIdentity.create();
    redis = redisFromEnv(requiredEnv('REDIS_URL'));
    issuer = new ServiceProcess('issuer', 19852, {
      ...identity.env,
      ROTOR_CATALOG: writeTempCatalog(CATALOG),
      ROTOR_TOKEN_HASH_KEY: randomBytes(32).toString('hex'),
      LOG_LEVEL: 'info',
    });
    await ensurePortFree(issuer.port);
    await issuer.start().ready();
  }, 120_000);

  afterAll(async () => {
    await issuer?.stop();
    redis?.disconnect();
  });

  const call = async (method: string, path: string, token: string, body?: unknown) => {
    const response = await fetch(`${issuer.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  const openBreakGlass = async (): Promise<Required<BreakGlassGrant>> => {
    const answer = await call('POST', '/v1/break-glass', await identity.operatorToken(SRE, ['rotor:sre']), {
      role: ROLE,
      reason: 'database on fire, need direct access',
      ticket: `INC-${RUN}`,
      ttl: '10m',
    });
    expect(answer.status).toBe(201);
    return answer.body as unknown as Required<BreakGlassGrant>;
  };

  /** What the workload that shares the old stand-in's name can do to the lease: nothing. */
  const standInAnswers = async (leaseId: string) => {
    const token = await identity.serviceAccountToken(STAND_IN.namespace, STAND_IN.serviceAccount);
    return {
      read: (await call('GET', `/v1/leases/${leaseId}`, token)).status,
      renew: (await call('POST', `/v1/leases/${leaseId}/renew`, token, { ttl: '20m' })).status,
      revoke: (await call('DELETE', `/v1/leases/${leaseId}`, token)).status,
    };
  };

  const introspect = async (credential: string) => {
    const response = await fetch(`${issuer.url}/v1/introspect`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await identity.serviceAccountToken(NAMESPACE, 'resource-server')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ token: credential }).toString(),
    });
    expect(response.status).toBe(200);
    return (await response.json()) as { active: boolean; sub?: string };
  };

  it("refuses the stand-in workload's service account on the operator's lease, and introspection names the operator", async () => {
    const grant = await openBreakGlass();
    expect(await standInAnswers(grant.role.leaseId)).toEqual({ read: 403, renew: 403, revoke: 403 });
    expect(await introspect(grant.role.credential['token']!)).toMatchObject({ active: true, sub: SRE });
  });

  it('hands a live break-glass lease issued before the upgrade to an operator holder, and it keeps working and counting', async () => {
    const grant = await openBreakGlass();
    const leaseId = grant.role.leaseId;
    const expiresAt = Date.parse((await redis.hget(`issuer:lease:{${leaseId}}`, 'expiresAt'))!);
    // Rewrite it as the previous release kept it: issued to the stand-in workload, counted in the previous quota layout.
    await redis
      .multi()
      .hset(`issuer:lease:{${leaseId}}`, 'workload', JSON.stringify(STAND_IN))
      .hdel(`issuer:lease:{${leaseId}}`, 'holder', 'holderSubject')
      .del(`issuer:active:{role:${ROLE}}:all`, `issuer:active:{role:${ROLE}}:holder:operator:${SRE}`)
      .zadd(`issuer:active:role:${ROLE}`, expiresAt, leaseId)
      .zadd(`issuer:active:workload:${STAND_IN.namespace}/${STAND_IN.serviceAccount}`, expiresAt, leaseId)
      .exec();

    await issuer.stop();
    await issuer.start().ready();

    expect(await standInAnswers(leaseId)).toEqual({ read: 403, renew: 403, revoke: 403 });
    // The operator's subject was never stored: the label stands in for it.
    expect(await introspect(grant.role.credential['token']!)).toMatchObject({ active: true, sub: STAND_IN.serviceAccount });
    expect(await redis.zscore(`issuer:active:{role:${ROLE}}:holder:operator:${STAND_IN.serviceAccount}`, leaseId)).toBe(String(expiresAt));
    expect(await redis.zscore(`issuer:active:{role:${ROLE}}:all`, leaseId)).toBe(String(expiresAt));
    expect(await redis.exists(`issuer:active:workload:${STAND_IN.namespace}/${STAND_IN.serviceAccount}`)).toBe(0);

    const ended = await call('DELETE', `/v1/break-glass/${grant.id}`, await identity.operatorToken(SRE, ['rotor:sre']));
    expect({ status: ended.status, state: ended.body['state'] }).toEqual({ status: 200, state: 'ending' });
  }, 120_000);
});
