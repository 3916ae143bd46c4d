import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { exportJWK, generateKeyPair, SignJWT, type KeyLike } from 'jose';

import {
  IssuedCredentialSchema,
  LeaseRevocationSchema,
  LeaseViewSchema,
  ProblemDetailsSchema,
  restComponents,
  type IssuedCredential,
  type LeaseRevocation,
  type LeaseView,
  type ProblemDetails,
} from '@rotor/rest-contract';

import { kafkaFromEnv } from '../../tools/security/env-clients';
import { eventually } from '../support/eventually';
import { startGroupAtEnd } from '../support/kafka-groups';
import { PrivateAuditLog } from '../support/private-audit-log';
import { ServiceProcess } from '../support/service-process';
import { TEST_AUDIENCE, TEST_ISSUER, TestIdentity } from '../support/test-identity';
import { ensurePortFree, writeTempCatalog } from '../support/temp-files';

const RUN = randomBytes(3).toString('hex');
const NAMESPACE = `it-http-${RUN}`;
const WORK_ROLE = `http-work-${RUN}`;
const OTHER_ROLE = `http-other-${RUN}`;
const LATE_ROLE = `http-late-${RUN}`;

const CATALOG = `
roles:
  - name: ${WORK_ROLE}
    owner: team-it
    backend: { kind: opaque-token }
    bindings:
      - { namespace: ${NAMESPACE}, serviceAccount: "app-*" }
    ttl: 1m
    maxTtl: 5m
    quota: { perWorkload: 2 }
  - name: ${OTHER_ROLE}
    owner: team-other
    backend: { kind: opaque-token }
    bindings:
      - { namespace: ${NAMESPACE}, serviceAccount: owner-only }
    ttl: 1m
    maxTtl: 5m
  - name: ${LATE_ROLE}
    owner: team-it
    backend: { kind: opaque-token }
    bindings:
      - { namespace: ${NAMESPACE}, serviceAccount: "late-*" }
    ttl: 3s
    maxTtl: 2m
    quota: { perWorkload: 100 }
introspection:
  allowed:
    - { namespace: ${NAMESPACE}, serviceAccount: app-a }
    - { namespace: ${NAMESPACE}, serviceAccount: late-renew }
`;

const TRUSTED_KID = 'it-http';

interface SignOptions {
  key?: 'trusted' | 'rogue';
  kid?: string;
  issuer?: string;
  audience?: string;
  /** Seconds since the epoch. */
  expiresAt?: number;
}

/**
 * A token issuer whose public key the services trust through ROTOR_JWKS, plus a rogue key
 * they do not trust: what the 401 cases (expired, wrong key, wrong audience or issuer) need.
 */
class LocalTokenIssuer {
  private constructor(
    private readonly trusted: KeyLike,
    private readonly rogue: KeyLike,
    private readonly operators: TestIdentity,
    readonly jwksFile: string,
  ) {}

  static async create(): Promise<LocalTokenIssuer> {
    const trusted = await generateKeyPair('ES256');
    const rogue = await generateKeyPair('ES256');
    const jwksFile = join(mkdtempSync(join(tmpdir(), 'rotor-identity-')), 'jwks.json');
    writeFileSync(
      jwksFile,
      JSON.stringify({ keys: [{ ...(await exportJWK(trusted.publicKey)), kid: TRUSTED_KID, alg: 'ES256', use: 'sig' }] }),
    );
    return new LocalTokenIssuer(trusted.privateKey, rogue.privateKey, await TestIdentity.create(), jwksFile);
  }

  get env(): Record<string, string> {
    // The operator issuer's settings from TestIdentity; the service-account issuer's are this one's.
    return { ...this.operators.env, ROTOR_JWKS: this.jwksFile, ROTOR_TOKEN_ISSUER: TEST_ISSUER, ROTOR_TOKEN_AUDIENCE: TEST_AUDIENCE };
  }

  workload(serviceAccount: string, options: SignOptions = {}): Promise<string> {
    return this.sign(
      {
        sub: `system:serviceaccount:${NAMESPACE}:${serviceAccount}`,
        'kubernetes.io': { namespace: NAMESPACE, serviceaccount: { name: serviceAccount, uid: 'sa-uid' } },
      },
      options,
    );
  }

  /** A person's token, from the operator issuer. */
  operator(subject: string, groups: string[]): Promise<string> {
    return this.operators.operatorToken(subject, groups);
  }

  /** A token of the service-account issuer claiming operator groups (Kubernetes never issues one). */
  clusterTokenWithGroups(subject: string, groups: string[]): Promise<string> {
    return this.sign({ sub: subject, groups }, {});
  }

  private sign(claims: Record<string, unknown>, options: SignOptions): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const expiresAt = options.expiresAt ?? now + 600;
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: options.kid ?? TRUSTED_KID })
      .setIssuer(options.issuer ?? TEST_ISSUER)
      .setAudience(options.audience ?? TEST_AUDIENCE)
      .setIssuedAt(Math.min(now, expiresAt - 600))
      .setExpirationTime(expiresAt)
      .sign(options.key === 'rogue' ? this.rogue : this.trusted);
  }
}

/** What the lease routes answer: the view, with the credential once (issue) or the revocation outcome (DELETE). */
type LeaseAnswer = LeaseView & Partial<Pick<IssuedCredential, 'credential'> & Pick<LeaseRevocation, 'revocation'>>;

interface Answer<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

describe('issuer HTTP API, run as real processes with the revoker and auditor', () => {
  let tokens: LocalTokenIssuer;
  let services: Record<'issuer' | 'revoker' | 'auditor', ServiceProcess>;
  const kafka = kafkaFromEnv('rotor-test-issuer-http');
  const audit = new PrivateAuditLog(kafka, 'issuer-http');

  beforeAll(async () => {
    tokens = await LocalTokenIssuer.create();
    await audit.create();
    const catalogFile = writeTempCatalog(CATALOG);
    const env = {
      ...tokens.env,
      ROTOR_CATALOG: catalogFile,
      ROTOR_TOKEN_HASH_KEY: randomBytes(32).toString('hex'),
      ROTOR_AUDIT_KEY: randomBytes(32).toString('hex'),
      ROTOR_REVOKE_POLL_MS: '100',
      LOG_LEVEL: 'info',
    };
    services = {
      issuer: new ServiceProcess('issuer', 18280, env),
      revoker: new ServiceProcess('revoker', 18281, env),
      auditor: new ServiceProcess('auditor', 18283, {
        ...env,
        ...audit.env(),
      }),
    };
    for (const service of Object.values(services)) await ensurePortFree(service.port);
    // The revoker's TTL clock starts past the shared topics' backlog (thousands of earlier
    // suites' events, which it would otherwise track first): this suite waits for its own
    // leases' revocations, and a fresh CI broker put them behind that backlog for over 45 s.
    await startGroupAtEnd(kafka, 'rotor-revoker-clock');
    await Promise.all(Object.values(services).map((service) => service.start().ready()));
  }, 120_000);

  afterAll(async () => {
    await Promise.all(Object.values(services ?? {}).map((service) => service.stop()));
    await audit.drop();
  });

  const call = async <T = unknown>(
    method: string,
    path: string,
    { token, body, headers = {} }: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<Answer<T>> => {
    const response = await fetch(`${services.issuer.url}${path}`, {
      method,
      headers: {
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: (text ? JSON.parse(text) : undefined) as T };
  };

  const expectProblem = (answer: Answer, status: number, code: string, field?: string): ProblemDetails => {
    const problem = answer.body as ProblemDetails;
    const problemJson = /^application\/problem\+json/.test(answer.headers.get('content-type') ?? '');
    expect({ httpStatus: answer.status, problemJson, status: problem.status, code: problem.code }).toEqual({
      httpStatus: status,
      problemJson: true,
      status,
      code,
    });
    if (field !== undefined) expect(problem.field).toBe(field);
    return problem;
  };

  const issue = async (
    serviceAccount: string,
    body: Record<string, unknown> = { role: WORK_ROLE },
    headers: Record<string, string> = {},
  ) => {
    const answer = await call<LeaseAnswer>('POST', '/v1/credentials', { token: await tokens.workload(serviceAccount), body, headers });
    expect(answer.status).toBe(201);
    return answer.body;
  };

  const introspect = async (credential: string, serviceAccount = 'app-a') => {
    const answer = await call<Record<string, unknown>>('POST', '/v1/introspect', {
      token: await tokens.workload(serviceAccount),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: credential }).toString(),
    });
    expect(answer.status).toBe(200);
    return answer.body;
  };

  const revokedState = async (serviceAccount: string, leaseId: string): Promise<LeaseAnswer> => {
    const token = await tokens.workload(serviceAccount);
    return eventually(
      async () => {
        const answer = await call<LeaseAnswer>('GET', `/v1/leases/${leaseId}`, { token });
        return answer.body.state === 'revoked' ? answer.body : undefined;
      },
      // Normally well under a second; generous because a consumer-group rebalance (another issuer joining) can hold it up.
      { timeoutMs: 45_000, what: `lease ${leaseId} to be revoked` },
    );
  };

  describe('a workload reaches only its own leases', () => {
    it('answers 403 not-your-lease to another workload reading, renewing or revoking a lease, and leaves the lease untouched', async () => {
      const lease = await issue('app-a');
      const otherToken = await tokens.workload('app-b');

      expectProblem(await call('GET', `/v1/leases/${lease.leaseId}`, { token: otherToken }), 403, 'not-your-lease');
      expectProblem(
        await call('POST', `/v1/leases/${lease.leaseId}/renew`, { token: otherToken, body: { ttl: '2m' } }),
        403,
        'not-your-lease',
      );
      expectProblem(await call('DELETE', `/v1/leases/${lease.leaseId}`, { token: otherToken }), 403, 'not-your-lease');

      const afterwards = await call<LeaseAnswer>('GET', `/v1/leases/${lease.leaseId}`, { token: await tokens.workload('app-a') });
      expect(afterwards.status).toBe(200);
      expect(afterwards.body).toMatchObject({ leaseId: lease.leaseId, state: 'active', expiresAt: lease.expiresAt });
    });

    it('lets the owning workload read, renew and revoke its lease, after which the lease is revoked and introspection says inactive', async () => {
      const lease = await issue('app-a');
      const ownerToken = await tokens.workload('app-a');
      const credential = lease.credential!['token']!;
      expect(await introspect(credential)).toMatchObject({ active: true, lease_id: lease.leaseId });

      const read = await call<LeaseAnswer>('GET', `/v1/leases/${lease.leaseId}`, { token: ownerToken });
      expect(read.status).toBe(200);
      expect(read.body).toMatchObject({ leaseId: lease.leaseId, state: 'active' });
      expect(read.body).not.toHaveProperty('credential');

      const renewed = await call<LeaseAnswer>('POST', `/v1/leases/${lease.leaseId}/renew`, { token: ownerToken, body: { ttl: '2m' } });
      expect(renewed.status).toBe(200);
      expect(new Date(renewed.body.expiresAt).getTime()).toBeGreaterThan(new Date(lease.expiresAt).getTime());

      const revoked = await call<LeaseAnswer>('DELETE', `/v1/leases/${lease.leaseId}`, { token: ownerToken });
      expect(revoked.status).toBe(202);
      expect(revoked.body).toMatchObject({ leaseId: lease.leaseId, revocation: 'requested' });

      const final = await revokedState('app-a', lease.leaseId);
      expect(final.revocationReason).toBe('requested');
      expect(await introspect(credential)).toEqual({ active: false });
    });
  });

  it('refuses credentials to an operator token with 403 workloads-only', async () => {
    const token = await tokens.operator('sre@example.com', ['rotor:sre']);
    expectProblem(await call('POST', '/v1/credentials', { token, body: { role: WORK_ROLE } }), 403, 'workloads-only');
  });

  it('never grants operator rights to a token of the service-account issuer, whatever groups it claims', async () => {
    const forged = await tokens.clusterTokenWithGroups('sre@example.com', ['rotor:sre']);
    const body = { reason: 'database on fire, incident 42', ticket: 'INC-42', ttl: '15m', secrets: ['app-key'] };
    expectProblem(await call('POST', '/v1/break-glass', { token: forged, body }), 401, 'unknown-subject');
    // The same person from the operator issuer is an operator: refused here for the request, not the identity.
    const signedIn = await call('POST', '/v1/break-glass', { token: await tokens.operator('sre@example.com', ['rotor:auditor']), body });
    expectProblem(signedIn, 403, 'missing-group');
  });

  it('serves an OpenAPI 3.1 document whose lease schemas its real answers match', async () => {
    const docs = await call<{
      openapi: string;
      paths: Record<string, Record<string, { responses: Record<string, { content: Record<string, { schema: unknown }> }> }>>;
      components: { schemas: Record<string, unknown> };
    }>('GET', '/docs/json');
    expect(docs.body.openapi).toBe('3.1.0');
    const answerSchema = (path: string, method: string, status: string, type = 'application/json') =>
      docs.body.paths[path]?.[method]?.responses[status]?.content[type]?.schema;
    expect({
      issue: answerSchema('/v1/credentials', 'post', '201'),
      read: answerSchema('/v1/leases/{id}', 'get', '200'),
      revoke: answerSchema('/v1/leases/{id}', 'delete', '202'),
      problem: answerSchema('/v1/leases/{id}', 'get', 'default', 'application/problem+json'),
    }).toEqual({
      issue: { $ref: '#/components/schemas/IssuedCredential' },
      read: { $ref: '#/components/schemas/LeaseView' },
      revoke: { $ref: '#/components/schemas/LeaseRevocation' },
      problem: { $ref: '#/components/schemas/ProblemDetails' },
    });
    const components = restComponents();
    for (const name of ['IssuedCredential', 'LeaseView', 'LeaseRevocation', 'ProblemDetails'])
      expect(docs.body.components.schemas[name]).toEqual(components[name]);

    // Parsing strips fields a schema does not name: equal means every field sent is documented.
    const documented = (schema: { parse(value: unknown): unknown }, body: unknown) => expect(schema.parse(body)).toEqual(body);
    const token = await tokens.workload('app-docs');
    const issued = await issue('app-docs');
    documented(IssuedCredentialSchema, issued);
    documented(LeaseViewSchema, (await call('GET', `/v1/leases/${issued.leaseId}`, { token })).body);
    documented(LeaseViewSchema, (await call('POST', `/v1/leases/${issued.leaseId}/renew`, { token, body: {} })).body);
    documented(LeaseRevocationSchema, (await call('DELETE', `/v1/leases/${issued.leaseId}`, { token })).body);
    documented(ProblemDetailsSchema, (await call('GET', '/v1/leases/not-a-uuid', { token })).body);
  });

  describe('answers 401 problem+json to a caller it cannot authenticate', () => {
    const now = () => Math.floor(Date.now() / 1000);
    const cases: [string, () => Promise<Record<string, string>>, string, RegExp][] = [
      ['no Authorization header', async () => ({}), 'missing-token', /bearer token is required/],
      [
        'a Basic Authorization header',
        async () => ({ authorization: 'Basic YWxhZGRpbjpvcGVuc2VzYW1l' }),
        'malformed-authorization',
        /Bearer <token>/,
      ],
      ['"Bearer" without a token', async () => ({ authorization: 'Bearer' }), 'malformed-authorization', /Bearer <token>/],
      ['a bearer value that is not a JWT', async () => ({ authorization: 'Bearer not-a-jwt' }), 'invalid-token', /malformed/],
      [
        'a token signed by a key it does not trust',
        async () => ({ authorization: `Bearer ${await tokens.workload('app-a', { key: 'rogue' })}` }),
        'invalid-token',
        /signature/,
      ],
      [
        'a token naming a key id it does not know',
        async () => ({ authorization: `Bearer ${await tokens.workload('app-a', { key: 'rogue', kid: 'someone-else' })}` }),
        'invalid-token',
        /no trusted key/,
      ],
      [
        'an expired token',
        async () => ({ authorization: `Bearer ${await tokens.workload('app-a', { expiresAt: now() - 120 })}` }),
        'invalid-token',
        /expired/,
      ],
      [
        'a token for another audience',
        async () => ({ authorization: `Bearer ${await tokens.workload('app-a', { audience: 'not-rotor' })}` }),
        'invalid-token',
        /aud/,
      ],
      [
        'a token from another issuer',
        async () => ({ authorization: `Bearer ${await tokens.workload('app-a', { issuer: 'https://issuer.example.com' })}` }),
        'invalid-token',
        /iss/,
      ],
    ];

    it.each(cases)('for %s', async (_name, headers, code, detail) => {
      const answer = await call('POST', '/v1/credentials', { body: { role: WORK_ROLE }, headers: await headers() });
      expect(expectProblem(answer, 401, code).detail).toMatch(detail);
    });
  });

  it('gives the same 403 role-not-bound for an unknown role and for a role bound to another workload', async () => {
    const token = await tokens.workload('app-a');
    const unknownRole = `no-such-role-${RUN}`;
    const unknown = expectProblem(await call('POST', '/v1/credentials', { token, body: { role: unknownRole } }), 403, 'role-not-bound');
    const unbound = expectProblem(await call('POST', '/v1/credentials', { token, body: { role: OTHER_ROLE } }), 403, 'role-not-bound');
    const { detail: unknownDetail, ...unknownRest } = unknown;
    const { detail: unboundDetail, ...unboundRest } = unbound;
    expect(unboundRest).toEqual(unknownRest);
    // The wording differs only by the role name the caller sent: nothing tells the two apart.
    expect(unboundDetail?.replace(OTHER_ROLE, '<role>')).toBe(unknownDetail?.replace(unknownRole, '<role>'));
  });

  describe('answers 400 naming what is wrong', () => {
    it('names ttl when it is above the role maxTtl', async () => {
      const answer = await call('POST', '/v1/credentials', {
        token: await tokens.workload('app-v'),
        body: { role: WORK_ROLE, ttl: '10m' },
      });
      expectProblem(answer, 400, 'ttl-above-max', 'ttl');
    });

    it('names ttl when it is not a duration', async () => {
      const answer = await call('POST', '/v1/credentials', {
        token: await tokens.workload('app-v'),
        body: { role: WORK_ROLE, ttl: 'ten minutes' },
      });
      expectProblem(answer, 400, 'invalid-body', 'ttl');
    });

    it('names a body field it does not know', async () => {
      const answer = await call('POST', '/v1/credentials', {
        token: await tokens.workload('app-v'),
        body: { role: WORK_ROLE, colour: 'red' },
      });
      expect(expectProblem(answer, 400, 'invalid-body').detail).toContain('colour');
    });

    it('names role when it is missing', async () => {
      const answer = await call('POST', '/v1/credentials', { token: await tokens.workload('app-v'), body: { ttl: '1m' } });
      expectProblem(answer, 400, 'invalid-body', 'role');
    });

    it('names Idempotency-Key when it contains spaces', async () => {
      const answer = await call('POST', '/v1/credentials', {
        token: await tokens.workload('app-v'),
        body: { role: WORK_ROLE },
        headers: { 'idempotency-key': 'a key with spaces' },
      });
      expectProblem(answer, 400, 'invalid-idempotency-key', 'Idempotency-Key');
    });
  });

  it('answers 429 with Retry-After once the workload holds its quota of active leases, and issues again after one is revoked', async () => {
    const first = await issue('app-quota');
    await issue('app-quota');

    const refused = await call('POST', '/v1/credentials', { token: await tokens.workload('app-quota'), body: { role: WORK_ROLE } });
    expectProblem(refused, 429, 'lease-quota-reached');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);

    expect((await call('DELETE', `/v1/leases/${first.leaseId}`, { token: await tokens.workload('app-quota') })).status).toBe(202);
    await revokedState('app-quota', first.leaseId);

    await issue('app-quota');
  });

  it('answers a repeated Idempotency-Key with 409 naming the first lease, while another workload may use the same key', async () => {
    const key = `order-${randomUUID()}`;
    const first = await issue('app-idem', { role: WORK_ROLE }, { 'idempotency-key': key });

    const replay = await call('POST', '/v1/credentials', {
      token: await tokens.workload('app-idem'),
      body: { role: WORK_ROLE },
      headers: { 'idempotency-key': key },
    });
    expect(expectProblem(replay, 409, 'idempotency-key-used').detail).toContain(first.leaseId);

    const other = await issue('app-idem-other', { role: WORK_ROLE }, { 'idempotency-key': key });
    expect(other.leaseId).not.toBe(first.leaseId);
  });

  it('extends expiresAt on renewal but never past maxExpiresAt', async () => {
    const token = await tokens.workload('app-renew');
    const lease = await issue('app-renew', { role: WORK_ROLE, ttl: '1m' });

    const longer = await call<LeaseAnswer>('POST', `/v1/leases/${lease.leaseId}/renew`, { token, body: { ttl: '4m' } });
    expect(longer.status).toBe(200);
    const extended = new Date(longer.body.expiresAt).getTime();
    expect(extended).toBeGreaterThan(new Date(lease.expiresAt).getTime());
    expect(extended).toBeLessThan(new Date(lease.maxExpiresAt).getTime());
    expect(longer.body.maxExpiresAt).toBe(lease.maxExpiresAt);

    // maxTtl from now reaches beyond the lease's max: the expiry stops exactly there.
    const capped = await call<LeaseAnswer>('POST', `/v1/leases/${lease.leaseId}/renew`, { token, body: { ttl: 300 } });
    expect(capped.status).toBe(200);
    expect(capped.body.expiresAt).toBe(lease.maxExpiresAt);
    expect(capped.body.maxExpiresAt).toBe(lease.maxExpiresAt);
  });

  it('answers a renewal asking for a ttl above the role maxTtl with 400 naming ttl, as issuance does', async () => {
    const token = await tokens.workload('app-renew-max');
    const lease = await issue('app-renew-max', { role: WORK_ROLE, ttl: '1m' });

    const answer = await call('POST', `/v1/leases/${lease.leaseId}/renew`, { token, body: { ttl: '10m' } });
    expectProblem(answer, 400, 'ttl-above-max', 'ttl');
  });

  describe('introspection', () => {
    it('answers 401 problem+json without a bearer token', async () => {
      const answer = await call('POST', '/v1/introspect', {
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: randomBytes(32).toString('base64url') }).toString(),
      });
      expectProblem(answer, 401, 'missing-token');
    });

    it('answers exactly {"active": false} for a token it never issued', async () => {
      expect(await introspect(randomBytes(32).toString('base64url'))).toEqual({ active: false });
    });
  });

  // Last: it stops and restarts the revoker.
  describe('while the revoker is behind', () => {
    it('still honours a renewal and an early revocation made before the revoker has read the lease being issued', async () => {
      await services.revoker.stop();
      // A backlog of issue events ahead of the two leases, in every partition the revoker will read.
      const bulkTokens = await Promise.all([0, 1, 2].map((index) => tokens.workload(`late-bulk-${index}`)));
      for (let batch = 0; batch < 15; batch++) {
        await Promise.all(
          Array.from({ length: 16 }, async (_, index) => {
            const answer = await call('POST', '/v1/credentials', {
              token: bulkTokens[(batch * 16 + index) % 3],
              body: { role: LATE_ROLE, ttl: 50 },
            });
            expect(answer.status).toBe(201);
          }),
        );
      }
      const renewed = await issue('late-renew', { role: LATE_ROLE, ttl: '3s' });
      const renewal = await call<LeaseAnswer>('POST', `/v1/leases/${renewed.leaseId}/renew`, {
        token: await tokens.workload('late-renew'),
        body: { ttl: '40s' },
      });
      expect(renewal.status).toBe(200);
      const ended = await issue('late-revoke', { role: LATE_ROLE, ttl: '60s' });
      expect((await call('DELETE', `/v1/leases/${ended.leaseId}`, { token: await tokens.workload('late-revoke') })).status).toBe(202);

      await services.revoker.start().ready();

      // The early revocation happens now, not when the 30 s TTL runs out.
      const stateOf = async (serviceAccount: string, leaseId: string) => {
        const { state, revocationReason } = (
          await call<LeaseAnswer>('GET', `/v1/leases/${leaseId}`, { token: await tokens.workload(serviceAccount) })
        ).body;
        return { state, revocationReason };
      };
      const endedState = await eventually(
        async () => {
          const current = await stateOf('late-revoke', ended.leaseId);
          return current.state === 'revoked' ? current : undefined;
        },
        // Under the 60 s TTL, so a revocation at expiry cannot pass for the early one (its reason would say so
        // anyway); long enough for the restarted revoker to rejoin its groups even after a member that did not leave.
        { timeoutMs: 45_000, what: 'the early revocation' },
      ).catch(() => stateOf('late-revoke', ended.leaseId));

      // The renewed lease outlives its original 3 s expiry (the revoker gets 3 s more to act on it).
      const wait = new Date(renewed.expiresAt).getTime() + 3_000 - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const renewedState = await stateOf('late-renew', renewed.leaseId);

      expect({ ended: endedState, renewed: renewedState }).toEqual({
        ended: { state: 'revoked', revocationReason: 'requested' },
        renewed: { state: 'active', revocationReason: undefined },
      });
      expect(await introspect(renewed.credential!['token']!, 'late-renew')).toMatchObject({ active: true, lease_id: renewed.leaseId });
    }, 120_000);
  });
});
