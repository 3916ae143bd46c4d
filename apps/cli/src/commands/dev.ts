import { devToken, type CliContext, type CliFlags } from '../context';

/** `rotor dev token`: a token signed by the checkout's development key, for local requests only. */
export async function devTokenCommand(_context: CliContext, flags: CliFlags): Promise<void> {
  const groups = typeof flags['groups'] === 'string' ? flags['groups'].split(',').map((group) => group.trim()) : undefined;
  let token: string;
  if (groups) {
    token = await devToken({ subject: String(flags['subject'] ?? 'operator@localhost'), groups });
  } else {
    const namespace = flags['namespace'];
    const serviceAccount = flags['service-account'];
    if (typeof namespace !== 'string' || typeof serviceAccount !== 'string') {
      throw new Error('dev token needs --namespace and --service-account (a workload), or --groups (an operator)');
    }
    token = await devToken({
      subject: `system:serviceaccount:${namespace}:${serviceAccount}`,
      kubernetes: {
        namespace,
        serviceaccount: { name: serviceAccount },
        ...(typeof flags['pod'] === 'string' ? { pod: { name: flags['pod'], uid: 'dev' } } : {}),
      },
    });
  }
  process.stdout.write(`${token}\n`);
}
