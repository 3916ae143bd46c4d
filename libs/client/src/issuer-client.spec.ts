import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { isTransient, RotorAnswerError, RotorProblemError, RotorUnavailableError } from './client-errors';
import { IssuerClient } from './issuer-client';

type Handler = (request: IncomingMessage & { body: string }, response: ServerResponse) => void;

const LEASE = {
  leaseId: '6f1c2d3e-0000-4000-8000-000000000001',
  role: 'orders-db',
  owner: 'team-orders',
  backend: 'postgres',
  workload: { namespace: 'shop', serviceAccount: 'orders' },
  state: 'active',
  issuedAt: '2026-01-01T00:00:00.000Z',
  expiresAt: '2026-01-01T00:15:00.000Z',
  maxExpiresAt: '2026-01-01T01:00:00.000Z',
};
const CANARY = 'canary-password-9f8e7d';

describe('IssuerClient', () => {
  const servers: Server[] = [];
  const received: { method?: string; url?: string; headers: IncomingMessage['headers']; body: string }[] = [];
  let handler: Handler;

  const listen = async (server: Server, scheme: 'http' | 'https'): Promise<string> => {
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `${scheme}://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  const onRequest = (request: IncomingMessage, response: ServerResponse) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      received.push({ method: request.method, url: request.url, headers: request.headers, body });
      handler(Object.assign(request, { body }), response);
    });
  };
  const json = (response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    response.writeHead(status, { 'content-type': status >= 400 ? 'application/problem+json' : 'application/json', ...headers });
    response.end(JSON.stringify(body));
  };
  const problem = (status: number, code: string, detail = 'detail') => ({ type: 'about:blank', title: 'Title', status, detail, code });

  let origin: string;
  let tokenReads = 0;
  const client = (options: Partial<ConstructorParameters<typeof IssuerClient>[0]> = {}) =>
    new IssuerClient({ url: origin, token: () => `token-${++tokenReads}\n`, sleep: () => Promise.resolve(), ...options });

  beforeAll(async () => {
    origin = await listen(createHttpServer(onRequest), 'http');
  });
  beforeEach(() => {
    received.length = 0;
    tokenReads = 0;
  });
  afterAll(async () => {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  });

  it('issues a credential with the task and the Idempotency-Key, reading the token for the call and parsing the answer', async () => {
    handler = (_request, response) => json(response, 201, { ...LEASE, task: 'pod/x', credential: { username: 'u', password: CANARY } });
    const issued = await client().issue({ role: 'orders-db', ttl: '6s', task: 'pod/x', idempotencyKey: 'key-1' });
    expect(issued.credential).toEqual({ username: 'u', password: CANARY });
    expect(received[0]).toMatchObject({ method: 'POST', url: '/v1/credentials', body: '{"role":"orders-db","ttl":"6s","task":"pod/x"}' });
    expect(received[0]!.headers).toMatchObject({
      authorization: 'Bearer token-1',
      'idempotency-key': 'key-1',
      'content-type': 'application/json',
    });
  });

  it('retries an idempotent call on 503, honouring Retry-After, with the token read again for each attempt', async () => {
    const waits: number[] = [];
    let calls = 0;
    handler = (_request, response) =>
      ++calls < 3 ? json(response, 503, problem(503, 'redis-unavailable'), { 'retry-after': '2' }) : json(response, 200, LEASE);
    const lease = await client({ sleep: async (ms) => void waits.push(ms) }).renew(LEASE.leaseId);
    expect(lease.expiresAt).toBe(LEASE.expiresAt);
    expect(waits).toEqual([2000, 2000]);
    expect(received.map((request) => request.headers.authorization)).toEqual(['Bearer token-1', 'Bearer token-2', 'Bearer token-3']);
  });

  it('tries an issuance without an Idempotency-Key once: a retry could mint a second lease', async () => {
    handler = (_request, response) => json(response, 503, problem(503, 'postgres-unavailable'));
    await expect(client().issue({ role: 'orders-db' })).rejects.toMatchObject({
      status: 503,
      code: 'postgres-unavailable',
      transient: true,
    });
    expect(received).toHaveLength(1);
  });

  it('gives up after its attempts and surfaces the last problem as a typed error', async () => {
    handler = (_request, response) => json(response, 429, problem(429, 'rate-limited'));
    const error = await client({ attempts: 4 })
      .readSecret('demo-api-key')
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RotorProblemError);
    expect(received).toHaveLength(4);
    expect(received[0]!.url).toBe('/v1/secrets/demo-api-key');
  });

  it('does not retry a refusal: 403 is answered at once, with the problem in the message', async () => {
    handler = (_request, response) => json(response, 403, problem(403, 'role-not-bound', 'role x is not bound to shop/orders'));
    const error = (await client()
      .revoke(LEASE.leaseId)
      .catch((caught: unknown) => caught)) as RotorProblemError;
    expect(error.message).toBe('403 Title: role x is not bound to shop/orders [role-not-bound]');
    expect(isTransient(error)).toBe(false);
    expect(received).toHaveLength(1);
  });

  it('never echoes a body that is not a problem, nor the values of an answer of the wrong shape', async () => {
    handler = (_request, response) => {
      response.writeHead(502, { 'content-type': 'text/html' });
      response.end(`<html>${CANARY}</html>`);
    };
    const proxied = await client({ attempts: 1 })
      .whoami()
      .catch((caught: unknown) => caught);
    expect(proxied).toBeInstanceOf(RotorProblemError);
    expect(String(proxied)).not.toContain(CANARY);

    handler = (_request, response) => json(response, 201, { ...LEASE, credential: { password: 42, note: CANARY }, state: CANARY });
    const malformed = await client()
      .issue({ role: 'orders-db' })
      .catch((caught: unknown) => caught);
    expect(malformed).toBeInstanceOf(RotorAnswerError);
    expect((malformed as Error).message).toMatch(/POST \/v1\/credentials answered 201 in an unexpected shape/);
    expect((malformed as Error).message).not.toContain(CANARY);
  });

  it('reports a refused connection as transient after retrying it', async () => {
    const closed = createHttpServer();
    const url = await listen(closed, 'http');
    await new Promise((resolve) => closed.close(resolve));
    servers.splice(servers.indexOf(closed), 1);
    const error = await client({ url, attempts: 2 })
      .lease(LEASE.leaseId)
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RotorUnavailableError);
    expect(error).toMatchObject({ transient: true, errorCode: 'ECONNREFUSED' });
  });

  it('times out a silent server after timeoutMs', async () => {
    handler = () => undefined; // never answers
    const started = Date.now();
    const error = await client({ timeoutMs: 200, attempts: 1 })
      .whoami()
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({ transient: true, errorCode: 'ERR_ROTOR_TIMEOUT' });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  describe('over HTTPS', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rotor-client-tls-'));
    let secure: string;
    beforeAll(async () => {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
        '-subj', '/CN=rotor client test', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', 'key.pem', '-out', 'cert.pem'],
        { cwd: dir, stdio: 'ignore' }); // prettier-ignore
      secure = await listen(
        createHttpsServer({ cert: readFileSync(join(dir, 'cert.pem')), key: readFileSync(join(dir, 'key.pem')) }, onRequest),
        'https',
      );
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('trusts the CA file it is given, and refuses the certificate without it (not transient)', async () => {
      handler = (_request, response) =>
        json(response, 200, { kind: 'workload', subject: 's', workload: { namespace: 'shop', serviceAccount: 'orders' } });
      await expect(client({ url: secure, caFile: join(dir, 'cert.pem') }).whoami()).resolves.toMatchObject({ kind: 'workload' });
      const error = await client({ url: secure })
        .whoami()
        .catch((caught: unknown) => caught);
      expect(error).toMatchObject({ transient: false, errorCode: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    });
  });
});
