/**
 * A service whose Kafka password stops working says so on /readyz (reason `authentication`)
 * and nothing more; the error goes to its log. The suite changes the shared broker's SCRAM
 * credentials of the `revoker` principal, so it runs alone (scripts/test.sh SERIAL_SUITES):
 * any other suite's revoker would be refused while it runs.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { eventually } from '../support/eventually';
import { ServiceProcess } from '../support/service-process';
import { TestIdentity } from '../support/test-identity';

const STATE = join(__dirname, '..', '..', '.rotor');
const WRONG = 'canary-wrong-password-5d1e';

type Readiness = { ready: boolean; checks: Record<string, { ok: boolean; reason?: string }> };

/** Sets the broker's SCRAM credentials of `user` over the scripts' mTLS listener. */
function setKafkaPassword(user: string, password: string): void {
  execFileSync(
    'java',
    [
      '-Xmx128m',
      `-Dlog4j.configuration=file:${join(__dirname, '..', '..', 'infra', 'kafka', 'log4j.properties')}`,
      '-cp',
      `${join(STATE, 'kafka', 'libs')}/*`,
      'kafka.admin.ConfigCommand',
      ...['--bootstrap-server', '127.0.0.1:9094', '--command-config', join(STATE, 'kafka', 'internal-client.properties')],
      ...['--alter', '--entity-type', 'users', '--entity-name', user],
      ...['--add-config', `SCRAM-SHA-512=[iterations=8192,password=${password}]`],
    ],
    { stdio: 'ignore' },
  );
}

describe('a Kafka password that stops working', () => {
  it('reports kafka: authentication on /readyz, and nothing of the error', async () => {
    const identity = await TestIdentity.create();
    const revoker = new ServiceProcess('revoker', 19570, { ...identity.env, LOG_LEVEL: 'info' }).start();
    try {
      await revoker.ready();
      setKafkaPassword('revoker', WRONG); // the broker now expects another password than the one the revoker holds
      const report = await eventually(
        async () => {
          const body = (await (await fetch(`${revoker.url}/readyz`)).json()) as Readiness;
          return body.checks['kafka']?.ok === false ? body : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 500, what: 'readyz to report kafka down' },
      );
      expect(report.checks['kafka']).toMatchObject({ ok: false, reason: 'authentication' });
      expect(JSON.stringify(report)).not.toMatch(/SASL|SCRAM|revoker|password/i);
      // The error itself goes to the log (written a moment after the answer).
      await eventually(async () => (/"reason":"authentication".*"msg":"readiness check failed"/.test(revoker.logs) ? true : undefined), {
        timeoutMs: 45_000,
        what: 'the readiness failure in the log',
      });
    } finally {
      setKafkaPassword('revoker', readFileSync(join(STATE, 'secrets', 'kafka-revoker.password'), 'utf8').trim());
      await revoker.stop();
    }
  }, 120_000);
});
