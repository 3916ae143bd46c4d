/**
 * The local OpenID Provider operators sign in with (`rotor login`), for `npm start` and tests:
 *
 *   node -r @swc-node/register tools/oidc-provider/main.ts [--port 5556] [--host 127.0.0.1]
 *        [--state-dir .rotor/oidc] [--tls-cert FILE --tls-key FILE] [--url-out FILE]
 *
 * Its signing key and accounts are created in the state directory on first start (mode 0600;
 * the passwords of the default people in `<state-dir>/passwords`). Serves HTTPS with the given
 * certificate (ROTOR_TLS_CERT_FILE / ROTOR_TLS_KEY_FILE by default), plain http only without one.
 * Prints its issuer URL as the first line of stdout (and writes it to --url-out once it
 * listens); stops on SIGINT/SIGTERM.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { loadAccounts } from './accounts';
import { LocalOpenIdProvider, loadSigningKey } from './local-provider';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '5556' },
      host: { type: 'string', default: '127.0.0.1' },
      'state-dir': { type: 'string', default: '.rotor/oidc' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'url-out': { type: 'string' },
    },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be a port number, got ${values.port}`);
  const state = resolve(values['state-dir']);
  mkdirSync(state, { recursive: true, mode: 0o700 });
  const certFile = values['tls-cert'] ?? process.env['ROTOR_TLS_CERT_FILE'];
  const keyFile = values['tls-key'] ?? process.env['ROTOR_TLS_KEY_FILE'];
  const provider = await new LocalOpenIdProvider({
    host: values.host,
    port,
    accounts: loadAccounts(join(state, 'accounts.json'), join(state, 'passwords')),
    signingKey: await loadSigningKey(join(state, 'signing-key.jwk.json')),
    ...(certFile && keyFile ? { tls: { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') } } : {}),
  }).start();
  process.stdout.write(`${provider.issuer}\n`);
  if (values['url-out']) writeFileSync(values['url-out'], `${provider.issuer}\n`);
  const stop = () => void provider.stop().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`oidc-provider: ${(error as Error).message}\n`);
  process.exit(1);
});
