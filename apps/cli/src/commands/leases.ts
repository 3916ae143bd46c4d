import { Option, type Command } from 'commander';

import { decodeJwt } from 'jose';

import type { LeaseSelector } from '@rotor/client';
import type { LeaseRevocationPreview, LeaseRevocationView } from '@rotor/rest-contract';

import type { CliContext } from '../context';
import { ExitCode, UsageError } from '../exit-codes';
import { printResult } from '../output';
import { contextOf, examples } from '../program-kit';
import { auditorApi, issuerApi, revokerApi } from '../rotor-api';
import { finishRun, type RunProgressModel } from '../run-progress';

import { pageLimit, printPage } from './paging';
import { confirmOnTerminal, derivedRequestId, describeSelector, parseSelector } from './selector';

/** What a revocation by selector may name: no `secret` (it touches no managed secret). */
const LEASE_SELECTOR_FIELDS = ['namespace', 'serviceAccount', 'role', 'backend', 'all'] as const;
const RUN_STATES = ['running', 'completed', 'failed'] as const;
const collect = (value: string, previous: string[] = []) => [...previous, value];

interface RevokeOptions {
  selector?: string[];
  reason?: string;
  dryRun?: boolean;
  yes?: boolean;
  requestId?: string;
  watch?: boolean;
}

const LEASE_STATES = ['active', 'expired', 'revoked', 'irrevocable'] as const;
const COLUMNS = ['lease', 'role', 'workload', 'state', 'expires'];

interface ListOptions {
  namespace?: string;
  serviceAccount?: string;
  role?: string;
  backend?: string;
  owner?: string;
  state?: (typeof LEASE_STATES)[number];
  limit?: number;
  after?: string;
}

const leaseRow = (lease: {
  leaseId: string;
  role?: string | undefined;
  workload?: { namespace?: string | undefined; serviceAccount?: string | undefined } | undefined;
  state: string;
  expiresAt?: string | undefined;
}) => [
  lease.leaseId,
  lease.role,
  // Every lease a workload or the irrevocable list shows has one; an operator's (break-glass) reaches neither.
  lease.workload ? `${lease.workload.namespace}/${lease.workload.serviceAccount}` : '',
  lease.state,
  lease.expiresAt,
];

async function listLeases(context: CliContext, options: ListOptions): Promise<void> {
  const selectors = {
    namespace: options.namespace,
    serviceAccount: options.serviceAccount,
    role: options.role,
    backend: options.backend,
    owner: options.owner,
  };
  const selected = Object.entries(selectors).filter((entry): entry is [string, string] => entry[1] !== undefined);
  if (options.state === 'irrevocable' && selected.length === 0) {
    // The revoker's own list: attempts and the last error, as the TTL clock has them now.
    const page = await revokerApi(context, await context.token(['rotor:sre'])).irrevocableLeases();
    printResult(context, page, {
      columns: [...COLUMNS, 'attempts', 'last error'],
      rows: page.items.map((lease) => [...leaseRow(lease), lease.attempts, lease.lastError]),
    });
    return;
  }
  // The auditor's inventory: every lease it recorded, by selector, a page at a time.
  const query = { ...Object.fromEntries(selected), state: options.state, limit: options.limit, after: options.after };
  const page = await auditorApi(context, await context.token(['rotor:sre'])).leases(query);
  printPage(context, page, {
    columns: [...COLUMNS, 'owner', 'backend'],
    rows: page.items.map((lease) => [...leaseRow(lease), lease.owner, lease.backend]),
  });
}

/** One lease by id: show, renew or revoke, as its holder (ROTOR_TOKEN) or an SRE (audited as them). */
async function oneLease(context: CliContext, action: 'show' | 'renew' | 'revoke', id: string, ttl?: string): Promise<void> {
  // Its holder's token (ROTOR_TOKEN), or an SRE's: the --dev token or a sign-in names rotor:sre.
  const issuer = issuerApi(context, await context.token(action === 'renew' ? [] : ['rotor:sre']));
  const lease =
    action === 'show'
      ? await issuer.lease(id)
      : action === 'renew'
        ? // A renewal extends from now: sending it twice extends it to the same point, so it is retried.
          await issuer.renew(id, ttl || undefined)
        : await issuer.revoke(id);
  printResult(context, lease, { columns: COLUMNS, rows: [leaseRow(lease)] });
}

const revocationProgress = (context: CliContext): RunProgressModel<LeaseRevocationView> => ({
  read: async (id) => revokerApi(context, await context.token(['rotor:sre'])).leaseRevocation(id),
  total: (view) => view.matched,
  done: (view) => view.revoked + view.failed,
  line: (view) => `${view.state}: leases ${view.revoked + view.failed}/${view.matched} (${view.failed} failed)`,
  summary: (view) => [
    ['id', view.id],
    ['state', view.state],
    ['selector', describeSelector(view.selector)],
    ['reason', view.reason],
    ['requested by', view.requestedBy],
    ['matched', view.matched],
    ['revoked', view.revoked],
    ['failed', view.failed],
    ['started', view.startedAt],
    ['completed', view.completedAt ?? ''],
  ],
});

const previewLine = (preview: LeaseRevocationPreview) => {
  const counts = (byKey: Record<string, number>) =>
    Object.entries(byKey)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([key, n]) => `${key} ${n}`)
      .join(', ');
  const { total, byRole, byBackend } = preview.leases;
  return `leases: ${total}${total ? ` (by role: ${counts(byRole)}; by backend: ${counts(byBackend)})` : ''}`;
};

/**
 * Revokes every lease a selector covers, as an SRE, like `vault lease revoke -prefix` with a
 * preview: the counts first, a question unless --yes, a request id that makes a repeat find
 * the same run, and the same progress as an emergency rotation.
 */
async function revokeBySelector(context: CliContext, options: RevokeOptions & { selector: string[] }): Promise<void> {
  // parseSelector admits only the lease selector's fields.
  const selector = parseSelector(options.selector, LEASE_SELECTOR_FIELDS) as LeaseSelector;
  if (!options.dryRun && !options.reason) throw new UsageError('revoking by selector needs --reason (it is recorded on every revocation)');
  const token = await context.token(['rotor:sre']);
  const revoker = revokerApi(context, token);
  const preview = await revoker.previewLeaseRevocation(selector);
  if (options.dryRun) {
    printResult(context, preview, { columns: ['would revoke', ''], rows: [previewLine(preview).split(': ', 2)] });
    return;
  }
  const reason = options.reason!;
  const requestId = options.requestId ?? derivedRequestId(String(decodeJwt(token).sub ?? ''), selector, 'revoke-leases', reason);
  if (!options.yes) {
    const lines = [`This would revoke, now (${describeSelector(selector)}):`, `  ${previewLine(preview)}`];
    if (!(await confirmOnTerminal('a revocation by selector', lines, 'Revoke them? [y/N] '))) {
      process.stderr.write('Not started.\n');
      process.exitCode = ExitCode.findings;
      return;
    }
  }
  if (!context.json) process.stderr.write(`request id ${requestId}: the same command again finds this run instead of starting another\n`);
  // The request id makes a second POST find the first run: retried.
  const view = await revoker.revokeLeases({ selector, reason }, requestId);
  await finishRun(context, revocationProgress(context), view, options.watch);
}

async function listRevocations(context: CliContext, options: { state?: string; limit?: number; after?: string }): Promise<void> {
  const page = await revokerApi(context, await context.token(['rotor:sre'])).leaseRevocations(options);
  printPage(context, page, {
    columns: ['id', 'state', 'selector', 'revoked', 'failed', 'requested by', 'started'],
    rows: page.items.map((view) => [
      view.id,
      view.state,
      describeSelector(view.selector),
      `${view.revoked}/${view.matched}`,
      view.failed,
      view.requestedBy,
      view.startedAt,
    ]),
  });
}

/** `rotor leases list|show|renew|revoke` and `rotor leases revocations list|show`. */
export function registerLeaseCommands(program: Command): void {
  const leases = program.command('leases').description("dynamic credentials' leases: list, show, renew, revoke");
  leases
    .command('list')
    .description("leases by selector, a page at a time (the auditor's inventory); --state irrevocable alone: the revoker's list")
    .option('--namespace <namespace>', "the workload's namespace")
    .option('--service-account <name>', "the workload's service account")
    .option('--role <role>', 'the catalog role')
    .option('--backend <backend>', 'the credential backend (postgres, redis-acl, opaque-token, …)')
    .option('--owner <owner>', "the role's owning team")
    .addOption(new Option('--state <state>', 'the state now').choices(LEASE_STATES))
    .addOption(new Option('--limit <n>', 'leases per page (up to 1000)').argParser(pageLimit(1000)))
    .option('--after <lease-id>', "the previous page's last lease: the next page")
    .addHelpText(
      'after',
      examples(
        'rotor leases list --namespace payments --state active',
        'rotor leases list --role orders-db --backend postgres --output json',
        'rotor leases list --state irrevocable',
      ),
    )
    .action((options: ListOptions, command: Command) => listLeases(contextOf(command), options));
  leases
    .command('show')
    .description("one lease: an SRE's or an auditor's token, or the holder's")
    .argument('<lease-id>')
    .action((id: string, _options: unknown, command: Command) => oneLease(contextOf(command), 'show', id));
  leases
    .command('renew')
    .description("extends a lease, up to its role's maximum (the holder's token)")
    .argument('<lease-id>')
    .option('--ttl <duration>', 'the new remaining lifetime, e.g. 15m')
    .action((id: string, options: { ttl?: string }, command: Command) => oneLease(contextOf(command), 'renew', id, options.ttl));
  leases
    .command('revoke')
    .description(
      'revokes one lease now (an SRE, or the holder), or, as an SRE, every lease a selector covers: the counts first, ' +
        'a question unless --yes; the audit trail names who asked for each',
    )
    .argument('[lease-id]', 'one lease; or --selector')
    .option(
      '--selector <field=value>',
      'namespace=, serviceAccount= (with namespace), role=, backend=, or all; repeat to narrow (AND)',
      collect,
    )
    .option('--reason <text>', 'why (with --selector): recorded on every revocation')
    .option('--dry-run', 'how many leases it would revoke, by role and backend; revokes nothing')
    .option('-y, --yes', 'revoke without asking (scripts)')
    .option('--request-id <id>', 'the id that makes a repeat find this run (default: derived from you, the selector and the reason)')
    .option('--watch', 'follow its progress until it ends')
    .addHelpText(
      'after',
      examples(
        'rotor leases revoke 7d1c6f0e-8d0b-4a53-9f5e-2f1b7a3c9e11',
        'rotor leases revoke --selector namespace=payments --selector role=orders-db --dry-run',
        'rotor leases revoke --selector namespace=payments --reason "INC-42: pod compromised" --watch',
      ),
    )
    .action((id: string | undefined, options: RevokeOptions, command: Command) => {
      const context = contextOf(command);
      if (id !== undefined && options.selector) throw new UsageError('leases revoke takes a lease id or --selector, not both');
      if (id !== undefined) {
        const stray = (['reason', 'dryRun', 'yes', 'requestId', 'watch'] as const).filter((name) => options[name] !== undefined);
        if (stray.length)
          throw new UsageError(
            `--${stray.map((name) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)).join(', --')} only go with --selector`,
          );
        return oneLease(context, 'revoke', id);
      }
      if (!options.selector) throw new UsageError('leases revoke needs a lease id or --selector');
      return revokeBySelector(context, { ...options, selector: options.selector });
    });
  const revocations = leases.command('revocations').description('revocations by selector: their progress, and the list (kept 7 days)');
  revocations
    .command('list')
    .description('revocations by selector, newest first')
    .addOption(new Option('--state <state>', 'only runs in this state').choices(RUN_STATES))
    .addOption(new Option('--limit <n>', 'runs per page (up to 500)').argParser(pageLimit(500)))
    .option('--after <id>', "the previous page's last id: the next page")
    .action((options: { state?: string; limit?: number; after?: string }, command: Command) =>
      listRevocations(contextOf(command), options),
    );
  revocations
    .command('show')
    .description('one revocation by selector and its progress')
    .argument('<id>')
    .option('--watch', 'follow its progress until it ends')
    .action(async (id: string, options: { watch?: boolean }, command: Command) => {
      const context = contextOf(command);
      const view = await revokerApi(context, await context.token(['rotor:sre'])).leaseRevocation(id);
      await finishRun(context, revocationProgress(context), view, options.watch);
    });
}
