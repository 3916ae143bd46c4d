import { Writable } from 'node:stream';

import { Body, Controller, Get, Module, Post, type INestApplication } from '@nestjs/common';
import request from 'supertest';
import { z } from 'zod';

import { DomainError } from '@rotor/errors';
import { ProblemDetailsSchema } from '@rotor/rest-contract';
import { createLogger, Metrics } from '@rotor/telemetry';

import { createServiceApp } from './bootstrap';
import { ReadinessRegistry } from './readiness';
import { ServiceKitModule } from './service-kit.module';
import { ZodBodyPipe } from './zod-body.pipe';

const Echo = z.strictObject({ name: z.string().min(1) });

@Controller()
class ProbeController {
  @Get('quota')
  quota(): never {
    throw new DomainError('rate-limited', 'lease-quota-reached', 'too many leases', { retryAfterSeconds: 30 });
  }

  @Get('exists')
  exists(): never {
    throw new DomainError('conflict', 'already-there', 'it exists', { members: { existingId: 'x-1', status: 200, code: 'spoofed' } });
  }

  @Get('boom')
  boom(): never {
    throw new Error('database password is hunter2');
  }

  @Get('redis-down')
  redisDown(): never {
    const error = new Error('Reached the max retries per request limit (which is 2).');
    error.name = 'MaxRetriesPerRequestError';
    throw error;
  }

  @Post('echo')
  echo(@Body(new ZodBodyPipe(Echo)) body: z.infer<typeof Echo>) {
    return body;
  }
}

describe('service kit (HTTP edge)', () => {
  let app: INestApplication;
  const logLines: string[] = [];
  let dependencyUp = true;

  beforeAll(async () => {
    const metrics = new Metrics('probe');
    const logger = createLogger({
      service: 'probe',
      destination: new Writable({
        write(chunk: Buffer, _encoding, done) {
          logLines.push(chunk.toString());
          done();
        },
      }),
    });
    @Module({
      imports: [ServiceKitModule.forRoot({ service: 'probe', logger, metrics })],
      controllers: [ProbeController],
    })
    class ProbeModule {}
    app = await createServiceApp({ module: ProbeModule, service: 'probe', description: 'test', logger, metrics });
    app.get(ReadinessRegistry).register({
      name: 'redis',
      check: async () => {
        if (!dependencyUp) throw new Error('connect ECONNREFUSED 127.0.0.1:6379');
      },
    });
    await app.init();
  });

  afterAll(() => app.close());

  it('maps a domain error to problem+json with its status, code and Retry-After', async () => {
    const response = await request(app.getHttpServer()).get('/quota');
    expect(response.status).toBe(429);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.headers['retry-after']).toBe('30');
    expect(JSON.parse(response.text)).toMatchObject({
      status: 429,
      code: 'lease-quota-reached',
      title: 'Too Many Requests',
      instance: '/quota',
    });
  });

  it("adds a domain error's extension members to the problem, never over its standard members", async () => {
    const response = await request(app.getHttpServer()).get('/exists');
    expect(response.status).toBe(409);
    expect(JSON.parse(response.text)).toMatchObject({ status: 409, code: 'already-there', existingId: 'x-1' });
  });

  it('answers an unexpected error with an error id and no internals, and logs the id', async () => {
    const response = await request(app.getHttpServer()).get('/boom');
    const problem = JSON.parse(response.text) as { errorId: string; detail: string };
    expect(response.status).toBe(500);
    expect(response.text).not.toContain('hunter2');
    expect(logLines.join('')).toContain(problem.errorId);
  });

  it('answers 503 with Retry-After when a dependency client gives up, not 500', async () => {
    const response = await request(app.getHttpServer()).get('/redis-down');
    expect(response.status).toBe(503);
    expect(response.headers['retry-after']).toBe('5');
    expect(JSON.parse(response.text)).toMatchObject({ code: 'dependency-unavailable', errorId: expect.any(String) });
  });

  it('names the bad field of an invalid body', async () => {
    const response = await request(app.getHttpServer()).post('/echo').send({ name: '' });
    expect(response.status).toBe(400);
    expect(JSON.parse(response.text)).toMatchObject({ code: 'invalid-body', field: 'name' });
  });

  it('refuses a body that is not JSON without quoting it back', async () => {
    const response = await request(app.getHttpServer())
      .post('/echo')
      .set('content-type', 'application/json')
      .send('{"name": canary-in-body');
    expect(response.status).toBe(400);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.text).not.toContain('canary');
  });

  it('refuses a body whose Content-Encoding does not match its bytes with a 400, not a 500', async () => {
    const response = await request(app.getHttpServer())
      .post('/echo')
      .set('content-type', 'application/json')
      .set('content-encoding', 'gzip')
      .send('{"name":"plain, not gzip"}');
    expect(response.status).toBe(400);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.text).not.toContain('plain, not gzip');
  });

  it('answers every error class in the documented ProblemDetails shape, nothing more', async () => {
    const answers = [
      await request(app.getHttpServer()).get('/quota'),
      await request(app.getHttpServer()).get('/boom'),
      await request(app.getHttpServer()).get('/redis-down'),
      await request(app.getHttpServer()).post('/echo').send({ name: '' }),
      await request(app.getHttpServer()).post('/echo').set('content-type', 'application/json').send('{"name": x'),
      await request(app.getHttpServer()).get('/nowhere'),
    ];
    for (const answer of answers) {
      const problem: unknown = JSON.parse(answer.text);
      // Parsing strips fields the schema does not name: equal means all are documented.
      expect(ProblemDetailsSchema.parse(problem)).toEqual(problem);
    }
  });

  it('answers unknown routes with problem+json', async () => {
    const response = await request(app.getHttpServer()).get('/nowhere');
    expect(response.status).toBe(404);
    expect(JSON.parse(response.text)).toMatchObject({ status: 404, code: 'not-found' });
  });

  it('reports readiness per dependency and 503 naming the one that is down', async () => {
    expect((await request(app.getHttpServer()).get('/readyz')).status).toBe(200);
    dependencyUp = false;
    const response = await request(app.getHttpServer()).get('/readyz');
    dependencyUp = true;
    expect(response.status).toBe(503);
    expect(response.body).toMatchObject({ ready: false, checks: { redis: { ok: false, reason: 'unreachable' } } });
    expect(JSON.stringify(response.body)).not.toContain('ECONNREFUSED'); // the driver's text goes to the log only
  });

  it('serves liveness, Prometheus metrics and the OpenAPI document', async () => {
    expect((await request(app.getHttpServer()).get('/healthz')).body).toEqual({ status: 'ok' });
    const metrics = await request(app.getHttpServer()).get('/metrics');
    expect(metrics.text).toContain('process_cpu_seconds_total');
    const docs = await request(app.getHttpServer()).get('/docs/json');
    expect(docs.body).toMatchObject({ openapi: expect.stringMatching(/^3\./), info: { title: 'rotor probe' } });
    expect(Object.keys(docs.body.paths)).toContain('/echo');
  });
});
