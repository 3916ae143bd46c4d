import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { Metrics } from '@rotor/telemetry';

import { certificateExpiryMetric, certificatesOf, earliestExpiry } from './certificate-expiry';
import { TestPki } from './test-pki';

const CANARY = 'canary-3c0de1';

/** notAfter as openssl reads it, in Unix seconds: an independent parser of the same certificate. */
const notAfter = (file: string): number =>
  Date.parse(
    execFileSync('openssl', ['x509', '-noout', '-enddate', '-dateopt', 'iso_8601', '-in', file], { encoding: 'utf8' })
      .trim()
      .slice('notAfter='.length),
  ) / 1000;

/** A self-signed certificate valid for `days`, written to `file`. */
const selfSigned = (dir: string, file: string, days: number): void => {
  execFileSync(
    'openssl',
    [
      ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'self.key')],
      ...['-out', file, '-days', String(days), '-subj', '/CN=rotated'],
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
};

/** The samples of the expiry gauge, by certificate label. */
async function expiries(metrics: Metrics): Promise<Record<string, number>> {
  const text = await metrics.render();
  const samples = [...text.matchAll(/^rotor_tls_certificate_expiry_timestamp_seconds\{(.*)\} (\S+)$/gm)];
  return Object.fromEntries(samples.map(([, labels, value]) => [/certificate="([^"]*)"/.exec(labels!)![1], Number(value)]));
}

describe('certificate expiry metric', () => {
  const pki = new TestPki();
  const server = pki.issue('server');
  const kafkaClient = pki.issue('kafka-client', { use: 'client' });
  const kafkaClientFile = join(pki.dir, 'kafka-client-copy.crt');
  copyFileSync(kafkaClient.certFile, kafkaClientFile);

  afterAll(() => pki.remove());

  it("exports each certificate's notAfter by fixed name, follows a rotated file, and keeps what was loaded at start-up", async () => {
    const metrics = new Metrics('probe');
    certificateExpiryMetric(metrics, {
      server: { file: server.certFile },
      'client-ca': { file: pki.caFile },
      'kafka-client': { pem: readFileSync(kafkaClientFile, 'utf8') },
    });

    expect(await expiries(metrics)).toEqual({
      server: notAfter(server.certFile),
      'client-ca': notAfter(pki.caFile),
      'kafka-client': notAfter(kafkaClient.certFile),
    });
    expect(notAfter(server.certFile) * 1000 - Date.now()).toBeGreaterThan(24 * 3600_000);

    selfSigned(pki.dir, server.certFile, 30);
    selfSigned(pki.dir, kafkaClientFile, 30);
    const rotated = await expiries(metrics);
    expect(rotated['server']).toBe(notAfter(server.certFile));
    expect(rotated['server']! - Date.now() / 1000).toBeGreaterThan(29 * 86_400);
    // Kafka's client reads its certificate once: the process still presents the one it loaded.
    expect(rotated['kafka-client']).toBe(notAfter(kafkaClient.certFile));

    rmSync(server.certFile);
    expect(Object.keys(await expiries(metrics)).sort()).toEqual(['client-ca', 'kafka-client']);
  });

  it('takes the earliest expiry of a chain or bundle, and nothing from text that holds no certificate', () => {
    const chain = join(pki.dir, 'chain.crt');
    selfSigned(pki.dir, chain, 30);
    writeFileSync(chain, `${readFileSync(chain, 'utf8')}${pki.ca}`);
    expect(earliestExpiry(readFileSync(chain, 'utf8'))).toBe(notAfter(pki.caFile));
    expect(earliestExpiry('not a certificate')).toBeUndefined();
    expect(earliestExpiry('-----BEGIN CERTIFICATE-----\nbm90IGRlcg==\n-----END CERTIFICATE-----')).toBeUndefined();
  });

  it("names a service's certificates from its settings, with no path, URL or password in a label", async () => {
    const settings = {
      http: {
        host: '127.0.0.1',
        port: 0,
        transport: {
          scheme: 'https' as const,
          tls: { certFile: kafkaClient.certFile, keyFile: kafkaClient.keyFile, clientCaFile: pki.caFile },
        },
      },
      kafka: { security: { ssl: { ca: pki.ca, cert: kafkaClient.cert, key: kafkaClient.key }, insecure: false } },
      redis: { security: { tls: { ca: pki.ca }, insecure: false } },
      backends: { databaseUrl: `postgres://rotor:${CANARY}@db:5432/rotor?sslmode=verify-full&sslrootcert=${pki.caFile}` },
    };
    const certificates = certificatesOf(settings);
    expect(Object.keys(certificates).sort()).toEqual(['client-ca', 'kafka-ca', 'kafka-client', 'postgres-ca', 'redis-ca', 'server']);
    expect(certificatesOf({ http: { host: '127.0.0.1', port: 0, transport: { scheme: 'http' } } })).toEqual({});

    const metrics = new Metrics('probe');
    certificateExpiryMetric(metrics, certificates);
    const text = await metrics.render();
    expect(Object.keys(await expiries(metrics))).toHaveLength(6);
    expect(text).not.toContain(CANARY);
    expect(text).not.toContain(pki.dir);
  });
});
