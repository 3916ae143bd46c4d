import { X509Certificate } from 'node:crypto';
import { copyFileSync, writeFileSync } from 'node:fs';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { TLSSocket } from 'node:tls';

import { Controller, Get, Module } from '@nestjs/common';

import { ConfigError, type HttpSettings, type ServerTlsFiles } from '@rotor/config';
import { createLogger, Metrics } from '@rotor/telemetry';

import { bootstrapService, type RunningService } from './bootstrap';
import { ServiceKitModule } from './service-kit.module';
import { TestPki, type IssuedCertificate } from './test-pki';

@Controller('v1')
class ProbeController {
  @Get('work')
  work() {
    return { route: 'workload' };
  }

  @Get('ops/thing')
  ops() {
    return { route: 'operator' };
  }
}

interface Answer {
  status: number;
  body: string;
  contentType?: string;
  /** The serial number of the certificate the server presented. */
  serial?: string;
}

interface ClientTls {
  ca?: string;
  cert?: string;
  key?: string;
}

/** One GET on a fresh connection (no agent), so each call sees the certificate served now. */
const fetchOnce = (url: string, tls: ClientTls = {}): Promise<Answer> =>
  new Promise((resolve, reject) => {
    const onResponse = (response: IncomingMessage) => {
      const socket = response.socket as Partial<TLSSocket>;
      const serial = socket.getPeerCertificate?.().serialNumber;
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body, contentType: response.headers['content-type'], serial }));
    };
    const request = url.startsWith('https:')
      ? httpsGet(url, { ...tls, agent: false }, onResponse)
      : httpGet(url, { agent: false }, onResponse);
    request.on('error', reject);
  });

const serialOf = (pem: string) => new X509Certificate(pem).serialNumber;

const waitFor = async (condition: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
};

describe('service listeners (HTTPS, certificate reload, mTLS, operator port)', () => {
  const pki = new TestPki();
  let serverA: IssuedCertificate;
  let serverB: IssuedCertificate;
  let operatorClient: IssuedCertificate;
  const logLines: string[] = [];
  const running: RunningService[] = [];

  beforeAll(() => {
    serverA = pki.issue('server-a', { commonName: 'rotor test server A' });
    serverB = pki.issue('server-b', { commonName: 'rotor test server B' });
    operatorClient = pki.issue('operator', { use: 'client' });
  });

  afterEach(async () => {
    await Promise.all(running.splice(0).map(({ app }) => app.close()));
    logLines.length = 0;
  });

  afterAll(() => pki.remove());

  /** The files a deployment mounts; a spec overwrites them to rotate. */
  const servedFiles = (name: string, from: IssuedCertificate): ServerTlsFiles => {
    const files = { certFile: join(pki.dir, `${name}-tls.crt`), keyFile: join(pki.dir, `${name}-tls.key`) };
    copyFileSync(from.certFile, files.certFile);
    copyFileSync(from.keyFile, files.keyFile);
    return files;
  };

  const boot = async (http: Partial<HttpSettings> & Pick<HttpSettings, 'transport'>): Promise<RunningService> => {
    const logger = createLogger({
      service: 'probe',
      destination: new Writable({
        write(chunk: Buffer, _encoding, done) {
          logLines.push(chunk.toString());
          done();
        },
      }),
    });
    const metrics = new Metrics('probe');
    @Module({
      imports: [ServiceKitModule.forRoot({ service: 'probe', logger, metrics })],
      controllers: [ProbeController],
    })
    class ProbeModule {}
    const service = await bootstrapService({
      module: ProbeModule,
      service: 'probe',
      description: 'test',
      logger,
      metrics,
      http: { host: '127.0.0.1', port: 0, ...http },
      operatorRoutes: ['/v1/ops'],
    });
    running.push(service);
    return service;
  };

  const https = (files: ServerTlsFiles) => ({ transport: { scheme: 'https' as const, tls: files } });

  it('serves HTTPS to a client that trusts the CA', async () => {
    const { urls } = await boot(https(servedFiles('trusted', serverA)));
    expect(urls.workload).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const answer = await fetchOnce(`${urls.workload}/v1/work`, { ca: pki.ca });
    expect(answer).toMatchObject({ status: 200, serial: serialOf(serverA.cert) });
    expect(JSON.parse(answer.body)).toEqual({ route: 'workload' });
  });

  it('is refused by a client that does not trust the CA', async () => {
    const { urls } = await boot(https(servedFiles('untrusted', serverA)));
    await expect(fetchOnce(`${urls.workload}/healthz`)).rejects.toMatchObject({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
  });

  it('serves a rotated certificate to new connections without a restart, and keeps it when the next pair is mismatched', async () => {
    const files = servedFiles('rotating', serverA);
    const { urls } = await boot(https(files));
    const servedSerial = async () => (await fetchOnce(`${urls.workload}/healthz`, { ca: pki.ca })).serial;
    expect(await servedSerial()).toBe(serialOf(serverA.cert));

    // Certificate first, then key, as a non-atomic writer would.
    writeFileSync(files.certFile, serverB.cert);
    writeFileSync(files.keyFile, serverB.key);
    await waitFor(async () => (await servedSerial()) === serialOf(serverB.cert));
    expect(logLines.find((line) => line.includes('"msg":"tls certificate reloaded"'))).toContain('CN=rotor test server B');

    writeFileSync(files.certFile, serverA.cert); // with B's key: a pair caught half-rotated
    await waitFor(() => logLines.some((line) => line.includes('cannot be used')));
    expect(await servedSerial()).toBe(serialOf(serverB.cert));
    const warning = logLines.find((line) => line.includes('cannot be used'))!;
    expect(warning).toContain('ROTOR_TLS_KEY_FILE');
    expect(logLines.join('')).not.toContain('PRIVATE KEY');
    expect(logLines.join('')).not.toContain(serverB.key.split('\n')[1]);
  });

  it('splits operator routes and /metrics onto the operator port; probes answer on both', async () => {
    const { urls } = await boot({ ...https(servedFiles('split', serverA)), operatorPort: 0 });
    const workload = (path: string) => fetchOnce(`${urls.workload}${path}`, { ca: pki.ca });
    const operator = (path: string) => fetchOnce(`${urls.operator!}${path}`, { ca: pki.ca });

    expect(urls.operator).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(urls.operator).not.toBe(urls.workload);
    expect((await workload('/v1/work')).status).toBe(200);
    expect((await operator('/v1/work')).status).toBe(404);
    expect((await operator('/v1/ops/thing')).status).toBe(200);
    const hidden = await workload('/v1/ops/thing');
    expect(hidden.status).toBe(404);
    expect(hidden.contentType).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(hidden.body)).toMatchObject({ status: 404, code: 'not-found' });
    // Express matches routes case-insensitively; so does the split.
    expect((await workload('/V1/OPS/thing')).status).toBe(404);
    expect((await workload('/metrics')).status).toBe(404);
    expect((await operator('/metrics')).body).toContain('process_cpu_seconds_total');
    for (const probe of ['/healthz', '/readyz']) {
      expect((await workload(probe)).status).toBe(200);
      expect((await operator(probe)).status).toBe(200);
    }
  });

  it('serves everything on one port when no operator port is configured', async () => {
    const { urls } = await boot(https(servedFiles('single', serverA)));
    expect(urls.operator).toBeUndefined();
    expect((await fetchOnce(`${urls.workload}/v1/ops/thing`, { ca: pki.ca })).status).toBe(200);
    expect((await fetchOnce(`${urls.workload}/metrics`, { ca: pki.ca })).status).toBe(200);
  });

  it('closes both listeners when the app closes', async () => {
    const service = await boot({ ...https(servedFiles('closing', serverA)), operatorPort: 0 });
    await service.app.close();
    running.splice(running.indexOf(service), 1);
    await expect(fetchOnce(`${service.urls.workload}/healthz`, { ca: pki.ca })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await expect(fetchOnce(`${service.urls.operator!}/healthz`, { ca: pki.ca })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('requires a client certificate signed by ROTOR_TLS_CLIENT_CA_FILE when it is set', async () => {
    const { urls } = await boot(https({ ...servedFiles('mutual', serverA), clientCaFile: pki.caFile }));
    await expect(fetchOnce(`${urls.workload}/healthz`, { ca: pki.ca })).rejects.toMatchObject({
      code: expect.stringMatching(/CERTIFICATE_REQUIRED|ECONNRESET/),
    });
    const answer = await fetchOnce(`${urls.workload}/healthz`, { ca: pki.ca, cert: operatorClient.cert, key: operatorClient.key });
    expect(answer.status).toBe(200);
  });

  it('refuses to start on an unreadable certificate file, naming the variable', async () => {
    const files = { ...servedFiles('unreadable', serverA), certFile: join(pki.dir, 'missing.crt') };
    const failure = boot(https(files));
    await expect(failure).rejects.toBeInstanceOf(ConfigError);
    await expect(failure).rejects.toThrow(/ROTOR_TLS_CERT_FILE: cannot read .*missing\.crt \(ENOENT\)/);
  });

  it('refuses to start on a key that is not the certificate’s, without printing either', async () => {
    const files = { certFile: serverA.certFile, keyFile: serverB.keyFile };
    const failure = boot(https(files));
    await expect(failure).rejects.toThrow(/ROTOR_TLS_KEY_FILE: .* is not the key of the certificate/);
    await expect(failure).rejects.not.toThrow(/PRIVATE KEY|CERTIFICATE-----/);
  });

  it('serves plain HTTP on an insecure local stack, and says so loudly', async () => {
    const { urls } = await boot({ transport: { scheme: 'http' } });
    expect(urls.workload).toMatch(/^http:\/\//);
    expect((await fetchOnce(`${urls.workload}/healthz`)).status).toBe(200);
    expect(logLines.join('')).toMatch(/"level":"warn".*"msg":"INSECURE: plain HTTP/);
  });
});
