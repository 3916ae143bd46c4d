import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import type { SecureContextOptions } from 'node:tls';

import { ConfigError, readConfigFile, type ServerTlsFiles } from '@rotor/config';
import type { Logger } from '@rotor/telemetry';

/** What may be logged about a served certificate: never the key, never the PEM. */
export interface CertificateSummary {
  subject: string;
  serialNumber: string;
  /** ISO 8601. */
  notAfter: string;
}

export interface ServerTls {
  context: SecureContextOptions;
  certificate: CertificateSummary;
}

/**
 * Reads and checks the server's certificate, key and optional client CA. A file that does
 * not parse, or a key that is not the certificate's (a pair caught half-rotated), throws a
 * ConfigError naming the variable, so a reload can keep the context it has.
 */
export function loadServerTls(files: ServerTlsFiles): ServerTls {
  const cert = readConfigFile('ROTOR_TLS_CERT_FILE', files.certFile);
  const key = readConfigFile('ROTOR_TLS_KEY_FILE', files.keyFile);
  const ca = files.clientCaFile ? readClientCa(files.clientCaFile) : undefined;
  const certificate = parseCertificate('ROTOR_TLS_CERT_FILE', files.certFile, cert);
  if (!certificate.checkPrivateKey(parsePrivateKey(files.keyFile, key))) {
    throw new ConfigError([`ROTOR_TLS_KEY_FILE: ${files.keyFile} is not the key of the certificate in ROTOR_TLS_CERT_FILE`]);
  }
  return {
    context: { cert, key, ...(ca !== undefined ? { ca } : {}) },
    certificate: {
      subject: certificate.subject.replaceAll('\n', ', '),
      serialNumber: certificate.serialNumber,
      notAfter: new Date(certificate.validTo).toISOString(),
    },
  };
}

const readClientCa = (path: string): string => {
  const pem = readConfigFile('ROTOR_TLS_CLIENT_CA_FILE', path);
  parseCertificate('ROTOR_TLS_CLIENT_CA_FILE', path, pem);
  return pem;
};

const parseCertificate = (variable: string, path: string, pem: string): X509Certificate => {
  try {
    return new X509Certificate(pem);
  } catch {
    throw new ConfigError([`${variable}: ${path} holds no PEM certificate`]);
  }
};

// The parser's message is not passed on: nothing about a key's content belongs in a log.
const parsePrivateKey = (path: string, pem: string): KeyObject => {
  try {
    return createPrivateKey(pem);
  } catch {
    throw new ConfigError([`ROTOR_TLS_KEY_FILE: ${path} holds no unencrypted PEM private key`]);
  }
};

/** Logs which certificate is now served, loudly when it has already expired. */
export function logCertificate(logger: Logger, certificate: CertificateSummary, message: string): void {
  if (Date.parse(certificate.notAfter) <= Date.now()) logger.warn({ certificate }, `${message}: it has EXPIRED; clients will refuse it`);
  else logger.info({ certificate }, message);
}
