import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const STATE = join(__dirname, '..', '..', '.rotor');

/**
 * A service's (or the CLI's: `cli`) own Kafka and Redis principals on the secure local stack,
 * from `.rotor/service-env/<name>.env` (scripts/services-up.sh). Tests run each service as
 * itself, never as admin, so a missing ACL fails here as it would in production.
 */
export function principalEnv(name: 'issuer' | 'revoker' | 'distributor' | 'auditor' | 'cli'): Record<string, string> {
  const file = join(STATE, 'service-env', `${name}.env`);
  if (!existsSync(file)) return {};
  const env: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^(?:export\s+)?([A-Z0-9_]+)=["']?(.*?)["']?$/.exec(line.trim());
    if (match?.[1]) env[match[1]] = match[2] ?? '';
  }
  return env;
}

/** True on the stack ROTOR_INSECURE_LOCAL=1 started (plain HTTP, no users). */
export const insecureStack = (): boolean => process.env['ROTOR_INSECURE_LOCAL'] === '1';

/** The scheme the services speak on this stack. */
export const serviceScheme = (): 'http' | 'https' => (insecureStack() ? 'http' : 'https');
