import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';

import { Controller, Get, HttpException, Module, Param, UseGuards, type INestApplication } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { context, trace, type SpanContext } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { TracerProvider } from '@opentelemetry/sdk-trace';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import request from 'supertest';

import { createLogger, Metrics } from '@rotor/telemetry';
import { TokenVerifier } from '@rotor/token-verification';

import { createServiceApp } from './bootstrap';
import { CallerGuard, TOKEN_VERIFIER } from './caller.guard';
import { ServiceKitModule } from './service-kit.module';

const ISSUER = 'https://kubernetes.default.svc.cluster.local';
const CANARY = 'canary-a11c5e';

@Controller('v1/leases')
class LeasesController {
  @Get(':id')
  @UseGuards(CallerGuard)
  lease(@Param('id') id: string) {
    return { id };
  }

  @Get(':id/broken')
  broken(): never {
    throw new HttpException('broken', 500);
  }
}

describe('HTTP access log', () => {
  let app: INestApplication;
  let server: Server;
  let token: string;
  const lines: string[] = [];
  const records = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  const accessLines = () => records().filter((record) => record['component'] === 'http');
  const contextManager = new AsyncLocalStorageContextManager();
  const provider = new TracerProvider();
  const tracer = provider.getTracer('access-log-spec');
  /** What the HTTP server instrumentation does: each request handled inside its own active span. */
  const served: SpanContext[] = [];

  beforeAll(async () => {
    context.setGlobalContextManager(contextManager.enable());
    trace.setGlobalTracerProvider(provider);
    const keys = await generateKeyPair('RS256');
    const dir = mkdtempSync(join(tmpdir(), 'rotor-access-log-'));
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [{ ...(await exportJWK(keys.publicKey)), kid: 'k', alg: 'RS256' }] }));
    const verifier = await TokenVerifier.create({ jwks: join(dir, 'jwks.json'), issuer: ISSUER, audience: 'rotor', clockSkewSeconds: 5 });
    token = await new SignJWT({ kubernetes: { namespace: 'shop', serviceaccount: { name: 'orders' } }, note: CANARY })
      .setProtectedHeader({ alg: 'RS256', kid: 'k' })
      .setIssuer(ISSUER)
      .setAudience('rotor')
      .setSubject('system:serviceaccount:shop:orders')
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(keys.privateKey);
    const logger = createLogger({
      service: 'probe',
      level: 'debug',
      destination: new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(chunk.toString());
          done();
        },
      }),
    });
    const metrics = new Metrics('probe');
    @Module({
      imports: [ServiceKitModule.forRoot({ service: 'probe', logger, metrics })],
      controllers: [LeasesController],
      providers: [{ provide: TOKEN_VERIFIER, useValue: verifier }, CallerGuard],
    })
    class ProbeModule {}
    app = await createServiceApp({ module: ProbeModule, service: 'probe', description: 'test', logger, metrics });
    await app.init();
    const express = (app as NestExpressApplication).getHttpAdapter().getInstance();
    server = createServer((req, res) =>
      tracer.startActiveSpan('GET', (span) => {
        served.push(span.spanContext());
        res.once('finish', () => span.end());
        express(req, res);
      }),
    );
  });

  afterAll(async () => {
    await app.close();
    trace.disable();
    context.disable();
  });

  beforeEach(() => {
    lines.length = 0;
    served.length = 0;
  });

  it('writes method, route template, status, duration, caller kind and trace ids; never the token, path ids or query', async () => {
    await request(server)
      .get(`/v1/leases/${CANARY}?token=${CANARY}&access_token=${CANARY}`)
      .set('authorization', `Bearer ${token}`)
      .set('cookie', `session=${CANARY}`)
      .expect(200);

    const [line] = accessLines();
    expect(accessLines()).toHaveLength(1);
    expect(line).toMatchObject({
      level: 'info',
      method: 'GET',
      route: '/v1/leases/:id',
      status: 200,
      caller: 'workload',
      trace_id: served[0]!.traceId,
      span_id: served[0]!.spanId,
    });
    expect(line!['durationMs']).toEqual(expect.any(Number));
    expect(Object.keys(line!).sort()).toEqual(
      [
        'caller',
        'component',
        'durationMs',
        'level',
        'method',
        'msg',
        'route',
        'service',
        'span_id',
        'status',
        'time',
        'trace_flags',
        'trace_id',
      ].sort(),
    );
    const output = lines.join('');
    expect(output).not.toContain(CANARY);
    expect(output).not.toContain(token);
  });

  it('logs a refused token at warn as anonymous, a server error at error, and an unmatched path without it', async () => {
    await request(server).get(`/v1/leases/${CANARY}`).set('authorization', `Bearer ${CANARY}`).expect(401);
    await request(server).get(`/v1/leases/${CANARY}/broken`).expect(500);
    await request(server).get(`/v2/${CANARY}?secret=${CANARY}`).expect(404);

    expect(accessLines()).toEqual([
      expect.objectContaining({ level: 'warn', route: '/v1/leases/:id', status: 401, caller: 'anonymous' }),
      expect.objectContaining({ level: 'error', route: '/v1/leases/:id/broken', status: 500, caller: 'anonymous', msg: 'request failed' }),
      expect.objectContaining({ level: 'warn', route: 'unmatched', status: 404, caller: 'anonymous' }),
    ]);
    expect(lines.join('')).not.toContain(CANARY);
  });

  it('writes probes and scrapes at debug only', async () => {
    await request(server).get('/healthz').expect(200);
    await request(server).get('/metrics').expect(200);

    expect(accessLines().map(({ level, route }) => ({ level, route }))).toEqual([
      { level: 'debug', route: '/healthz' },
      { level: 'debug', route: '/metrics' },
    ]);
  });
});
