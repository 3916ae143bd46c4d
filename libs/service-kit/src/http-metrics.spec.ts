import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Writable } from 'node:stream';

import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { TracerProvider } from '@opentelemetry/sdk-trace';

import { Controller, Get, Module, Param, Post, UseGuards, type CanActivate, type INestApplication } from '@nestjs/common';
import request from 'supertest';

import { DomainError } from '@rotor/errors';
import { createLogger, Metrics, sampleValue } from '@rotor/telemetry';

import { createServiceApp } from './bootstrap';
import { ServiceKitModule } from './service-kit.module';

const LEASE_ID = 'lease-5f1c0a77';

class Refuse implements CanActivate {
  canActivate(): never {
    throw new DomainError('unauthenticated', 'token-invalid', 'no valid token');
  }
}

@Controller('v1/leases')
class LeasesController {
  @Get(':id')
  lease(@Param('id') id: string) {
    if (id === 'missing') throw new DomainError('not-found', 'lease-not-found', 'no such lease');
    return { id };
  }

  @Post()
  @UseGuards(Refuse)
  issue() {
    return {};
  }
}

describe('HTTP RED metrics', () => {
  let app: INestApplication;
  const metrics = new Metrics('probe');

  beforeAll(async () => {
    const logger = createLogger({ service: 'probe', destination: new Writable({ write: (_chunk, _encoding, done) => done() }) });
    @Module({ imports: [ServiceKitModule.forRoot({ service: 'probe', logger, metrics })], controllers: [LeasesController] })
    class ProbeModule {}
    app = await createServiceApp({ module: ProbeModule, service: 'probe', description: 'test', logger, metrics });
    await app.init();
    const server = app.getHttpServer();
    await request(server).get(`/v1/leases/${LEASE_ID}`).expect(200);
    await request(server).get(`/v1/leases/${LEASE_ID}`).expect(200);
    await request(server).get('/v1/leases/missing').expect(404);
    await request(server).post('/v1/leases').set('authorization', 'Bearer canary-token').send({}).expect(401);
    await request(server).get('/v1/no-such/canary-path').expect(404);
    await request(server).post('/v1/leases').set('content-type', 'application/json').send('{"canary": ').expect(400);
  });

  afterAll(() => app.close());

  const scrape = async () => (await request(app.getHttpServer()).get('/metrics').expect(200)).text;

  it('counts requests by method, route template and status, problem answers included', async () => {
    const text = await scrape();
    expect(sampleValue(text, 'rotor_http_requests_total', { method: 'GET', route: '/v1/leases/:id', status: '200' })).toBe(2);
    expect(sampleValue(text, 'rotor_http_requests_total', { method: 'GET', route: '/v1/leases/:id', status: '404' })).toBe(1);
    expect(sampleValue(text, 'rotor_http_requests_total', { method: 'POST', route: '/v1/leases', status: '401' })).toBe(1);
    expect(sampleValue(text, 'rotor_http_requests_total', { method: 'GET', route: 'unmatched', status: '404' })).toBe(1);
    // Body parsing runs before routing: a body refused there has no route yet.
    expect(sampleValue(text, 'rotor_http_requests_total', { method: 'POST', route: 'unmatched', status: '400' })).toBe(1);
  });

  it('times requests by method and route template', async () => {
    expect(sampleValue(await scrape(), 'rotor_http_request_duration_seconds_count', { method: 'GET', route: '/v1/leases/:id' })).toBe(3);
  });

  it('never puts a raw path, an id or a token into a label', async () => {
    const text = await scrape();
    expect(text).not.toContain(LEASE_ID);
    expect(text).not.toContain('canary');
    expect(text).not.toContain('/v1/no-such');
  });

  it('counts the probes and scrapes too', async () => {
    await request(app.getHttpServer()).get('/healthz').expect(200);
    const text = await scrape();
    expect(sampleValue(text, 'rotor_http_requests_total', { method: 'GET', route: '/metrics', status: '200' })).toBeGreaterThan(0);
    expect(sampleValue(text, 'rotor_http_requests_total', { method: 'GET', route: '/healthz', status: '200' })).toBe(1);
  });
});

describe('/metrics exposition', () => {
  // What Prometheus 3 sends: OpenMetrics preferred, the text format accepted.
  const PROMETHEUS_ACCEPT =
    'application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2';
  const contextManager = new AsyncLocalStorageContextManager();
  const provider = new TracerProvider();
  let app: INestApplication;

  beforeAll(async () => {
    context.setGlobalContextManager(contextManager.enable());
    trace.setGlobalTracerProvider(provider);
    const metrics = new Metrics('probe');
    const logger = createLogger({ service: 'probe', destination: new Writable({ write: (_chunk, _encoding, done) => done() }) });
    @Module({ imports: [ServiceKitModule.forRoot({ service: 'probe', logger, metrics })], controllers: [LeasesController] })
    class ProbeModule {}
    app = await createServiceApp({ module: ProbeModule, service: 'probe', description: 'test', logger, metrics });
    await app.init();
    // Serve every request inside a server span, as the HTTP instrumentation does.
    const server = app.getHttpServer() as Server;
    const [handler] = server.listeners('request') as ((request: IncomingMessage, response: ServerResponse) => void)[];
    server.removeAllListeners('request');
    server.on('request', (request: IncomingMessage, response: ServerResponse) =>
      provider.getTracer('probe').startActiveSpan(`${request.method}`, (span) => {
        response.once('finish', () => span.end());
        handler!(request, response);
      }),
    );
  });

  afterAll(async () => {
    await app.close();
    trace.disable();
    context.disable();
    await provider.shutdown();
  });

  it('answers curl and scrapers without a preference in the text format', async () => {
    const answer = await request(app.getHttpServer()).get('/metrics').set('accept', '*/*').expect(200);
    expect(answer.headers['content-type']).toMatch(/^text\/plain;.*version=0\.0\.4/);
    expect(answer.headers['vary']).toMatch(/accept/i);
    expect(answer.text).toContain('# TYPE rotor_http_requests_total counter');
    expect(answer.text).not.toContain('# EOF');
  });

  it("answers Prometheus in OpenMetrics, the request duration carrying the request's trace id as exemplar", async () => {
    await request(app.getHttpServer()).get(`/v1/leases/${LEASE_ID}`).expect(200);
    const answer = await request(app.getHttpServer()).get('/metrics').set('accept', PROMETHEUS_ACCEPT).expect(200);
    expect(answer.headers['content-type']).toMatch(/^application\/openmetrics-text;.*version=1\.0\.0/);
    expect(answer.text.endsWith('# EOF\n')).toBe(true);
    const bucket = answer.text
      .split('\n')
      .find((line) => /^rotor_http_request_duration_seconds_bucket\{.*route="\/v1\/leases\/:id".* # /.test(line));
    expect(bucket).toMatch(/ # \{trace_id="[0-9a-f]{32}"\} \d/);
    expect(answer.text).not.toContain(LEASE_ID);
  });
});
