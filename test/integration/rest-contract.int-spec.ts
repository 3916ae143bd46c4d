import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

import { eventually } from '../support/eventually';
import { OpenApiContract, type OpenApiDocument } from '../support/openapi-contract';
import { PrivateAuditLog } from '../support/private-audit-log';
import { ServiceProcess, type ServiceName } from '../support/service-process';
import { ensurePortFree, writeTempCatalog } from '../support/temp-files';
import { TestIdentity } from '../support/test-identity';
import { kafkaFromEnv } from '../../tools/security/env-clients';

const RUN = randomBytes(3).toString('hex');
const NAMESPACE = `contract-${RUN}`;
const ROLE = `contract-token-${RUN}`;
const SECRET = `contract-key-${RUN}`;
const OWNER = `team-contract-${RUN}`;
const PORTS: Record<ServiceName, number> = { issuer: 19930, revoker: 19931, distributor: 19932, auditor: 19933 };
// Generous: the services compile their TypeScript as they start, on two cores shared with other suites.
const READY_MS = 120_000;
const TRACEPARENT = `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;

interface Call {
  params?: Record<string, string>;
  query?: Record<string, string>;
  token?: string;
  body?: unknown;
  form?: Record<string, string>;
  headers?: Record<string, string>;
}
interface Answer<T = Record<string, unknown>> {
  status: number;
  body: T;
}

/**
 * The REST contract, held against the services themselves: every route of the four services
 * is called for real, and each answer must match the schema its service's own `/docs/json`
 * gives for that path, method and status (closed: a field the document does not name fails).
 * The last test fails for a documented operation no test called.
 */
describe('REST contract: every route answers as its service documents', () => {
  const kafka = kafkaFromEnv('rotor-test-rest-contract');
  const fileDir = join(mkdtempSync(join(tmpdir(), 'rotor-contract-target-')), 'app');
  const audit = new PrivateAuditLog(kafka, 'contract');
  const services = {} as Record<ServiceName, ServiceProcess>;
  const contracts = {} as Record<ServiceName, OpenApiContract>;
  let identity: TestIdentity;
  let workload: string;
  let sre: string;
  let auditor: string;

  beforeAll(async () => {
    await Promise.all(Object.values(PORTS).map(ensurePortFree));
    identity = await TestIdentity.create();
    const catalogFile = writeTempCatalog(`
roles:
  - name: ${ROLE}
    owner: ${OWNER}
    backend: { kind: opaque-token }
    bindings: [{ namespace: ${NAMESPACE}, serviceAccount: app }]
    ttl: 10m
    maxTtl: 1h
managedSecrets:
  - name: ${SECRET}
    owner: ${OWNER}
    generator: { kind: random-bytes, bytes: 32 }
    rotationPeriod: 1h
    gracePeriod: 1h
    bindings: [{ namespace: ${NAMESPACE}, serviceAccount: app }]
    targets:
      - { kind: file, name: contract-file, path: ${fileDir} }
introspection:
  allowed:
    - { namespace: ${NAMESPACE}, serviceAccount: app }
`);
    await audit.create();
    const common = { ...identity.env, ROTOR_CATALOG: catalogFile };
    services.auditor = new ServiceProcess('auditor', PORTS.auditor, {
      ...common,
      ...audit.env(),
      ROTOR_AUDIT_KEY: randomBytes(32).toString('hex'),
    });
    // The auditor first: its consumer group starts at the end, so it sees the others' first events.
    await services.auditor.start().ready(READY_MS);
    services.issuer = new ServiceProcess('issuer', PORTS.issuer, { ...common, ROTOR_TOKEN_HASH_KEY: randomBytes(32).toString('hex') });
    services.revoker = new ServiceProcess('revoker', PORTS.revoker, common);
    services.distributor = new ServiceProcess('distributor', PORTS.distributor, {
      ...common,
      ROTOR_CONTENT_HASH_KEY: randomBytes(32).toString('hex'),
      ROTOR_DRIFT_SCAN_MS: '0',
      ROTOR_COPY_SCAN_MS: '0',
      ROTOR_FILE_TARGET_ROOTS: dirname(fileDir),
    });
    await Promise.all([services.issuer, services.revoker, services.distributor].map((service) => service.start().ready(READY_MS)));
    for (const name of Object.keys(PORTS) as ServiceName[]) {
      const response = await fetch(`${services[name].url}/docs/json`);
      contracts[name] = new OpenApiContract(name, (await response.json()) as OpenApiDocument);
    }
    workload = await identity.serviceAccountToken(NAMESPACE, 'app', { name: 'app-1', uid: randomUUID() });
    sre = await identity.operatorToken('sre@example.com', ['rotor:sre']);
    auditor = await identity.operatorToken('auditor@example.com', ['rotor:auditor']);
  }, 4 * READY_MS);

  afterAll(async () => {
    await Promise.all(Object.values(services).map((service) => service.stop()));
    await audit.drop();
  });

  /** Calls a route by its documented path template and checks the answer against the service's document. */
  const call = async <T = Record<string, unknown>>(service: ServiceName, method: string, template: string, options: Call = {}) => {
    const path = template.replace(/\{(\w+)\}/g, (_match, name: string) => encodeURIComponent(options.params?.[name] ?? ''));
    const query = options.query ? `?${new URLSearchParams(options.query).toString()}` : '';
    const headers: Record<string, string> = { traceparent: TRACEPARENT, ...options.headers };
    if (options.token) headers['authorization'] = `Bearer ${options.token}`;
    let body: string | undefined;
    if (options.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(options.form).toString();
    } else if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.body);
    }
    const response = await fetch(`${services[service].url}${path}${query}`, { method: method.toUpperCase(), headers, body }).catch(
      (error: unknown) => {
        throw new Error(`${service} ${method} ${path}: ${(error as Error).message} (${String((error as Error).cause)})`);
      },
    );
    const contentType = response.headers.get('content-type') ?? '';
    const text = await response.text();
    const parsed: unknown = /json/.test(contentType) ? JSON.parse(text) : text;
    expect(contracts[service].violations({ method, path: template, status: response.status, contentType, body: parsed })).toEqual([]);
    return { status: response.status, body: parsed } as Answer<T>;
  };

  it('serves each document as valid OpenAPI 3.1', async () => {
    // A child process that does not block this one: a blocked event loop misses the services closing idle connections.
    const validate = async (document: unknown) => {
      const child = promisify(execFile)(process.execPath, [join(__dirname, '..', 'support', 'validate-openapi.mjs')]);
      child.child.stdin?.end(JSON.stringify(document));
      return JSON.parse((await child).stdout) as unknown;
    };
    for (const contract of Object.values(contracts))
      expect([contract.service, await validate(contract.document)]).toEqual([contract.service, { valid: true, version: '3.1' }]);
  });

  it('issuer: credentials, leases, introspection, whoami, managed secrets and break-glass', async () => {
    const issued = await call<{ leaseId: string; credential: { token: string } }>('issuer', 'post', '/v1/credentials', {
      token: workload,
      body: { role: ROLE, ttl: '5m', task: 'contract' },
      headers: { 'idempotency-key': `contract-${RUN}` },
    });
    expect(issued.status).toBe(201);
    const lease = { id: issued.body.leaseId };
    expect((await call('issuer', 'get', '/v1/leases/{id}', { token: workload, params: lease })).status).toBe(200);
    expect((await call('issuer', 'post', '/v1/leases/{id}/renew', { token: workload, params: lease, body: { ttl: 300 } })).status).toBe(
      200,
    );
    const active = await call('issuer', 'post', '/v1/introspect', { token: workload, form: { token: issued.body.credential.token } });
    expect(active.body).toMatchObject({ active: true, lease_id: lease.id });
    const inactive = await call('issuer', 'post', '/v1/introspect', { token: workload, body: { token: 'not-a-token' } });
    expect(inactive.body).toEqual({ active: false });
    expect((await call('issuer', 'get', '/v1/whoami', { token: workload })).body).toMatchObject({ kind: 'workload' });
    expect((await call('issuer', 'get', '/v1/whoami', { token: sre })).body).toMatchObject({ kind: 'operator', groups: ['rotor:sre'] });
    await eventually(
      async () =>
        (await call('issuer', 'get', '/v1/secrets/{name}', { token: workload, params: { name: SECRET } })).status === 200
          ? true
          : undefined,
      { what: 'the initial version', timeoutMs: 30_000 },
    );
    const access = { secrets: [SECRET], reason: 'contract test of the REST answers', ticket: `INC-${RUN}`, ttl: '5m' };
    const preview = await call('issuer', 'post', '/v1/break-glass/preview', { token: sre, body: access });
    expect(preview.body).toMatchObject({ secrets: [{ secret: SECRET }], ttlSeconds: 300 });
    const glass = await call<{ id: string }>('issuer', 'post', '/v1/break-glass', {
      token: sre,
      body: access,
      headers: { 'idempotency-key': `contract-glass-${RUN}` },
    });
    expect(glass.status).toBe(201);
    const listed = await call<{ items: { id: string }[] }>('issuer', 'get', '/v1/break-glass', {
      token: auditor,
      query: { state: 'open' },
    });
    expect(listed.body.items.map((item) => item.id)).toContain(glass.body.id);
    expect((await call('issuer', 'delete', '/v1/break-glass/{id}', { token: sre, params: { id: glass.body.id } })).status).toBe(200);
    expect((await call('issuer', 'delete', '/v1/leases/{id}', { token: workload, params: lease })).status).toBe(202);
  }, 60_000);

  it('revoker: irrevocable leases, emergency rotations and lease revocations, and their lists', async () => {
    expect((await call('revoker', 'get', '/v1/leases', { token: sre, query: { state: 'irrevocable' } })).status).toBe(200);
    // A selector that covers nothing: the rotation runs through its phases and touches no lease or secret.
    const selector = { namespace: `nobody-${RUN}` };
    const preview = await call('revoker', 'post', '/v1/emergency-rotations/preview', { token: sre, body: { selector } });
    expect(preview.body).toMatchObject({ leases: { total: 0 }, secrets: [] });
    const start = () =>
      call<{ id: string }>('revoker', 'post', '/v1/emergency-rotations', {
        token: sre,
        body: { selector, mode: 'graceful', reason: 'contract test' },
        headers: { 'idempotency-key': `contract-${RUN}` },
      });
    const started = await start();
    expect(started.status).toBe(202);
    expect((await start()).status).toBe(200);
    expect((await call('revoker', 'get', '/v1/emergency-rotations/{id}', { token: sre, params: { id: started.body.id } })).status).toBe(
      200,
    );
    const rotations = await call<{ items: { id: string }[] }>('revoker', 'get', '/v1/emergency-rotations', {
      token: auditor,
      query: { limit: '500' },
    });
    expect(rotations.body.items.map((item) => item.id)).toContain(started.body.id);

    const counted = await call('revoker', 'post', '/v1/lease-revocations/preview', { token: sre, body: { selector } });
    expect(counted.body).toMatchObject({ leases: { total: 0 } });
    const revocation = await call<{ id: string }>('revoker', 'post', '/v1/lease-revocations', {
      token: sre,
      body: { selector, reason: 'contract test' },
      headers: { 'idempotency-key': `contract-${RUN}` },
    });
    expect(revocation.status).toBe(202);
    expect(
      (await call('revoker', 'get', '/v1/lease-revocations/{id}', { token: auditor, params: { id: revocation.body.id } })).status,
    ).toBe(200);
    const revocations = await call<{ items: { id: string }[] }>('revoker', 'get', '/v1/lease-revocations', { token: sre });
    expect(revocations.body.items.map((item) => item.id)).toContain(revocation.body.id);
  });

  it('distributor: deliveries, drift and copy scans, reported copies', async () => {
    const deliveries = await eventually(
      async () => {
        const answer = await call<{ items: { state: string; version: number }[] }>('distributor', 'get', '/v1/deliveries', {
          token: sre,
          query: { secret: SECRET },
        });
        return answer.body.items.some((copy) => copy.state === 'delivered') ? answer.body.items : undefined;
      },
      { what: 'the initial version delivered', timeoutMs: 30_000 },
    );
    expect((await call('distributor', 'post', '/v1/reconcile', { token: sre })).status).toBe(200);
    expect((await call('distributor', 'post', '/v1/copy-scan', { token: sre })).status).toBe(200);
    expect((await call('distributor', 'post', '/v1/copy-scan/fingerprints', { token: auditor })).status).toBe(200);
    const finding = { secret: SECRET, version: deliveries[0]!.version, form: 'raw', kind: 'file', path: 'deploy/values.yaml', line: 3 };
    expect((await call('distributor', 'post', '/v1/copy-scan/findings', { token: sre, body: { findings: [finding] } })).body).toEqual({
      published: 1,
    });
  });

  it('auditor: audit keys, events and verification, inventory and the posture report', async () => {
    expect((await call('auditor', 'get', '/v1/audit/keys')).status).toBe(200);
    // The other suites' tests fed the audit log; the inventory has the secret once its events are appended.
    await eventually(
      async () =>
        (await call('auditor', 'get', '/v1/inventory/secrets/{name}', { token: auditor, params: { name: SECRET } })).status === 200
          ? true
          : undefined,
      { what: 'the secret in the inventory', timeoutMs: 30_000 },
    );
    const events = await call<{ items: unknown[] }>('auditor', 'get', '/v1/audit/events', { token: auditor, query: { limit: '50' } });
    expect(events.body.items.length).toBeGreaterThan(0);
    expect((await call('auditor', 'get', '/v1/audit/verify', { token: auditor })).status).toBe(200);
    await eventually(
      async () =>
        (
          await call('auditor', 'get', '/v1/inventory/workloads/{namespace}/{serviceAccount}', {
            token: auditor,
            params: { namespace: NAMESPACE, serviceAccount: 'app' },
          })
        ).status === 200
          ? true
          : undefined,
      { what: 'the workload in the inventory', timeoutMs: 30_000 },
    );
    expect((await call('auditor', 'get', '/v1/inventory/owners/{owner}', { token: auditor, params: { owner: OWNER } })).status).toBe(200);
    expect((await call('auditor', 'get', '/v1/inventory/leases', { token: sre, query: { owner: OWNER } })).status).toBe(200);
    expect((await call('auditor', 'get', '/v1/inventory/at', { token: auditor, query: { time: new Date().toISOString() } })).status).toBe(
      200,
    );
    expect((await call('auditor', 'get', '/v1/reports/posture', { token: auditor })).status).toBe(200);
    const page = await call<string>('auditor', 'get', '/v1/reports/posture', { token: sre, query: { format: 'html' } });
    expect(page.body).toMatch(/^<!doctype html>/i);
  }, 90_000);

  it('answers problems as documented, on every service', async () => {
    const problems = [
      await call('issuer', 'get', '/v1/leases/{id}', { token: workload, params: { id: 'not-a-uuid' } }),
      await call('issuer', 'post', '/v1/credentials', { body: { role: ROLE } }),
      await call('issuer', 'post', '/v1/credentials', { token: workload, body: { role: ROLE, extra: 1 } }),
      await call('revoker', 'get', '/v1/leases', { token: sre, query: { state: 'active' } }),
      await call('revoker', 'post', '/v1/emergency-rotations', { token: auditor, body: {} }),
      await call('distributor', 'get', '/v1/deliveries', { token: sre }),
      await call('auditor', 'get', '/v1/inventory/at', { token: auditor }),
      await call('auditor', 'get', '/v1/inventory/owners/{owner}', { token: auditor, params: { owner: `nobody-${RUN}` } }),
    ];
    expect(problems.map(({ status, body }) => [status, body['code']])).toEqual([
      [400, 'invalid-lease-id'],
      [401, 'missing-token'],
      [400, 'invalid-body'],
      [400, 'unsupported-state'],
      [403, 'missing-group'],
      [400, 'invalid-secret'],
      [400, 'invalid-query'],
      [404, 'owner-not-found'],
    ]);
  });

  it("refuses a workload's token on every operator route, and an operator's on the workload routes", async () => {
    // Routes a workload may call, and the public key set; every other documented route is an operator's.
    const WORKLOAD_ROUTES = new Set([
      'issuer post /v1/credentials',
      'issuer get /v1/leases/{id}',
      'issuer post /v1/leases/{id}/renew',
      'issuer delete /v1/leases/{id}',
      'issuer get /v1/secrets/{name}',
      'issuer post /v1/introspect',
      'issuer get /v1/whoami',
      'auditor get /v1/audit/keys',
    ]);
    const params = { id: randomUUID(), name: SECRET, namespace: NAMESPACE, serviceAccount: 'app', owner: OWNER };
    const answers: string[] = [];
    for (const name of Object.keys(PORTS) as ServiceName[]) {
      for (const operation of contracts[name].operations) {
        if (WORKLOAD_ROUTES.has(`${name} ${operation}`)) continue;
        const [method, path] = operation.split(' ') as [string, string];
        const answer = await call(name, method, path, { token: workload, params, ...(method === 'get' ? {} : { body: {} }) });
        answers.push(`${name} ${operation}: ${answer.status} ${String(answer.body['code'])}`);
      }
    }
    expect(answers.length).toBeGreaterThanOrEqual(25);
    expect(answers.filter((answer) => !answer.endsWith(': 403 missing-group'))).toEqual([]);

    // An operator's token gets no credential, renews nothing and reads no managed secret.
    const asOperator = [
      await call('issuer', 'post', '/v1/credentials', { token: sre, body: { role: ROLE } }),
      await call('issuer', 'post', '/v1/leases/{id}/renew', { token: sre, params: { id: randomUUID() }, body: {} }),
      await call('issuer', 'get', '/v1/secrets/{name}', { token: sre, params: { name: SECRET } }),
    ];
    expect(asOperator.map(({ status, body }) => `${status} ${String(body['code'])}`)).toEqual([
      '403 workloads-only',
      '403 workloads-only',
      '403 workloads-only',
    ]);
  });

  it('fails an answer with a field its schema does not name, a wrong type, or a required field missing', async () => {
    const whoami = (await call('issuer', 'get', '/v1/whoami', { token: sre })).body;
    const check = (body: unknown) =>
      contracts.issuer.violations({ method: 'get', path: '/v1/whoami', status: 200, contentType: 'application/json', body });
    expect(check(whoami)).toEqual([]);
    expect(check({ ...whoami, secret: 'leaked' })).not.toEqual([]);
    expect(check({ ...whoami, groups: 'rotor:sre' })).not.toEqual([]);
    const { subject: _subject, ...withoutSubject } = whoami;
    expect(check(withoutSubject)).not.toEqual([]);
    const problem = { type: 'about:blank', title: 'Bad Request', status: 400, code: 'x' };
    const problemCheck = (body: unknown) =>
      contracts.issuer.violations({ method: 'get', path: '/v1/whoami', status: 400, contentType: 'application/problem+json', body });
    expect(problemCheck(problem)).toEqual([]);
    expect(problemCheck({ ...problem, stack: 'at …' })).not.toEqual([]);
    expect(contracts.issuer.violations({ method: 'get', path: '/v1/whoami', status: 200, contentType: 'text/html', body: '' })).not.toEqual(
      [],
    );
  });

  it('called every operation each service documents', () => {
    const missed = Object.values(contracts).flatMap((contract) =>
      contract.operations.filter((operation) => !contract.exercised.has(operation)).map((operation) => `${contract.service}: ${operation}`),
    );
    expect(Object.values(contracts).every((contract) => contract.operations.length > 0)).toBe(true);
    expect(missed).toEqual([]);
  });

  it('counted every operation it called in the RED metrics of its service, by route template', async () => {
    const missing: string[] = [];
    for (const [service, contract] of Object.entries(contracts) as [ServiceName, (typeof contracts)[ServiceName]][]) {
      const text = await (await fetch(`${services[service].url}/metrics`)).text();
      const counted = new Set(
        [...text.matchAll(/^rotor_http_requests_total\{([^}]*)\} /gm)].map((match) => {
          const labels = Object.fromEntries([...match[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((label) => [label[1], label[2]]));
          return `${labels['method']!.toLowerCase()} ${labels['route']}`;
        }),
      );
      for (const operation of contract.exercised) {
        // The document's /v1/leases/{id} is the route Express matched as /v1/leases/:id.
        const [method, path] = operation.split(' ') as [string, string];
        if (!counted.has(`${method} ${path.replace(/\{(\w+)\}/g, ':$1')}`)) missing.push(`${contract.service}: ${operation}`);
      }
    }
    expect(missing).toEqual([]);
  });
});
