import { ConfigError } from './config-error';
import { httpSettings, type HttpEnv } from './http-settings';

const base: HttpEnv = { HOST: '127.0.0.1', PORT: 8080, ROTOR_INSECURE_LOCAL: false };

const problemsOf = (env: HttpEnv): string[] => {
  try {
    httpSettings(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
};

describe('httpSettings', () => {
  it('refuses to serve without a certificate, naming ROTOR_TLS_CERT_FILE and the way to run plain HTTP', () => {
    const [problem] = problemsOf(base);
    expect(problem).toMatch(/^ROTOR_TLS_CERT_FILE: is required/);
    expect(problem).toContain('ROTOR_INSECURE_LOCAL=1');
  });

  it('serves plain HTTP without a certificate only on an insecure local stack', () => {
    expect(httpSettings({ ...base, ROTOR_INSECURE_LOCAL: true }).transport).toEqual({ scheme: 'http' });
  });

  it('serves HTTPS from the certificate files, with mTLS when a client CA is given', () => {
    const settings = httpSettings({
      ...base,
      ROTOR_TLS_CERT_FILE: '/tls/tls.crt',
      ROTOR_TLS_KEY_FILE: '/tls/tls.key',
      ROTOR_TLS_CLIENT_CA_FILE: '/tls/ca.crt',
    });
    expect(settings.transport).toEqual({
      scheme: 'https',
      tls: { certFile: '/tls/tls.crt', keyFile: '/tls/tls.key', clientCaFile: '/tls/ca.crt' },
    });
  });

  it('prefers HTTPS when certificate files are given on an insecure local stack too', () => {
    const settings = httpSettings({ ...base, ROTOR_INSECURE_LOCAL: true, ROTOR_TLS_CERT_FILE: '/c', ROTOR_TLS_KEY_FILE: '/k' });
    expect(settings.transport.scheme).toBe('https');
  });

  it('names the missing half of a certificate and key pair, even on an insecure local stack', () => {
    expect(problemsOf({ ...base, ROTOR_TLS_CERT_FILE: '/c' })).toEqual(['ROTOR_TLS_KEY_FILE: is required with ROTOR_TLS_CERT_FILE']);
    expect(problemsOf({ ...base, ROTOR_INSECURE_LOCAL: true, ROTOR_TLS_KEY_FILE: '/k' })).toEqual([
      'ROTOR_TLS_CERT_FILE: is required with ROTOR_TLS_KEY_FILE',
    ]);
  });

  it('refuses mTLS without HTTPS', () => {
    expect(problemsOf({ ...base, ROTOR_INSECURE_LOCAL: true, ROTOR_TLS_CLIENT_CA_FILE: '/ca' })).toEqual([
      expect.stringMatching(/^ROTOR_TLS_CLIENT_CA_FILE: /),
    ]);
  });

  it('has an operator port only when one is set, and never the workload port', () => {
    const insecure = { ...base, ROTOR_INSECURE_LOCAL: true };
    expect(httpSettings(insecure).operatorPort).toBeUndefined();
    expect(httpSettings({ ...insecure, ROTOR_OPERATOR_PORT: 9080 }).operatorPort).toBe(9080);
    expect(problemsOf({ ...insecure, ROTOR_OPERATOR_PORT: 8080 })).toEqual(['ROTOR_OPERATOR_PORT: must differ from PORT']);
  });
});
