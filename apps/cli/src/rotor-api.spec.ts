import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server, type ServerOptions } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { runInProcess } from './run-in-process.testing';
import { ExitCode } from './exit-codes';
import { cliError, transportTo } from './rotor-api';

/** `openssl ca` can back-date a certificate (req and x509 cannot); this is its smallest configuration. */
const BACKDATING_CA =
  '[ca]\ndefault_ca=x\n[x]\ndatabase=index.txt\nnew_certs_dir=.\ndefault_md=sha256\npolicy=p\nrand_serial=yes\ncopy_extensions=copy\n[p]\ncommonName=supplied\n';

/** One GET through the transport the CLI builds, its failure as the CLI words it. */
const send = (url: string, env: NodeJS.ProcessEnv) =>
  transportTo(url, undefined, env)
    .send('GET', '/healthz', {})
    .catch((error: unknown) => {
      throw cliError(error);
    });

describe('CLI HTTPS through @rotor/client', () => {
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
    await expect(send(current, {})).rejects.toThrow(
      `certificate of ${current} is not trusted (DEPTH_ZERO_SELF_SIGNED_CERT): set ROTOR_CA_FILE to the CA that signed it`,
    );
  });

  it('trusts the CA that ROTOR_CA_FILE names', async () => {
    expect(await send(current, { ROTOR_CA_FILE: file('current.crt') })).toMatchObject({
      status: 200,
      text: '{"ok":true}',
    });
  });

  it('says when a trusted but expired certificate expired', async () => {
    await expect(send(expired, { ROTOR_CA_FILE: file('expired.crt') })).rejects.toThrow(
      `certificate of ${expired} expired on 2020-01-02T00:00:00.000Z (CERT_HAS_EXPIRED)`,
    );
  });

  it('presents ROTOR_CLIENT_CERT_FILE to a service that requires mTLS, and names it when none is set', async () => {
    const trust = { ROTOR_CA_FILE: file('current.crt') };
    await expect(send(mutual, trust)).rejects.toThrow(`${mutual} refused this client's certificate or wanted one`);
    const withCertificate = { ...trust, ROTOR_CLIENT_CERT_FILE: file('client.crt'), ROTOR_CLIENT_KEY_FILE: file('client.key') };
    expect((await send(mutual, withCertificate)).status).toBe(200);
  });

  it('says it cannot reach a service that refuses connections', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await expect(send(`https://127.0.0.1:${port}`, {})).rejects.toThrow(`cannot reach https://127.0.0.1:${port}: connect ECONNREFUSED`);
  });

  it('says when a service answers plain HTTP on an https:// URL', async () => {
    const plain = (await listen(createHttpServer(answer), 'http')).replace('http:', 'https:');
    await expect(send(plain, {})).rejects.toThrow(`cannot reach ${plain}: it does not speak HTTPS`);
  });

  it('names ROTOR_CA_FILE when it cannot be read', async () => {
    await expect(send(current, { ROTOR_CA_FILE: file('missing.crt') })).rejects.toThrow(/ROTOR_CA_FILE: cannot read .*missing\.crt/);
  });
});

const run = runInProcess;

const LEASE_ID = '6f1c2d3e-0000-4000-8000-000000000001';
/** As the issuer might send it: its own key order, and a field this CLI does not know yet. */
const LEASE_JSON = `{"state":"active","leaseId":"${LEASE_ID}","role":"orders-db","owner":"team-orders","backend":"postgres","workload":{"namespace":"shop","serviceAccount":"orders"},"issuedAt":"2026-01-01T00:00:00.000Z","expiresAt":"2026-01-01T00:15:00.000Z","maxExpiresAt":"2026-01-01T01:00:00.000Z","newerField":1}`;

describe('CLI commands through @rotor/client: --timeout, --retries, problems and exit codes', () => {
  let server: ReturnType<typeof createHttpServer>;
  /** What the server answers next, one per request; then the lease. */
  let script: ((response: import('node:http').ServerResponse) => void)[] = [];
  let seen: string[] = [];
  const saved = { issuer: process.env['ROTOR_ISSUER_URL'], token: process.env['ROTOR_TOKEN'] };

  beforeAll(async () => {
    server = createHttpServer((incoming, response) => {
      incoming.resume();
      seen.push(`${incoming.method} ${incoming.url} ${String(incoming.headers['idempotency-key'] ?? '')}`.trim());
      const next = script.shift();
      if (next) return next(response);
      response.setHeader('content-type', 'application/json');
      response.end(LEASE_JSON);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    process.env['ROTOR_ISSUER_URL'] = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    process.env['ROTOR_TOKEN'] = 'operator-token';
  });
  beforeEach(() => {
    script = [];
    seen = [];
  });
  afterAll(async () => {
    for (const [name, value] of [
      ['ROTOR_ISSUER_URL', saved.issuer],
      ['ROTOR_TOKEN', saved.token],
    ] as const)
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    await new Promise((resolve) => server.close(resolve));
  });

  const problem =
    (status: number, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    (response: import('node:http').ServerResponse) => {
      response.writeHead(status, { 'content-type': 'application/problem+json', ...headers });
      response.end(JSON.stringify(body));
    };
  const unavailable = problem(
    503,
    { title: 'Service Unavailable', detail: 'redis is down', code: 'redis-unavailable' },
    { 'retry-after': '0' },
  );

  it('retries a GET after 503 (Retry-After), prints the answer as sent, and stops at --retries with exit 4', async () => {
    script = [unavailable, unavailable];
    const shown = await run('leases', 'show', LEASE_ID, '--json');
    expect(shown).toMatchObject({ code: ExitCode.ok, stderr: '' });
    // Key order and the unknown field survive: the output is what the issuer sent.
    expect(shown.stdout).toBe(`${LEASE_JSON}\n`);
    expect(seen).toEqual(Array(3).fill(`GET /v1/leases/${LEASE_ID}`));

    seen = [];
    script = [unavailable, unavailable, unavailable];
    expect(await run('leases', 'show', LEASE_ID, '--retries', '2')).toEqual({
      code: ExitCode.unavailable,
      stdout: '',
      stderr: 'rotor: 503 Service Unavailable: redis is down [redis-unavailable]\n',
    });
    expect(seen).toHaveLength(2);
  });

  it('sends an issuance once without an Idempotency-Key, and retries it with one', async () => {
    script = [unavailable];
    expect((await run('credentials', 'issue', '--role', 'orders-db')).code).toBe(ExitCode.unavailable);
    expect(seen).toEqual(['POST /v1/credentials']);

    seen = [];
    script = [unavailable];
    const issued = JSON.stringify({ ...JSON.parse(LEASE_JSON), credential: { username: 'u', password: 'p' } });
    script.push((response) => response.end(issued));
    expect(await run('credentials', 'issue', '--role', 'orders-db', '--idempotency-key', 'k-1', '--json')).toMatchObject({
      code: ExitCode.ok,
      stdout: `${issued}\n`,
    });
    expect(seen).toEqual(['POST /v1/credentials k-1', 'POST /v1/credentials k-1']);
  });

  it('maps a refusal to its exit code at once: 403 is exit 3, 404 exit 6', async () => {
    script = [problem(403, { title: 'Forbidden', detail: 'needs rotor:sre', code: 'missing-group' })];
    expect(await run('leases', 'revoke', LEASE_ID)).toMatchObject({
      code: ExitCode.auth,
      stderr: 'rotor: 403 Forbidden: needs rotor:sre [missing-group]\n',
    });
    script = [problem(404, { title: 'Not Found', code: 'lease-not-found' })];
    expect(await run('leases', 'renew', LEASE_ID, '--ttl', '15m')).toMatchObject({
      code: ExitCode.notFound,
      stderr: 'rotor: 404 Not Found:  [lease-not-found]\n',
    });
    expect(seen).toEqual([`DELETE /v1/leases/${LEASE_ID}`, `POST /v1/leases/${LEASE_ID}/renew`]);
  });

  it('reads the members of a break-glass 409 and does not retry the opening', async () => {
    const preview = {
      secrets: [],
      ttlSeconds: 1800,
      expiresAt: '2026-01-01T00:30:00.000Z',
      reason: 'INC-42 restore by hand',
      ticket: 'INC-42',
      followUp: 'rotated when it ends',
    };
    script = [
      (response) => response.end(JSON.stringify(preview)),
      problem(409, {
        title: 'Conflict',
        code: 'break-glass-already-open',
        breakGlassId: '7d1c6f0e-8d0b-4a53-9f5e-2f1b7a3c9e11',
        state: 'open',
        expiresAt: '2026-01-01T00:30:00.000Z',
      }),
    ];
    const opened = await run('break-glass', '--role', 'orders-db', '--reason', 'INC-42 restore by hand', '--ticket', 'INC-42',
      '--request-id', 'req-1', '--yes', '--json'); // prettier-ignore
    expect(opened.code).toBe(ExitCode.notFound);
    expect(opened.stderr).toContain(
      'rotor: this command already opened break-glass 7d1c6f0e-8d0b-4a53-9f5e-2f1b7a3c9e11 (open, until 2026-01-01T00:30:00.000Z)',
    );
    expect(seen).toEqual(['POST /v1/break-glass/preview', 'POST /v1/break-glass req-1']);
  });

  it('gives up on a silent server after --timeout, exit 4, having tried a GET --retries times', async () => {
    script = [() => undefined, () => undefined]; // never answers
    const started = Date.now();
    const { code, stderr } = await run('leases', 'show', LEASE_ID, '--timeout', '0.2', '--retries', '2');
    expect(code).toBe(ExitCode.unavailable);
    expect(stderr).toBe(`rotor: cannot reach ${process.env['ROTOR_ISSUER_URL']}: no answer within 0.2 s (--timeout)\n`);
    expect(seen).toHaveLength(2);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
