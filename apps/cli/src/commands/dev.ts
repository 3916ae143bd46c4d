import type { Command } from 'commander';

import { devToken } from '../context';
import { UsageError } from '../exit-codes';
import { examples } from '../program-kit';

/** `rotor dev token`: a token signed by the checkout's development key, for the local stack only. */
export function registerDevCommands(program: Command): void {
  program
    .command('dev')
    .description('development helpers for the local stack (npm start)')
    .command('token')
    .description("a token for the local stack: a workload's (--namespace, --service-account) or an operator's (--groups)")
    .option('--namespace <namespace>', "the workload's namespace")
    .option('--service-account <name>', "the workload's service account")
    .option('--pod <name>', 'the pod the token is bound to')
    .option('--groups <groups>', 'an operator with these rotor groups, comma-separated (rotor:sre,rotor:auditor)')
    .option('--subject <subject>', "the operator's subject", 'operator@localhost')
    .addHelpText(
      'after',
      examples(
        'export ROTOR_TOKEN=$(rotor dev token --namespace shop --service-account orders)',
        'rotor dev token --groups rotor:sre,rotor:auditor',
      ),
    )
    .action(async (options: { namespace?: string; serviceAccount?: string; pod?: string; groups?: string; subject: string }) => {
      let token: string;
      if (options.groups !== undefined) {
        token = await devToken({ subject: options.subject, groups: options.groups.split(',').map((group) => group.trim()) });
      } else {
        const { namespace, serviceAccount } = options;
        if (!namespace || !serviceAccount)
          throw new UsageError('dev token needs --namespace and --service-account (a workload), or --groups (an operator)');
        token = await devToken({
          subject: `system:serviceaccount:${namespace}:${serviceAccount}`,
          kubernetes: {
            namespace,
            serviceaccount: { name: serviceAccount },
            ...(options.pod ? { pod: { name: options.pod, uid: 'dev' } } : {}),
          },
        });
      }
      process.stdout.write(`${token}\n`);
    });
}
