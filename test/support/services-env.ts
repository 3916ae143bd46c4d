import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const ENV_FILE = join(__dirname, '..', '..', '.rotor', 'env');

/** Reads `.rotor/env` (written by scripts/services-up.sh); variables already set win. */
export function loadServicesEnv(): void {
  if (!existsSync(ENV_FILE)) return;
  for (const line of readFileSync(ENV_FILE, 'utf8').split('\n')) {
    const match = /^(?:export\s+)?([A-Z0-9_]+)=["']?(.*?)["']?$/.exec(line.trim());
    if (match?.[1] && process.env[match[1]] === undefined) {
      process.env[match[1]] = match[2];
    }
  }
}
