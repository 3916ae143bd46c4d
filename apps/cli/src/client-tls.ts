import type { ConnectionOptions } from 'node:tls';

import { readConfigFile } from '@rotor/config';

import { UsageError } from './exit-codes';

/**
 * How the CLI speaks HTTPS to rotor: ROTOR_CA_FILE is the CA it trusts (instead of the
 * system's, like curl --cacert), and ROTOR_CLIENT_CERT_FILE / ROTOR_CLIENT_KEY_FILE its own
 * certificate for services that require mTLS.
 */
export function clientTlsOptions(env: NodeJS.ProcessEnv = process.env): Pick<ConnectionOptions, 'ca' | 'cert' | 'key'> {
  const { ROTOR_CA_FILE: ca, ROTOR_CLIENT_CERT_FILE: cert, ROTOR_CLIENT_KEY_FILE: key } = env;
  if (Boolean(cert) !== Boolean(key)) {
    throw new UsageError(`${cert ? 'ROTOR_CLIENT_KEY_FILE' : 'ROTOR_CLIENT_CERT_FILE'} is required with its pair for mTLS`);
  }
  return {
    ...(ca ? { ca: readConfigFile('ROTOR_CA_FILE', ca) } : {}),
    ...(cert && key ? { cert: readConfigFile('ROTOR_CLIENT_CERT_FILE', cert), key: readConfigFile('ROTOR_CLIENT_KEY_FILE', key) } : {}),
  };
}

/** Verification failures that mean "signed by a CA this client does not trust". */
const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
]);

/** A server that wanted a client certificate and got none, or one it does not trust (TLS 1.3 code, or 1.2 alert text). */
const CLIENT_CERT_REFUSED = /CERTIFICATE_REQUIRED|alert bad certificate|alert unknown ca/i;

/**
 * What went wrong before any HTTP answer, said so an operator knows what to change.
 * `peerNotAfter` is the served certificate's expiry, when the handshake got that far.
 */
export function describeConnectionFailure(origin: string, error: NodeJS.ErrnoException, peerNotAfter?: string): string {
  const code = error.code ?? '';
  if (UNTRUSTED.has(code)) return `certificate of ${origin} is not trusted (${code}): set ROTOR_CA_FILE to the CA that signed it`;
  if (code === 'CERT_HAS_EXPIRED') {
    const when = peerNotAfter ? new Date(peerNotAfter).toISOString() : 'an earlier date';
    return `certificate of ${origin} expired on ${when} (CERT_HAS_EXPIRED): the service needs a renewed certificate`;
  }
  if (code === 'CERT_NOT_YET_VALID') return `certificate of ${origin} is not valid yet (CERT_NOT_YET_VALID): check the clocks`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `certificate of ${origin} is not issued for that host name (${code})`;
  const reason = `${code} ${error.message}`;
  if (CLIENT_CERT_REFUSED.test(reason)) {
    return `${origin} refused this client's certificate or wanted one (${code}): set ROTOR_CLIENT_CERT_FILE and ROTOR_CLIENT_KEY_FILE`;
  }
  if (/wrong version number/.test(reason)) {
    return `cannot reach ${origin}: it does not speak HTTPS (a ROTOR_INSECURE_LOCAL stack serves http://)`;
  }
  return `cannot reach ${origin}: ${error.message}`;
}
