import { Option, type Command } from 'commander';

import type { IrrevocableLeasePage, LeasePage, LeaseView } from '@rotor/rest-contract';

import type { CliContext } from '../context';
import { request } from '../http-client';
import { printResult } from '../output';
import { contextOf, examples } from '../program-kit';

import { pageLimit } from './selector';

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
    const page = await request<IrrevocableLeasePage>(`${context.urls.revoker}/v1/leases?state=irrevocable`, {
      token: await context.token(['rotor:sre']),
    });
    printResult(context, page, {
      columns: [...COLUMNS, 'attempts', 'last error'],
      rows: page.items.map((lease) => [...leaseRow(lease), lease.attempts, lease.lastError]),
    });
    return;
  }
  // The auditor's inventory: every lease it recorded, by selector, a page at a time.
  const query = new URLSearchParams(selected);
  if (options.state) query.set('state', options.state);
  if (options.limit !== undefined) query.set('limit', String(options.limit));
  if (options.after) query.set('after', options.after);
  const page = await request<LeasePage>(`${context.urls.auditor}/v1/inventory/leases?${query.toString()}`, {
    token: await context.token(['rotor:sre']),
  });
  printResult(context, page, {
    columns: [...COLUMNS, 'owner', 'backend'],
    rows: page.items.map((lease) => [...leaseRow(lease), lease.owner, lease.backend]),
  });
  if (!context.json && page.next) process.stderr.write(`more: the same command with --after ${page.next}\n`);
}

/** One lease by id: show, renew or revoke, as its holder (ROTOR_TOKEN) or an SRE (audited as them). */
async function oneLease(context: CliContext, action: 'show' | 'renew' | 'revoke', id: string, ttl?: string): Promise<void> {
  const url = `${context.urls.issuer}/v1/leases/${encodeURIComponent(id)}`;
  // Its holder's token (ROTOR_TOKEN), or an SRE's: the --dev token or a sign-in names rotor:sre.
  const token = await context.token(action === 'renew' ? [] : ['rotor:sre']);
  const lease =
    action === 'show'
      ? await request<LeaseView>(url, { token })
      : action === 'renew'
        ? // A renewal extends from now: sending it twice extends it to the same point.
          await request<LeaseView>(`${url}/renew`, { method: 'POST', token, body: ttl ? { ttl } : {}, idempotent: true })
        : await request<LeaseView>(url, { method: 'DELETE', token });
  printResult(context, lease, { columns: COLUMNS, rows: [leaseRow(lease)] });
}

/** `rotor leases list|show|renew|revoke`. */
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
    .description('revokes one lease now (an SRE, or the holder); the audit trail names who asked')
    .argument('<lease-id>')
    .addHelpText('after', examples('rotor leases revoke 7d1c6f0e-8d0b-4a53-9f5e-2f1b7a3c9e11'))
    .action((id: string, _options: unknown, command: Command) => oneLease(contextOf(command), 'revoke', id));
}
