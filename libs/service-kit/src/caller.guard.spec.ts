import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';

import { Controller, Get, Module, UseGuards, type INestApplication } from '@nestjs/common';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import request from 'supertest';

import { createLogger, Metrics } from '@rotor/telemetry';
import { TokenVerifier } from '@rotor/token-verification';

import { createServiceApp } from './bootstrap';
import { CallerGuard, TOKEN_VERIFIER } from './caller.guard';
import { ServiceKitModule } from './service-kit.module';

const ISSUER = 'https://kubernetes.default.svc.cluster.local';

@Controller('v1/whoami')
@UseGuards(CallerGuard)
class WhoamiController {
  @Get()
  whoami() {
    return { ok: true };
  }
}

describe('CallerGuard metrics', () => {
  let app: INestApplication;
  let token: string;
  const metrics = new Metrics('probe');

  beforeAll(async () => {
    const keys = await generateKeyPair('RS256');
    const dir = mkdtempSync(join(tmpdir(), 'rotor-guard-'));
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [{ ...(await exportJWK(keys.publicKey)), kid: 'k', alg: 'RS256' }] }));
    const verifier = await TokenVerifier.create({ jwks: join(dir, 'jwks.json'), issuer: ISSUER, audience: 'rotor', clockSkewSeconds: 5 });
    token = await new SignJWT({ kubernetes: { namespace: 'shop', serviceaccount: { name: 'orders' } } })
      .setProtectedHeader({ alg: 'RS256', kid: 'k' })
      .setIssuer(ISSUER)
      .setAudience('rotor')
      .setSubject('system:serviceaccount:shop:orders')
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(keys.privateKey);
    const logger = createLogger({ service: 'probe', destination: new Writable({ write: (_chunk, _encoding, done) => done() }) });
    @Module({
      imports: [ServiceKitModule.forRoot({ service: 'probe', logger, metrics })],
      controllers: [WhoamiController],
      providers: [{ provide: TOKEN_VERIFIER, useValue: verifier }, CallerGuard],
    })
    class ProbeModule {}
    app = await createServiceApp({ module: ProbeModule, service: 'probe', description: 'test', logger, metrics });
    await app.init();
  });

  afterAll(() => app.close());

  it('counts refused tokens by reason, never with the token, and not the accepted ones', async () => {
    const server = app.getHttpServer();
    await request(server).get('/v1/whoami').expect(401);
    await request(server).get('/v1/whoami').set('authorization', 'Basic canary-basic').expect(401);
    await request(server).get('/v1/whoami').set('authorization', 'Bearer canary.not.ajwt').expect(401);
    await request(server).get('/v1/whoami').set('authorization', 'Bearer canary.not.ajwt').expect(401);
    await request(server).get('/v1/whoami').set('authorization', `Bearer ${token}`).expect(200);

    const text = await metrics.render();
    const failures = (reason: string) =>
      new RegExp(`^rotor_authentication_failures_total\\{reason="${reason}",rotor_service="probe"\\} (\\d+)$`, 'm').exec(text)?.[1];
    expect(failures('missing-token')).toBe('1');
    expect(failures('malformed-authorization')).toBe('1');
    expect(failures('invalid-token')).toBe('2');
    expect(text.match(/^rotor_authentication_failures_total\{/gm)).toHaveLength(3);
    expect(text).not.toContain('canary');
    expect(text).not.toContain(token);
  });
});
