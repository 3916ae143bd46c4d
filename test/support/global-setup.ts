import { loadServicesEnv } from './services-env';

/**
 * Integration and e2e suites run against the real services that scripts/services-up.sh
 * started; this makes their addresses visible to every test worker.
 */
export default function globalSetup(): void {
  loadServicesEnv();
}
