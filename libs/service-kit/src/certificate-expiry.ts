import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';

import type { Gauge } from 'prom-client';

import type { HttpSettings, KafkaSecurity, RedisSecurity } from '@rotor/config';
import type { Metrics } from '@rotor/telemetry';

/**
 * Where a certificate a service uses comes from: a file it reads again on its own (the served
 * certificate on rotation, PostgreSQL's CA at each connection), sampled at every scrape; or PEM
 * text read once at start-up (Kafka, Redis), which is what the process keeps using until it restarts.
 */
export type CertificateSource = { file: string } | { pem: string };

/** The parts of a service's settings that name TLS material (serviceSettings, backendSettings, the auditor's database). */
export interface TlsSettings {
  http: HttpSettings;
  kafka?: { security: KafkaSecurity };
  redis?: { security: RedisSecurity };
  backends?: { databaseUrl: string };
  database?: { url: string };
}

/**
 * rotor_tls_certificate_expiry_timestamp_seconds{certificate}: when each certificate a service
 * serves or trusts stops working (the earliest notAfter in its file, so a chain's or bundle's
 * first expiry counts), in Unix seconds. Labels are fixed names (`server`, `kafka-ca`…), never
 * paths. A file that cannot be read or parsed at a scrape exports no sample rather than an old one.
 */
export function certificateExpiryMetric(metrics: Metrics, certificates: Readonly<Record<string, CertificateSource>>): Gauge<'certificate'> {
  const loaded = new Map(
    Object.entries(certificates).flatMap(([name, source]) => ('pem' in source ? [[name, earliestExpiry(source.pem)] as const] : [])),
  );
  return metrics.gaugeSeries(
    'rotor_tls_certificate_expiry_timestamp_seconds',
    'When a certificate the service serves, presents or trusts expires (its earliest notAfter), in Unix seconds, by certificate',
    ['certificate'],
    () =>
      Promise.resolve(
        Object.entries(certificates).flatMap(([certificate, source]) => {
          const expiry = 'pem' in source ? loaded.get(certificate) : expiryOfFile(source.file);
          return expiry === undefined ? [] : [{ labels: { certificate }, value: expiry }];
        }),
      ),
  );
}

/** The certificates a service with these settings serves, presents or trusts, by label. */
export function certificatesOf(settings: TlsSettings): Record<string, CertificateSource> {
  const certificates: Record<string, CertificateSource> = {};
  const { transport } = settings.http;
  if (transport.scheme === 'https') {
    certificates['server'] = { file: transport.tls.certFile };
    if (transport.tls.clientCaFile) certificates['client-ca'] = { file: transport.tls.clientCaFile };
  }
  const kafka = settings.kafka?.security.ssl;
  if (kafka && kafka.ca) certificates['kafka-ca'] = { pem: kafka.ca };
  if (kafka && kafka.cert) certificates['kafka-client'] = { pem: kafka.cert };
  // The redis-acl backend trusts the same REDIS_CA_FILE.
  const redisCa = settings.redis?.security.tls?.ca;
  if (redisCa) certificates['redis-ca'] = { pem: redisCa };
  // node-postgres reads sslrootcert and sslcert from the URL for every new connection.
  const databaseUrl = settings.backends?.databaseUrl ?? settings.database?.url;
  const postgres = databaseUrl && URL.canParse(databaseUrl) ? new URL(databaseUrl).searchParams : undefined;
  const postgresCa = postgres?.get('sslrootcert');
  const postgresClient = postgres?.get('sslcert');
  if (postgresCa) certificates['postgres-ca'] = { file: postgresCa };
  if (postgresClient) certificates['postgres-client'] = { file: postgresClient };
  return certificates;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The earliest notAfter of the PEM certificates in `pem`, in Unix seconds; undefined when there is none or one does not parse. */
export function earliestExpiry(pem: string): number | undefined {
  try {
    const notAfter = (pem.match(PEM_CERTIFICATE) ?? []).map((block) => new X509Certificate(block).validToDate.getTime() / 1000);
    return notAfter.length > 0 ? Math.min(...notAfter) : undefined;
  } catch {
    return undefined;
  }
}

function expiryOfFile(path: string): number | undefined {
  try {
    return earliestExpiry(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}
