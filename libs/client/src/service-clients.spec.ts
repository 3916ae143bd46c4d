import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { RotorProblemError } from './client-errors';
import { AuditorClient } from './auditor-client';
import { DistributorClient } from './distributor-client';
import { HttpTransport, type TransportOptions } from './http-transport';
import { IssuerClient } from './issuer-client';
import { RevokerClient } from './revoker-client';

const ACCESS_ID = '7d1c6f0e-8d0b-4a53-9f5e-2f1b7a3c9e11';
const RUN_ID = '9a2b3c4d-0000-4000-8000-000000000002';
const PREVIEW = {
  secrets: [{ secret: 'payments-key', current: { version: 3, gsmVersion: '3' }, targets: [{ kind: 'k8s-secret', name: 'shop/payments' }] }],
  ttlSeconds: 1800,
  expiresAt: '2026-01-01T00:30:00.000Z',
  reason: 'INC-42: restore by hand',
  ticket: 'INC-42',
  followUp: 'payments-key is rotated when the access ends',
};
const REVOCATION = {
  id: RUN_ID,
  state: 'running',
  phase: 'revoke',
  reason: 'INC-42',
  selector: { namespace: 'shop' },
  requestedBy: 'sre@example.com',
  matched: 3,
  revoked: 1,
  failed: 0,
  startedAt: '2026-01-01T00:00:00.000Z',
};

/** The operators' routes of each service, against a real HTTP server: paths, queries, bodies, headers, and which calls are retried. */
describe('service clients', () => {
  let server: Server;
  let origin: string;
  const received: { method?: string; url?: string; headers: IncomingMessage['headers']; body: string }[] = [];
  /** Answers, one per request; the last one repeats. */
  let answers: ((response: ServerResponse) => void)[] = [];
  const waits: number[] = [];

  const json =
    (status: number, body: unknown, headers: Record<string, string> = {}) =>
    (response: ServerResponse) => {
      response.writeHead(status, { 'content-type': status >= 400 ? 'application/problem+json' : 'application/json', ...headers });
      response.end(JSON.stringify(body));
    };
  const unavailable = json(
    503,
    { type: 'about:blank', title: 'Service Unavailable', status: 503, code: 'redis-unavailable' },
    {
      'retry-after': '3',
    },
  );
  const options = (extra: Partial<TransportOptions> = {}): TransportOptions => ({
    url: origin,
    token: () => 'operator-token',
    sleep: async (ms) => void waits.push(ms),
    ...extra,
  });

  beforeAll(async () => {
    server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        received.push({ method: request.method, url: request.url, headers: request.headers, body });
        (answers.length > 1 ? answers.shift()! : answers[0]!)(response);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  beforeEach(() => {
    received.length = 0;
    waits.length = 0;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  describe('IssuerClient: break-glass', () => {
    const request = { secrets: ['payments-key'], reason: 'INC-42: restore by hand', ticket: 'INC-42', ttl: '30m' };

    it('retries a preview (it opens nothing) after 503, waiting the Retry-After', async () => {
      answers = [unavailable, unavailable, json(200, PREVIEW)];
      await expect(new IssuerClient(options()).previewBreakGlass(request)).resolves.toEqual(PREVIEW);
      expect(received.map(({ method, url }) => `${method} ${url}`)).toEqual(Array(3).fill('POST /v1/break-glass/preview'));
      expect(JSON.parse(received[0]!.body)).toEqual(request);
      expect(waits).toEqual([3000, 3000]);
    });

    it('opens once, with its Idempotency-Key, even on 503: the values are shown once', async () => {
      answers = [unavailable];
      await expect(new IssuerClient(options()).openBreakGlass(request, 'req-1')).rejects.toMatchObject({ status: 503, transient: true });
      expect(received).toHaveLength(1);
      expect(received[0]).toMatchObject({ method: 'POST', url: '/v1/break-glass', headers: { 'idempotency-key': 'req-1' } });
      expect(waits).toEqual([]);
    });

    it("surfaces a 409's own members in the problem document", async () => {
      const conflict = {
        type: 'about:blank',
        title: 'Conflict',
        status: 409,
        code: 'break-glass-already-open',
        breakGlassId: ACCESS_ID,
        state: 'open',
        expiresAt: '2026-01-01T00:30:00.000Z',
      };
      answers = [json(409, conflict)];
      const error = (await new IssuerClient(options())
        .openBreakGlass(request, 'req-1')
        .catch((caught: unknown) => caught)) as RotorProblemError;
      expect(error).toBeInstanceOf(RotorProblemError);
      expect(error).toMatchObject({ status: 409, code: 'break-glass-already-open', problem: conflict });
    });

    it('lists a page with the query it is given, and ends an access by id', async () => {
      answers = [json(200, { items: [], next: ACCESS_ID })];
      await new IssuerClient(options()).breakGlassAccesses({ state: 'open', limit: 20, after: undefined });
      answers = [json(200, { id: ACCESS_ID, state: 'ending' })];
      await expect(new IssuerClient(options()).endBreakGlass(ACCESS_ID)).resolves.toEqual({ id: ACCESS_ID, state: 'ending' });
      expect(received.map(({ method, url }) => `${method} ${url}`)).toEqual([
        'GET /v1/break-glass?state=open&limit=20',
        `DELETE /v1/break-glass/${ACCESS_ID}`,
      ]);
      expect(received[0]!.headers.authorization).toBe('Bearer operator-token');
    });
  });

  describe('RevokerClient', () => {
    it('retries a revocation by selector, which carries its Idempotency-Key', async () => {
      answers = [unavailable, json(202, REVOCATION)];
      const view = await new RevokerClient(options()).revokeLeases({ selector: { namespace: 'shop' }, reason: 'INC-42' }, 'cli-1');
      expect(view).toEqual(REVOCATION);
      expect(received.map((request) => request.headers['idempotency-key'])).toEqual(['cli-1', 'cli-1']);
      expect(waits).toEqual([3000]);
    });

    it('starts an emergency rotation without a request id once, and retries one that has it', async () => {
      const revoker = new RevokerClient(options());
      answers = [unavailable];
      const start = { selector: { namespace: 'shop' }, mode: 'immediate', reason: 'INC-42' } as const;
      await expect(revoker.startEmergencyRotation(start)).rejects.toBeInstanceOf(RotorProblemError);
      expect(received).toHaveLength(1);

      received.length = 0;
      await expect(revoker.startEmergencyRotation({ ...start, requestId: 'cli-2' })).rejects.toBeInstanceOf(RotorProblemError);
      expect(received).toHaveLength(3);
      expect(JSON.parse(received[0]!.body)).toEqual({ ...start, requestId: 'cli-2' });
    });

    it('reads runs and pages by the routes the revoker serves', async () => {
      const revoker = new RevokerClient(options());
      answers = [json(200, { items: [] })];
      await revoker.irrevocableLeases();
      await revoker.leaseRevocations({ state: 'running', limit: 5 });
      await revoker.emergencyRotations({ after: RUN_ID });
      answers = [json(200, REVOCATION)];
      await revoker.leaseRevocation(RUN_ID);
      expect(received.map(({ method, url }) => `${method} ${url}`)).toEqual([
        'GET /v1/leases?state=irrevocable',
        'GET /v1/lease-revocations?state=running&limit=5',
        `GET /v1/emergency-rotations?after=${RUN_ID}`,
        `GET /v1/lease-revocations/${RUN_ID}`,
      ]);
    });
  });

  describe('AuditorClient', () => {
    it('asks for the public keys without a token, and the HTML report as a page', async () => {
      answers = [json(200, { keys: [] })];
      await expect(new AuditorClient(options({ token: undefined })).auditKeys()).resolves.toEqual({ keys: [] });
      expect(received[0]!.headers.authorization).toBeUndefined();

      answers = [
        unavailable,
        (response) => {
          response.writeHead(200, { 'content-type': 'text/html' });
          response.end('<!doctype html><title>posture</title>');
        },
      ];
      await expect(new AuditorClient(options()).postureReportHtml()).resolves.toBe('<!doctype html><title>posture</title>');
      expect(received.slice(1).map(({ url, headers }) => `${url} ${headers.accept}`)).toEqual([
        '/v1/reports/posture?format=html text/html',
        '/v1/reports/posture?format=html text/html',
      ]);
    });

    it('puts path segments and filters where the auditor reads them', async () => {
      const auditor = new AuditorClient(options());
      answers = [(response) => response.writeHead(404).end()];
      const paths = [
        () => auditor.workloadInventory('shop', 'orders/x'),
        () => auditor.inventoryAt('2026-12-01T10:00:00+01:00'),
        () => auditor.auditEvents({ workload: 'shop/orders', actor: 'sre@example.com', limit: 10 }),
        () => auditor.leases({ namespace: 'shop', state: 'active', after: undefined }),
      ];
      for (const call of paths) await expect(call()).rejects.toMatchObject({ status: 404 });
      expect(received.map(({ url }) => url)).toEqual([
        '/v1/inventory/workloads/shop/orders%2Fx',
        '/v1/inventory/at?time=2026-12-01T10%3A00%3A00%2B01%3A00',
        '/v1/audit/events?workload=shop%2Forders&actor=sre%40example.com&limit=10',
        '/v1/inventory/leases?namespace=shop&state=active',
      ]);
    });
  });

  describe('DistributorClient', () => {
    it('retries the drift scan (a repeat leaves the same state) but sends reported copies once', async () => {
      const distributor = new DistributorClient(options());
      const report = { scannedTargets: 2, findings: [], errors: [] };
      answers = [unavailable, json(200, report)];
      await expect(distributor.reconcile()).resolves.toEqual(report);
      expect(received.map(({ method, url }) => `${method} ${url}`)).toEqual(['POST /v1/reconcile', 'POST /v1/reconcile']);

      received.length = 0;
      answers = [unavailable];
      const findings = [{ path: 'deploy/.env', line: 3, secret: 'payments-key', version: 3, form: 'raw', kind: 'file' }] as const;
      await expect(distributor.reportCopies({ findings: [...findings] })).rejects.toMatchObject({ status: 503 });
      expect(received).toHaveLength(1);
      expect(JSON.parse(received[0]!.body)).toEqual({ findings });
    });
  });

  describe('HttpTransport', () => {
    it('hands a checked answer over as sent: extra fields and key order survive', async () => {
      const sent = `{"state":"ending","newerField":[1],"id":"${ACCESS_ID}"}`;
      answers = [(response) => response.end(sent)];
      const ended = await new IssuerClient(options()).endBreakGlass(ACCESS_ID);
      expect(JSON.stringify(ended)).toBe(sent);
    });

    it('asks for TLS options only on an https:// origin', async () => {
      answers = [json(200, { keys: [] })];
      const tls = jest.fn(() => {
        throw new Error('no TLS files here');
      });
      await expect(new AuditorClient(new HttpTransport(options({ tls }))).auditKeys()).resolves.toEqual({ keys: [] });
      expect(tls).not.toHaveBeenCalled();
      await expect(
        new AuditorClient(new HttpTransport(options({ url: origin.replace('http:', 'https:'), tls }))).auditKeys(),
      ).rejects.toThrow('no TLS files here');
    });
  });
});
