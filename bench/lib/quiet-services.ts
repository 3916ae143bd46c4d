import { randomBytes } from 'node:crypto';

import { startGroupAtEnd } from '../../test/support/kafka-groups';
import { PrivateAuditLog } from '../../test/support/private-audit-log';
import { ServiceProcess, type ServiceName } from '../../test/support/service-process';
import { writeTempCatalog } from '../../test/support/temp-files';
import type { TestIdentity } from '../../test/support/test-identity';
import { kafkaFromEnv } from '../../tools/security/env-clients';

const SERVICES: ServiceName[] = ['issuer', 'revoker', 'distributor', 'auditor'];
/** The services' consumer groups (the auditor's is per audit log): a bench starts them at the end of every topic. */
export const SERVICE_GROUPS = {
  issuer: ['rotor-issuer-lease-state', 'rotor-issuer-rotation'],
  revoker: ['rotor-revoker-clock', 'rotor-revoker-versions', 'rotor-revoker-breakglass'],
  distributor: ['rotor-distributor-delivery'],
} as const;

export interface QuietServices {
  /** issuer, revoker, distributor, auditor, in that order. */
  services: ServiceProcess[];
  stop(): Promise<void>;
}

/**
 * The four services as `npm start` runs them, on ports from `firstPort`, with this catalog, an
 * audit log of their own, and every consumer group started at the end of every topic: the
 * thousands of events earlier benches left are not theirs to work through, so what is measured
 * is only what the bench does. Their OTEL_* settings come from this process's environment.
 */
export async function startQuietServices(options: {
  identity: TestIdentity;
  catalog: string;
  firstPort: number;
  name: string;
  /** More environment for every service (a bench's NODE_OPTIONS=--cpu-prof, say). */
  env?: Record<string, string>;
}): Promise<QuietServices> {
  const kafka = kafkaFromEnv(`rotor-${options.name}`);
  const audit = new PrivateAuditLog(kafka, options.name);
  await audit.create();
  for (const group of [...Object.values(SERVICE_GROUPS).flat(), audit.env()['ROTOR_AUDITOR_GROUP']!]) await startGroupAtEnd(kafka, group);
  const env = {
    ...options.identity.env,
    ROTOR_CATALOG: writeTempCatalog(options.catalog),
    ROTOR_TOKEN_HASH_KEY: randomBytes(32).toString('hex'),
    ROTOR_AUDIT_KEY: randomBytes(32).toString('hex'),
    ROTOR_CONTENT_HASH_KEY: randomBytes(32).toString('hex'),
    LOG_LEVEL: 'warn',
    ...options.env,
  };
  const services = SERVICES.map(
    (name, index) => new ServiceProcess(name, options.firstPort + index, name === 'auditor' ? { ...env, ...audit.env() } : env),
  );
  const stop = async () => {
    await Promise.all(services.map((service) => service.stop()));
    await audit.drop();
  };
  try {
    await Promise.all(services.map((service) => service.start().ready(90_000)));
  } catch (error) {
    await stop();
    throw error;
  }
  return { services, stop };
}
