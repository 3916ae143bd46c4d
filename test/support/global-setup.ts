import { ensureServicesBuilt } from './service-process';
import { loadServicesEnv } from './services-env';

/**
 * Integration and e2e suites run against the real services that scripts/services-up.sh
 * started; this makes their addresses visible to every test worker, and compiles the rotor
 * services they start (ServiceProcess runs dist/, as `npm start` does) if a source changed.
 */
export default function globalSetup(): void {
  loadServicesEnv();
  ensureServicesBuilt();
}
