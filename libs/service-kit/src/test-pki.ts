import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A certificate and its key: paths and PEM text. */
export interface IssuedCertificate {
  certFile: string;
  keyFile: string;
  cert: string;
  key: string;
}

/**
 * For specs only: a throw-away CA in a temporary directory that issues P-256 certificates with
 * openssl, the way scripts/local-pki.sh does for the local stack.
 */
export class TestPki {
  readonly dir = mkdtempSync(join(tmpdir(), 'rotor-pki-'));
  readonly caFile = join(this.dir, 'ca.crt');
  private readonly caKeyFile = join(this.dir, 'ca.key');

  constructor(caName = 'rotor test CA') {
    openssl([
      ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', this.caKeyFile, '-out', this.caFile],
      ...[
        '-days',
        '2',
        '-subj',
        `/CN=${caName}`,
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign',
      ],
    ]);
  }

  get ca(): string {
    return readFileSync(this.caFile, 'utf8');
  }

  /** A server certificate for 127.0.0.1 and localhost, or a client one. */
  issue(name: string, { commonName = name, use = 'server' }: { commonName?: string; use?: 'server' | 'client' } = {}): IssuedCertificate {
    const keyFile = join(this.dir, `${name}.key`);
    const certFile = join(this.dir, `${name}.crt`);
    const csrFile = join(this.dir, `${name}.csr`);
    const extFile = join(this.dir, `${name}.ext`);
    writeFileSync(
      extFile,
      use === 'server' ? 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' : 'extendedKeyUsage=clientAuth\n',
    );
    openssl([
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      csrFile,
      '-subj',
      `/CN=${commonName}`,
    ]);
    openssl([
      ...[
        'x509',
        '-req',
        '-in',
        csrFile,
        '-CA',
        this.caFile,
        '-CAkey',
        this.caKeyFile,
        '-CAcreateserial',
        '-CAserial',
        join(this.dir, 'ca.srl'),
      ],
      ...['-out', certFile, '-days', '2', '-sha256', '-extfile', extFile],
    ]);
    return { certFile, keyFile, cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const openssl = (args: string[]): void => {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
};
