import { Writable } from 'node:stream';

import { Controller, Get, Module, type INestApplication } from '@nestjs/common';
import request from 'supertest';

import { createLogger, Metrics } from '@rotor/telemetry';

import { createServiceApp } from './bootstrap';
import { DependencyGate, Needs } from './dependency-gate';
import { ReadinessRegistry } from './readiness';
import { ServiceKitModule } from './service-kit.module';

const TIMEOUT_MS = 200;
let handled = 0;

@Controller()
class GatedController {
  constructor(private readonly gate: DependencyGate) {}

  @Get('needs-kafka')
  @Needs('kafka')
  needsKafka() {
    handled++;
    return { ok: true };
  }

  @Get('needs-redis')
  @Needs('redis')
  needsRedis() {
    return { ok: true };
  }

  @Get('hanging-gsm')
  async hangingGsm() {
    return this.gate.bounded('gsm', new Promise(() => undefined));
  }

  /** What EventPublisher throws when a bounded produce is not acknowledged in time. */
  @Get('publish-timeout')
  publishTimeout(): never {
    throw Object.assign(new Error('lease.issued not acknowledged within 1500 ms'), {
      name: 'PublishTimeoutError',
      code: 'publish-timeout',
    });
  }

  /** What ioredis throws when a command outlives its commandTimeout. */
  @Get('redis-command-timeout')
  redisCommandTimeout(): never {
    throw new Error('Command timed out');
  }
}

describe('fail fast (DependencyGate, @Needs, timeouts)', () => {
  let app: INestApplication;
  let kafkaUp = false;

  beforeAll(async () => {
    const metrics = new Metrics('gated');
    const logger = createLogger({ service: 'gated', destination: new Writable({ write: (_chunk, _encoding, done) => done() }) });
    @Module({
      imports: [ServiceKitModule.forRoot({ service: 'gated', logger, metrics, dependencyTimeoutMs: TIMEOUT_MS })],
      controllers: [GatedController],
    })
    class GatedModule {}
    app = await createServiceApp({ module: GatedModule, service: 'gated', description: 'test', logger, metrics });
    const readiness = app.get(ReadinessRegistry);
    readiness.register({
      name: 'kafka',
      check: () => (kafkaUp ? Promise.resolve() : Promise.reject(new Error('no answer within 2000 ms'))),
    });
    readiness.register({ name: 'redis', check: () => Promise.resolve() });
    await app.init();
    // The gate's first background probe runs 500 ms after start.
    await new Promise((resolve) => setTimeout(resolve, 1_200));
  });

  afterAll(() => app.close());

  it('refuses a route at once with 503 <dependency>-unavailable and Retry-After while the gate knows its dependency is down', async () => {
    const started = Date.now();
    const response = await request(app.getHttpServer()).get('/needs-kafka');
    expect(response.status).toBe(503);
    expect(response.headers['retry-after']).toBe('5');
    expect(JSON.parse(response.text)).toMatchObject({ code: 'kafka-unavailable' });
    expect(Date.now() - started).toBeLessThan(500);
    expect(handled).toBe(0); // the handler never ran
  });

  it('serves a route whose own dependencies are up, and the refused one once its dependency is back', async () => {
    expect((await request(app.getHttpServer()).get('/needs-redis')).status).toBe(200);
    kafkaUp = true;
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect((await request(app.getHttpServer()).get('/needs-kafka')).status).toBe(200);
    expect(handled).toBe(1);
  });

  it('answers 503 gsm-unavailable when a bounded call takes longer than ROTOR_DEPENDENCY_TIMEOUT_MS', async () => {
    const started = Date.now();
    const response = await request(app.getHttpServer()).get('/hanging-gsm');
    expect(response.status).toBe(503);
    expect(response.headers['retry-after']).toBe('5');
    expect(JSON.parse(response.text)).toMatchObject({ code: 'gsm-unavailable' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + 500);
  });

  it('names the dependency of a produce or a Redis command that timed out: 503 kafka-unavailable / redis-unavailable with Retry-After', async () => {
    for (const [path, code] of [
      ['/publish-timeout', 'kafka-unavailable'],
      ['/redis-command-timeout', 'redis-unavailable'],
    ] as const) {
      const response = await request(app.getHttpServer()).get(path);
      expect(response.status).toBe(503);
      expect(response.headers['retry-after']).toBe('5');
      expect(JSON.parse(response.text)).toMatchObject({ code });
    }
  });
});

describe('DependencyGate and /readyz agree', () => {
  const kafkaCheck = () => {
    let up = false;
    let delayMs = 0;
    return {
      set: (state: { up: boolean; delayMs?: number }) => ((up = state.up), (delayMs = state.delayMs ?? 0)),
      check: {
        name: 'kafka',
        // What the dependency was when the check was asked, answered after `delayMs`.
        check: () => {
          const [wasUp, after] = [up, delayMs];
          return new Promise<void>((resolve, reject) =>
            setTimeout(() => (wasUp ? resolve() : reject(new Error('2 consumer(s) not running'))), after),
          );
        },
      },
    };
  };

  it('opens the gate as soon as any report (a /readyz call) finds the dependency up again', async () => {
    const readiness = new ReadinessRegistry();
    const kafka = kafkaCheck();
    readiness.register(kafka.check);
    const gate = new DependencyGate(readiness, 1_500);
    await readiness.report(); // the gate's probe, while the consumers start
    expect(() => gate.assertAvailable(['kafka'])).toThrow('kafka unavailable');
    kafka.set({ up: true });
    expect((await readiness.report()).ready).toBe(true); // what /readyz answers
    expect(() => gate.assertAvailable(['kafka'])).not.toThrow();
  });

  it('is not closed again by an older report that finishes after a newer one', async () => {
    const readiness = new ReadinessRegistry();
    const kafka = kafkaCheck();
    readiness.register(kafka.check);
    const gate = new DependencyGate(readiness, 1_500);
    kafka.set({ up: false, delayMs: 50 });
    const stale = readiness.report(); // started first, still failing
    kafka.set({ up: true });
    await readiness.report(); // started later, finds it up
    await stale;
    expect(() => gate.assertAvailable(['kafka'])).not.toThrow();
  });
});
