import type { Command } from 'commander';

import { printResult } from '../output';
import { contextOf, examples } from '../program-kit';
import { issuerApi } from '../rotor-api';

/** `rotor credentials issue`: a credential for a role, as the workload whose token is given. */
export function registerCredentialCommands(program: Command): void {
  const credentials = program.command('credentials').description('credentials for a workload (as the workload: ROTOR_TOKEN)');
  credentials
    .command('issue')
    .description('a credential for a role the workload is bound to; its value is shown once and kept nowhere')
    .requiredOption('--role <role>', 'the catalog role')
    .option('--ttl <duration>', 'how long it lives, e.g. 15m (the role caps it)')
    .option('--task <task>', "a task id, to tell this lease from the workload's others")
    .option('--idempotency-key <key>', 'the same key again returns the same lease (a retry after a timeout)')
    .addHelpText('after', examples('ROTOR_TOKEN=$(cat /var/run/secrets/rotor/token) rotor credentials issue --role orders-db --ttl 15m'))
    .action(async (options: { role: string; ttl?: string; task?: string; idempotencyKey?: string }, command: Command) => {
      const context = contextOf(command);
      // Only with a key is a second POST harmless (the issuer answers it with the first lease): only then is it retried.
      const issued = await issuerApi(context, await context.token([])).issue({
        role: options.role,
        ...(options.ttl ? { ttl: options.ttl } : {}),
        ...(options.task ? { task: options.task } : {}),
        ...(options.idempotencyKey ? { idempotencyKey: options.idempotencyKey } : {}),
      });
      // The credential is shown once, to whoever asked for it; rotor keeps no copy.
      printResult(context, issued, {
        columns: ['lease', 'role', 'expires', ...Object.keys(issued.credential)],
        rows: [[issued.leaseId, issued.role, issued.expiresAt, ...Object.values(issued.credential)]],
      });
    });
}
