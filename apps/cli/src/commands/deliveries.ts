import type { Command } from 'commander';

import type { CliContext } from '../context';
import { ExitCode } from '../exit-codes';
import { printResult } from '../output';
import { contextOf, examples } from '../program-kit';
import { distributorApi } from '../rotor-api';

/** `rotor deliveries list --secret S [--state S]` (every copy and its state) and `rotor deliveries reconcile` (drift scan now). */
async function deliveriesCommand(
  context: CliContext,
  action: 'list' | 'reconcile',
  flags: { secret?: string; state?: string },
): Promise<void> {
  switch (action) {
    case 'list': {
      const page = await distributorApi(context, await context.token(['rotor:auditor'])).deliveries({
        secret: flags.secret ?? '',
        state: flags.state || undefined,
      });
      printResult(context, page, {
        columns: ['version', 'target', 'kind', 'state', 'locator', 'attempts', 'last error', 'updated'],
        rows: page.items.map((copy) => [
          copy.version,
          copy.target.name,
          copy.target.kind,
          copy.state,
          copy.locator ?? '',
          copy.attempts,
          copy.lastError ?? '',
          copy.updatedAt,
        ]),
      });
      return;
    }
    case 'reconcile': {
      // A scan compares and repairs toward the catalog: running it twice leaves the same state, so it is retried.
      const report = await distributorApi(context, await context.token(['rotor:sre'])).reconcile();
      printResult(context, report, {
        columns: ['drift', 'secret', 'target', 'version', 'locator', 'repaired'],
        rows: [
          ...report.findings.map((finding) => [
            finding.drift,
            finding.secret,
            finding.target,
            finding.version,
            finding.locator,
            finding.repaired ? 'yes' : 'no',
          ]),
          ...report.errors.map((error) => ['scan-error', undefined, error.target, undefined, error.reason, undefined]),
        ],
      });
      if (report.findings.length > 0) process.exitCode = ExitCode.findings;
      else if (report.errors.length > 0) process.exitCode = ExitCode.partial;
      return;
    }
  }
}

export function registerDeliveryCommands(program: Command): void {
  const deliveries = program.command('deliveries').description("the distributor's copies of managed secrets");
  deliveries
    .command('list')
    .description('every copy of a managed secret the distributor made, and its state')
    .requiredOption('--secret <name>', 'the managed secret')
    .option('--state <state>', 'only copies in this state (delivered, failed, removed, …)')
    .addHelpText('after', examples('rotor deliveries list --secret payments-key --state failed'))
    .action((options: { secret: string; state?: string }, command: Command) => deliveriesCommand(contextOf(command), 'list', options));
  deliveries
    .command('reconcile')
    .description('the drift scan, now: copies that differ from what was delivered, repaired; exit 1 when it found drift')
    .action((_options: unknown, command: Command) => deliveriesCommand(contextOf(command), 'reconcile', {}));
}
