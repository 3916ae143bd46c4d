import { randomBytes } from 'node:crypto';

import { ServiceProcess } from './service-process';
import { writeTempCatalog } from './temp-files';
import { TestIdentity } from './test-identity';

export interface AgentServices {
  identity: TestIdentity;
  issuer: ServiceProcess;
  revoker: ServiceProcess;
}

/**
 * The real issuer and revoker an agent suite talks to, with one catalog and a fast revocation
 * poll (the revoker drops each PostgreSQL role at its lease's end, so an ended credential really
 * stops working). Both are ready when this resolves; the suite stops them.
 */
export async function startAgentServices({
  catalog,
  issuerPort,
  revokerPort,
}: {
  catalog: string;
  issuerPort: number;
  revokerPort: number;
}): Promise<AgentServices> {
  const identity = await TestIdentity.create();
  const env = {
    ...identity.env,
    ROTOR_CATALOG: writeTempCatalog(catalog),
    ROTOR_TOKEN_HASH_KEY: randomBytes(32).toString('hex'),
    ROTOR_REVOKE_POLL_MS: '100',
  };
  const issuer = new ServiceProcess('issuer', issuerPort, env);
  const revoker = new ServiceProcess('revoker', revokerPort, env);
  await Promise.all([issuer.start().ready(), revoker.start().ready()]);
  return { identity, issuer, revoker };
}
