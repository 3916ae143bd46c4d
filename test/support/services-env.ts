import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const STATE = join(__dirname, '..', '..', '.rotor');

/**
 * Reads `.rotor/env` (service addresses, written by scripts/services-up.sh) and
 * `.rotor/dev-keys.env` (this checkout's development keys); variables already set win.
 */
export function loadServicesEnv(): void {
  for (const file of [join(STATE, 'env'), join(STATE, 'dev-keys.env')]) {
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const match = /^(?:export\s+)?([A-Z0-9_]+)=["']?(.*?)["']?$/.exec(line.trim());
      if (match?.[1] && process.env[match[1]] === undefined) {
        process.env[match[1]] = match[2];
      }
    }
  }
}

/** A variable the integration suites need; scripts/test.sh provides them all. */
export function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the suites through \`npm test\` (scripts/test.sh), which starts the services and writes .rotor/env`);
  return value;
}
