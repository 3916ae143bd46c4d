import { join } from 'node:path';

import { readEnvFile } from './services-env';

const STATE = join(__dirname, '..', '..', '.rotor');

/**
 * A service's (or the CLI's: `cli`) own Kafka and Redis principals on the secure local stack,
 * from `.rotor/service-env/<name>.env` (scripts/services-up.sh). Tests run each service as
 * itself, never as admin, so a missing ACL fails here as it would in production.
 */
export function principalEnv(name: 'issuer' | 'revoker' | 'distributor' | 'auditor' | 'cli'): Record<string, string> {
  return readEnvFile(join(STATE, 'service-env', `${name}.env`));
}

/** True on the stack ROTOR_INSECURE_LOCAL=1 started (plain HTTP, no users). */
export const insecureStack = (): boolean => process.env['ROTOR_INSECURE_LOCAL'] === '1';

/** The scheme the services speak on this stack. */
export const serviceScheme = (): 'http' | 'https' => (insecureStack() ? 'http' : 'https');
