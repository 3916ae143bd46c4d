import type { Command } from 'commander';

import type { BreakGlassEnding, BreakGlassGrant } from '@rotor/rest-contract';

import type { CliContext } from '../context';
import { request } from '../http-client';
import { printResult } from '../output';
import { contextOf, examples } from '../program-kit';

interface OpenOptions {
  secret?: string;
  role?: string;
  reason?: string;
  ticket?: string;
  ttl?: string;
}

/**
 * Opens break-glass access as an SRE. The values are printed once, to the person who asked; the
 * access is logged before they are shown and rotated when it ends.
 */
async function openAccess(context: CliContext, options: OpenOptions): Promise<void> {
  const secrets = options.secret
    ?.split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  const grant = await request<BreakGlassGrant>(`${context.urls.issuer}/v1/break-glass`, {
    method: 'POST',
    token: await context.token(['rotor:sre']),
    body: {
      ...(secrets ? { secrets } : {}),
      ...(options.role ? { role: options.role } : {}),
      ...(options.reason ? { reason: options.reason } : {}),
      ...(options.ticket ? { ticket: options.ticket } : {}),
      ...(options.ttl ? { ttl: options.ttl } : {}),
    },
  });
  if (!context.json) {
    process.stderr.write(
      `break-glass ${grant.id}: logged, expires ${grant.expiresAt}; every secret below is rotated when it ends (\`rotor break-glass end ${grant.id}\` to end it now)\n`,
    );
  }
  printResult(context, grant, {
    columns: ['secret or role', 'version or lease', 'value'],
    rows: [
      ...grant.secrets.map((secret) => [secret.secret, secret.version, secret.value]),
      ...(grant.role
        ? Object.entries(grant.role.credential).map(([field, value]) => [`${grant.role!.name}.${field}`, grant.role!.leaseId, value])
        : []),
    ],
  });
}

async function endAccess(context: CliContext, id: string): Promise<void> {
  const ended = await request<BreakGlassEnding>(`${context.urls.issuer}/v1/break-glass/${encodeURIComponent(id)}`, {
    method: 'DELETE',
    token: await context.token(['rotor:sre']),
  });
  printResult(context, ended, { columns: ['id', 'state'], rows: [[ended.id, ended.state]] });
}

/** `rotor break-glass [open] --secret A[,B] [--role R] --reason "…" --ticket T [--ttl 30m]` and `rotor break-glass end <id>`. */
export function registerBreakGlassCommands(program: Command): void {
  const breakGlass = program
    .command('break-glass')
    .description('time-boxed access to managed secrets or a role outside the bindings, as an SRE; rotated when it ends');
  breakGlass
    .command('open', { isDefault: true })
    .description('opens the access and shows the values once; logged before they are shown')
    .option('--secret <names>', 'managed secrets, comma-separated')
    .option('--role <role>', 'a role whose credential to issue')
    .requiredOption('--reason <text>', 'why manual access is unavoidable (at least 10 characters)')
    .requiredOption('--ticket <ticket>', 'the incident or change ticket')
    .option('--ttl <duration>', 'how long it stays open, e.g. 30m')
    .addHelpText('after', examples('rotor break-glass --secret payments-key --reason "INC-42: restore by hand" --ticket INC-42 --ttl 30m'))
    .action((options: OpenOptions, command: Command) => openAccess(contextOf(command), options));
  breakGlass
    .command('end')
    .description('ends the access now; what it exposed is rotated')
    .argument('<id>')
    .action((id: string, _options: unknown, command: Command) => endAccess(contextOf(command), id));
}
