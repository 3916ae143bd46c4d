import { ConfigError } from './config-error';

/**
 * How a service serves its REST surface (DESIGN §14): HTTPS from certificate files, or plain
 * HTTP only when ROTOR_INSECURE_LOCAL=1 declares an explicitly insecure local stack.
 */

export interface ServerTlsFiles {
  certFile: string;
  keyFile: string;
  /** When set, clients must present a certificate this CA signed (mTLS). */
  clientCaFile?: string;
}

export type HttpTransport = { scheme: 'https'; tls: ServerTlsFiles } | { scheme: 'http' };

export interface HttpSettings {
  host: string;
  port: number;
  /** Operator routes and /metrics listen here when set; unset, everything listens on `port`. */
  operatorPort?: number;
  transport: HttpTransport;
}

export interface HttpEnv {
  HOST: string;
  PORT: number;
  ROTOR_OPERATOR_PORT?: number;
  ROTOR_TLS_CERT_FILE?: string;
  ROTOR_TLS_KEY_FILE?: string;
  ROTOR_TLS_CLIENT_CA_FILE?: string;
  ROTOR_INSECURE_LOCAL: boolean;
}

/** Decides HTTPS or plain HTTP from the environment alone (files are read when the server starts). */
export function httpSettings(e: HttpEnv): HttpSettings {
  const problems: string[] = [];
  const cert = e.ROTOR_TLS_CERT_FILE;
  const key = e.ROTOR_TLS_KEY_FILE;
  if (!cert && !key && !e.ROTOR_INSECURE_LOCAL) {
    problems.push(
      'ROTOR_TLS_CERT_FILE: is required with ROTOR_TLS_KEY_FILE: rotor serves HTTPS only ' +
        '(plain HTTP needs ROTOR_INSECURE_LOCAL=1, for an explicitly insecure local stack)',
    );
  }
  if (cert && !key) problems.push('ROTOR_TLS_KEY_FILE: is required with ROTOR_TLS_CERT_FILE');
  if (key && !cert) problems.push('ROTOR_TLS_CERT_FILE: is required with ROTOR_TLS_KEY_FILE');
  if (e.ROTOR_TLS_CLIENT_CA_FILE && !(cert && key)) {
    problems.push('ROTOR_TLS_CLIENT_CA_FILE: mTLS needs HTTPS (ROTOR_TLS_CERT_FILE and ROTOR_TLS_KEY_FILE)');
  }
  if (e.ROTOR_OPERATOR_PORT === e.PORT) problems.push('ROTOR_OPERATOR_PORT: must differ from PORT');
  if (problems.length) throw new ConfigError(problems);
  const clientCa = e.ROTOR_TLS_CLIENT_CA_FILE ? { clientCaFile: e.ROTOR_TLS_CLIENT_CA_FILE } : {};
  return {
    host: e.HOST,
    port: e.PORT,
    ...(e.ROTOR_OPERATOR_PORT !== undefined ? { operatorPort: e.ROTOR_OPERATOR_PORT } : {}),
    transport: cert && key ? { scheme: 'https', tls: { certFile: cert, keyFile: key, ...clientCa } } : { scheme: 'http' },
  };
}
