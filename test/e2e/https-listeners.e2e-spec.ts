/**
 * A real issuer process on the secure stack: it serves HTTPS with certificates from files,
 * picks up a certificate swapped on disk (as cert-manager rotates it) without a restart,
 * is refused by a client that does not trust its CA, and with ROTOR_OPERATOR_PORT splits
 * workload routes from operator routes and /metrics, so NetworkPolicies can tell them apart.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';

import { eventually } from '../support/eventually';
import { ServiceProcess } from '../support/service-process';
import { ensurePortFree } from '../support/temp-files';
import { TestIdentity } from '../support/test-identity';

const PKI = join(__dirname, '..', '..', '.rotor', 'tls');
const WORKLOAD_PORT = 19610;
const OPERATOR_PORT = 19611;

/** The serial of the certificate a fresh TLS connection is served; `ca` decides whom the client trusts. */
const servedSerial = (port: number, ca: string | string[]): Promise<string> =>
  new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
      resolve(socket.getPeerCertificate().serialNumber);
      socket.end();
    });
    socket.once('error', reject);
  });

/** A new certificate for 127.0.0.1 from the stack's CA, written over the files the issuer serves. */
function rotateCertificate(dir: string): void {
  const work = mkdtempSync(join(tmpdir(), 'rotor-rotate-'));
  const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  openssl([
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    join(work, 'key.pem'),
    '-out',
    join(work, 'csr.pem'),
    '-subj',
    '/CN=rotor rotated',
  ]);
  writeFileSync(join(work, 'ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  openssl([
    'x509',
    '-req',
    '-in',
    join(work, 'csr.pem'),
    '-CA',
    join(PKI, 'ca.crt'),
    '-CAkey',
    join(PKI, 'ca.key'),
    '-CAcreateserial',
    '-CAserial',
    join(work, 'ca.srl'),
    '-out',
    join(work, 'cert.pem'),
    '-days',
    '2',
    '-extfile',
    join(work, 'ext'),
  ]);
  // Renamed into place, as kubelet's atomic writer and cert-manager do: never a half-written file.
  renameSync(join(work, 'key.pem'), join(dir, 'tls.key'));
  renameSync(join(work, 'cert.pem'), join(dir, 'tls.crt'));
}

describe('HTTPS listeners of a real service', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rotor-issuer-tls-'));
  const ca = readFileSync(join(PKI, 'ca.crt'), 'utf8');
  let issuer: ServiceProcess;

  beforeAll(async () => {
    copyFileSync(join(PKI, 'server.crt'), join(dir, 'tls.crt'));
    copyFileSync(join(PKI, 'server.key'), join(dir, 'tls.key'));
    const identity = await TestIdentity.create();
    await ensurePortFree(WORKLOAD_PORT);
    await ensurePortFree(OPERATOR_PORT);
    issuer = new ServiceProcess('issuer', WORKLOAD_PORT, {
      ...identity.env,
      ROTOR_TOKEN_HASH_KEY: randomBytes(32).toString('hex'),
      ROTOR_TLS_CERT_FILE: join(dir, 'tls.crt'),
      ROTOR_TLS_KEY_FILE: join(dir, 'tls.key'),
      ROTOR_OPERATOR_PORT: String(OPERATOR_PORT),
      LOG_LEVEL: 'info',
    });
    await issuer.start().ready();
  }, 120_000);

  afterAll(async () => {
    await issuer?.stop();
  });

  it('refuses a client that does not trust its CA, and serves one that does', async () => {
    await expect(servedSerial(WORKLOAD_PORT, [])).rejects.toThrow(/certificate|self[- ]signed|unable to verify/i);
    await expect(servedSerial(WORKLOAD_PORT, ca)).resolves.toMatch(/^[0-9A-F]+$/);
    // Plain HTTP to the HTTPS port gets no answer it could mistake for the API.
    await expect(fetch(`http://127.0.0.1:${WORKLOAD_PORT}/healthz`).then((response) => response.status)).rejects.toThrow();
  });

  it('serves a certificate swapped on disk to new connections, without a restart', async () => {
    const before = await servedSerial(WORKLOAD_PORT, ca);
    const logsBefore = issuer.logs.length;
    rotateCertificate(dir);
    const expected = execFileSync('openssl', ['x509', '-noout', '-serial', '-in', join(dir, 'tls.crt')])
      .toString()
      .trim()
      .replace(/^serial=/, '');
    const after = await eventually(
      async () => {
        const serial = await servedSerial(WORKLOAD_PORT, ca);
        return serial !== before ? serial : undefined;
      },
      { timeoutMs: 15_000, what: 'the rotated certificate to be served' },
    );
    expect(after.toUpperCase()).toBe(expected.toUpperCase());
    expect(await servedSerial(OPERATOR_PORT, ca)).toBe(after); // both listeners
    expect(issuer.logs.slice(logsBefore)).not.toMatch(/listening/); // the same process, not a restart
    expect((await fetch(`${issuer.url}/healthz`)).status).toBe(200);
  }, 60_000);

  it('serves workload routes on PORT and operator routes and /metrics on ROTOR_OPERATOR_PORT only', async () => {
    const status = async (port: number, path: string, init?: RequestInit) => (await fetch(`https://127.0.0.1:${port}${path}`, init)).status;
    const post = { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' };
    // Unauthenticated, so the route itself answers 401; a route not served on that port answers 404.
    expect(await status(WORKLOAD_PORT, '/v1/credentials', post)).toBe(401);
    expect(await status(OPERATOR_PORT, '/v1/credentials', post)).toBe(404);
    expect(await status(OPERATOR_PORT, '/v1/break-glass', post)).toBe(401);
    expect(await status(WORKLOAD_PORT, '/v1/break-glass', post)).toBe(404);
    expect(await status(OPERATOR_PORT, '/metrics')).toBe(200);
    expect(await status(WORKLOAD_PORT, '/metrics')).toBe(404);
    for (const port of [WORKLOAD_PORT, OPERATOR_PORT]) {
      expect(await status(port, '/healthz')).toBe(200);
      expect(await status(port, '/readyz')).toBe(200);
    }
  });
});
