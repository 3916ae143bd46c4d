import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server, type ServerOptions } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ExitCode, exitCodeFor } from './exit-codes';
import { configureRequests, request, send } from './http-client';

/** `openssl ca` can back-date a certificate (req and x509 cannot); this is its smallest configuration. */
const BACKDATING_CA =
  '[ca]\ndefault_ca=x\n[x]\ndatabase=index.txt\nnew_certs_dir=.\ndefault_md=sha256\npolicy=p\nrand_serial=yes\ncopy_extensions=copy\n[p]\ncommonName=supplied\n';

describe('CLI HTTPS client', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rotor-cli-tls-'));
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  const servers: (Server | ReturnType<typeof createHttpServer>)[] = [];

  const listen = async (server: Server | ReturnType<typeof createHttpServer>, scheme: 'http' | 'https'): Promise<string> => {
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `${scheme}://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  const answer = (_request: unknown, response: { end(text: string): void }) => response.end('{"ok":true}');
  /** An HTTPS server with this certificate and key; its origin. */
  const serve = (name: string, options: ServerOptions = {}) =>
    listen(createServer({ cert: readFileSync(file(`${name}.crt`)), key: readFileSync(file(`${name}.key`)), ...options }, answer), 'https');

  const selfSigned = (name: string) =>
    openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', `/CN=rotor cli ${name}`,
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', `${name}.key`, '-out', `${name}.crt`); // prettier-ignore

  let current: string;
  let expired: string;
  let mutual: string;

  beforeAll(async () => {
    selfSigned('current'); // trusted only when ROTOR_CA_FILE names it
    selfSigned('client');
    writeFileSync(file('ca.cnf'), BACKDATING_CA);
    writeFileSync(file('index.txt'), '');
    openssl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=rotor cli expired',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', 'expired.key', '-out', 'expired.csr'); // prettier-ignore
    openssl('ca', '-batch', '-config', 'ca.cnf', '-selfsign', '-keyfile', 'expired.key', '-in', 'expired.csr', '-out', 'expired.crt',
      '-notext', '-startdate', '20200101000000Z', '-enddate', '20200102000000Z'); // prettier-ignore
    current = await serve('current');
    expired = await serve('expired');
    mutual = await serve('current', { ca: readFileSync(file('client.crt')), requestCert: true, rejectUnauthorized: true });
  });

  afterAll(async () => {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    rmSync(dir, { recursive: true, force: true });
  });

  it('names the URL, the reason and ROTOR_CA_FILE when the server certificate is not trusted', async () => {
    await expect(send(`${current}/healthz`, {}, {})).rejects.toThrow(
      `certificate of ${current} is not trusted (DEPTH_ZERO_SELF_SIGNED_CERT): set ROTOR_CA_FILE to the CA that signed it`,
    );
  });

  it('trusts the CA that ROTOR_CA_FILE names', async () => {
    expect(await send(`${current}/healthz`, {}, { ROTOR_CA_FILE: file('current.crt') })).toMatchObject({
      status: 200,
      text: '{"ok":true}',
    });
  });

  it('says when a trusted but expired certificate expired', async () => {
    await expect(send(`${expired}/healthz`, {}, { ROTOR_CA_FILE: file('expired.crt') })).rejects.toThrow(
      `certificate of ${expired} expired on 2020-01-02T00:00:00.000Z (CERT_HAS_EXPIRED)`,
    );
  });

  it('presents ROTOR_CLIENT_CERT_FILE to a service that requires mTLS, and names it when none is set', async () => {
    const trust = { ROTOR_CA_FILE: file('current.crt') };
    await expect(send(`${mutual}/healthz`, {}, trust)).rejects.toThrow(`${mutual} refused this client's certificate or wanted one`);
    const withCertificate = { ...trust, ROTOR_CLIENT_CERT_FILE: file('client.crt'), ROTOR_CLIENT_KEY_FILE: file('client.key') };
    expect((await send(`${mutual}/healthz`, {}, withCertificate)).status).toBe(200);
  });

  it('says it cannot reach a service that refuses connections', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await expect(send(`https://127.0.0.1:${port}/healthz`, {}, {})).rejects.toThrow(
      `cannot reach https://127.0.0.1:${port}: connect ECONNREFUSED`,
    );
  });

  it('says when a service answers plain HTTP on an https:// URL', async () => {
    const plain = (await listen(createHttpServer(answer), 'http')).replace('http:', 'https:');
    await expect(send(`${plain}/healthz`, {}, {})).rejects.toThrow(`cannot reach ${plain}: it does not speak HTTPS`);
  });

  it('names ROTOR_CA_FILE when it cannot be read', async () => {
    await expect(send(`${current}/healthz`, {}, { ROTOR_CA_FILE: file('missing.crt') })).rejects.toThrow(
      /ROTOR_CA_FILE: cannot read .*missing\.crt/,
    );
  });
});

describe('CLI requests: timeouts and retries', () => {
  let server: ReturnType<typeof createHttpServer>;
  let origin: string;
  /** What the server answers next, one per request; then 200. */
  let script: ((response: import('node:http').ServerResponse) => void)[] = [];
  let seen: string[] = [];

  beforeAll(async () => {
    server = createHttpServer((incoming, response) => {
      seen.push(`${incoming.method} ${incoming.url}`);
      const next = script.shift();
      if (next) return next(response);
      response.setHeader('content-type', 'application/json');
      response.end('{"ok":true}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  beforeEach(() => {
    script = [];
    seen = [];
    configureRequests({ timeoutMs: 30_000, attempts: 3 });
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  const unavailable = (response: import('node:http').ServerResponse) => {
    response.statusCode = 503;
    response.setHeader('retry-after', '0');
    response.end('{"title":"Service Unavailable","code":"dependency-unavailable"}');
  };

  it('tries an idempotent request again after 503, honouring Retry-After, and stops at --retries', async () => {
    script = [unavailable, unavailable];
    expect(await request(`${origin}/v1/leases/x`)).toEqual({ ok: true });
    expect(seen).toEqual(['GET /v1/leases/x', 'GET /v1/leases/x', 'GET /v1/leases/x']);

    seen = [];
    script = [unavailable, unavailable, unavailable];
    const error = await request(`${origin}/v1/leases/x`).catch((failure: unknown) => failure);
    expect(seen).toHaveLength(3);
    expect(exitCodeFor(error)).toBe(ExitCode.unavailable);
  });

  it('sends a POST once unless it is marked idempotent', async () => {
    script = [unavailable];
    await expect(request(`${origin}/v1/credentials`, { method: 'POST', body: {} })).rejects.toThrow('503 Service Unavailable');
    expect(seen).toEqual(['POST /v1/credentials']);
    seen = [];
    script = [unavailable];
    expect(await request(`${origin}/v1/emergency-rotations`, { method: 'POST', body: {}, idempotent: true })).toEqual({ ok: true });
    expect(seen).toHaveLength(2);
  });

  it('does not retry what a retry cannot fix (403, 404)', async () => {
    script = [
      (response) => {
        response.statusCode = 403;
        response.end('{"title":"Forbidden","code":"missing-group"}');
      },
    ];
    const error = await request(`${origin}/v1/leases/x`).catch((failure: unknown) => failure);
    expect(exitCodeFor(error)).toBe(ExitCode.auth);
    expect(seen).toHaveLength(1);
  });

  it('gives up on a silent server after --timeout, exit 4, and retries a GET', async () => {
    configureRequests({ timeoutMs: 200, attempts: 2 });
    script = [() => undefined, () => undefined]; // never answers
    const started = Date.now();
    const error = await request(`${origin}/v1/leases/x`).catch((failure: unknown) => failure);
    expect((error as Error).message).toContain('no answer within 0.2 s (--timeout)');
    expect(exitCodeFor(error)).toBe(ExitCode.unavailable);
    expect(seen).toHaveLength(2);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
