import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';

const STATE = join(__dirname, '..', '..', '.rotor');

/**
 * Reads `.rotor/env` (service addresses, written by scripts/services-up.sh) and
 * `.rotor/dev-keys.env` (this checkout's development keys); variables already set win.
 */
export function loadServicesEnv(): void {
  for (const file of [join(STATE, 'env'), join(STATE, 'dev-keys.env')]) {
    for (const [name, value] of Object.entries(readEnvFile(file))) {
      if (process.env[name] === undefined) process.env[name] = value;
    }
  }
  trustLocalCa();
}

/** The `export NAME=value` lines of a file the scripts wrote; `{}` when it does not exist. */
export function readEnvFile(file: string): Record<string, string> {
  if (!existsSync(file)) return {};
  const env: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^(?:export\s+)?([A-Z0-9_]+)=["']?(.*?)["']?$/.exec(line.trim());
    if (match?.[1]) env[match[1]] = match[2] ?? '';
  }
  return env;
}

/**
 * Trusts the secure stack's local CA (ROTOR_CA_FILE) in this process, for fetch and every TLS
 * client, as NODE_EXTRA_CA_CERTS does for processes started with it (scripts/test.sh).
 */
export function trustLocalCa(): void {
  const file = process.env['ROTOR_CA_FILE'];
  if (!file || !existsSync(file)) return;
  const ca = readFileSync(file, 'utf8');
  const current = tls.getCACertificates('default');
  if (!current.includes(ca)) tls.setDefaultCACertificates([...current, ca]);
}

/** A variable the integration suites need; scripts/test.sh provides them all. */
export function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value)
    throw new Error(
      `${name} is not set: run the suites through \`npm test\` (scripts/test.sh), which starts the services and writes .rotor/env`,
    );
  return value;
}
