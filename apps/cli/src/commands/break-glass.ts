import { Option, type Command } from 'commander';
import { decodeJwt } from 'jose';

import { RotorProblemError } from '@rotor/client';
import type { BreakGlassAlreadyOpenProblem, BreakGlassPreview } from '@rotor/rest-contract';

import type { CliContext } from '../context';
import { CliError, ExitCode, UsageError } from '../exit-codes';
import { printResult } from '../output';
import { contextOf, examples } from '../program-kit';
import { issuerApi } from '../rotor-api';

import { pageLimit, printPage } from './paging';
import { confirmOnTerminal, derivedRequestId } from './selector';

interface OpenOptions {
  secret?: string;
  role?: string;
  reason: string;
  ticket: string;
  ttl?: string;
  dryRun?: boolean;
  yes?: boolean;
  requestId?: string;
}

/** What the preview says, as people read it: versions (never values), where each is redelivered, the role, the time box. */
export function breakGlassPreviewLines(preview: BreakGlassPreview): string[] {
  return [
    ...preview.secrets.map(
      (secret) =>
        `secret ${secret.secret}: ${secret.current ? `version ${secret.current.version}` : 'no version yet'}; ` +
        `rotated when it ends, redelivered to ${secret.targets.map((target) => `${target.kind}/${target.name}`).join(', ') || 'no targets'}`,
    ),
    ...(preview.role ? [`role ${preview.role.name} (${preview.role.backend}): a credential for ${preview.role.ttlSeconds} s`] : []),
    `open for ${preview.ttlSeconds} s, until ${preview.expiresAt}; ticket ${preview.ticket}`,
  ];
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
  if (!secrets?.length && !options.role) throw new UsageError('break-glass needs --secret or --role (or both)');
  const token = await context.token(['rotor:sre']);
  const body = {
    ...(secrets ? { secrets } : {}),
    ...(options.role ? { role: options.role } : {}),
    reason: options.reason,
    ticket: options.ticket,
    ...(options.ttl ? { ttl: options.ttl } : {}),
  };
  const issuer = issuerApi(context, token);
  // Opens nothing and shows no value: retried.
  const preview = await issuer.previewBreakGlass(body);
  if (options.dryRun) {
    printResult(context, preview, { columns: ['would open', ''], rows: breakGlassPreviewLines(preview).map((line) => [line]) });
    return;
  }
  // The same SRE, secrets, role, time box, reason and ticket: the same key, so a repeat opens nothing twice.
  const requestId =
    options.requestId ??
    derivedRequestId(
      String(decodeJwt(token).sub ?? ''),
      { secrets: [...(secrets ?? [])].sort().join(','), role: options.role ?? '', ticket: options.ticket.trim(), ttl: options.ttl ?? '' },
      'break-glass',
      options.reason,
    );
  if (!options.yes) {
    const lines = ['This break-glass access would show the values of:', ...breakGlassPreviewLines(preview).map((line) => `  ${line}`)];
    if (!(await confirmOnTerminal('break-glass access', lines, 'Open it? [y/N] '))) {
      process.stderr.write('Not opened.\n');
      process.exitCode = ExitCode.findings;
      return;
    }
  }
  if (!context.json)
    process.stderr.write(`request id ${requestId}: the same command again opens nothing twice (409 names the access it opened)\n`);
  // Not retried: an answer lost on the way back cannot be asked for again (values are shown once), and the key makes a repeat harmless anyway.
  const grant = await issuer.openBreakGlass(body, requestId).catch((error: unknown) => {
    if (!(error instanceof RotorProblemError) || error.code !== 'break-glass-already-open') throw error;
    const { breakGlassId: id, state, expiresAt } = error.problem as Partial<BreakGlassAlreadyOpenProblem>;
    throw new CliError(
      `this command already opened break-glass ${id} (${state}, until ${expiresAt}): its values were shown then and are not shown again; ` +
        `\`rotor break-glass end ${id}\` ends it, and another --request-id opens a new one`,
      ExitCode.notFound,
    );
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

async function listAccesses(context: CliContext, options: { state?: string; limit?: number; after?: string }): Promise<void> {
  const page = await issuerApi(context, await context.token(['rotor:sre'])).breakGlassAccesses(options);
  printPage(context, page, {
    columns: ['id', 'state', 'requested by', 'secrets', 'role', 'ticket', 'opened', 'expires', 'ended'],
    rows: page.items.map((access) => [
      access.id,
      access.state,
      access.requestedBy,
      access.secrets.join(','),
      access.role?.name ?? (access.role ? access.role.leaseId : ''),
      access.ticket,
      access.openedAt,
      access.expiresAt,
      access.endedAt,
    ]),
  });
}

async function endAccess(context: CliContext, id: string): Promise<void> {
  const ended = await issuerApi(context, await context.token(['rotor:sre'])).endBreakGlass(id);
  printResult(context, ended, { columns: ['id', 'state'], rows: [[ended.id, ended.state]] });
}

/** `rotor break-glass [open] --secret A[,B] [--role R] --reason "…" --ticket T [--ttl 30m]` and `rotor break-glass end <id>`. */
export function registerBreakGlassCommands(program: Command): void {
  const breakGlass = program
    .command('break-glass')
    .description('time-boxed access to managed secrets or a role outside the bindings, as an SRE; rotated when it ends');
  breakGlass
    .command('open', { isDefault: true })
    .description('opens the access and shows the values once, after a preview and, unless --yes, a question; logged before they are shown')
    .option('--secret <names>', 'managed secrets, comma-separated')
    .option('--role <role>', 'a role whose credential to issue')
    .requiredOption('--reason <text>', 'why manual access is unavoidable (at least 10 characters)')
    .requiredOption('--ticket <ticket>', 'the incident or change ticket')
    .option('--ttl <duration>', 'how long it stays open, e.g. 30m')
    .option('--dry-run', 'what it would open: versions (never values), targets, the role, the time box; opens nothing')
    .option('-y, --yes', 'open without asking (scripts)')
    .option('--request-id <id>', 'the Idempotency-Key (default: derived from you, the secrets, role, ttl, reason and ticket)')
    .addHelpText(
      'after',
      examples(
        'rotor break-glass --secret payments-key --reason "INC-42: restore by hand" --ticket INC-42 --ttl 30m --dry-run',
        'rotor break-glass --secret payments-key --reason "INC-42: restore by hand" --ticket INC-42 --ttl 30m',
        'rotor break-glass list --state open',
      ),
    )
    .action((options: OpenOptions, command: Command) => openAccess(contextOf(command), options));
  breakGlass
    .command('list')
    .description('accesses, newest first, never a value (an SRE or an auditor)')
    .addOption(new Option('--state <state>', 'only open or ended ones').choices(['open', 'ended']))
    .addOption(new Option('--limit <n>', 'accesses per page (up to 1000)').argParser(pageLimit(1000)))
    .option('--after <id>', "the previous page's last id: the next page")
    .action((options: { state?: string; limit?: number; after?: string }, command: Command) => listAccesses(contextOf(command), options));
  breakGlass
    .command('end')
    .description('ends the access now; what it exposed is rotated')
    .argument('<id>')
    .action((id: string, _options: unknown, command: Command) => endAccess(contextOf(command), id));
}
