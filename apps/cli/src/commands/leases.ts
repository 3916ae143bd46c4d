import type { IrrevocableLeasePage, LeasePage, LeaseView } from '@rotor/rest-contract';

import type { CliContext, CliFlags, CommandWords } from '../context';
import { request } from '../http-client';
import { printResult } from '../output';

/** Flags of `rotor leases list` that select leases, and their names in the auditor's query. */
const LIST_SELECTORS = ['namespace', 'service-account', 'role', 'backend', 'owner'] as const;
const QUERY_NAMES: Record<(typeof LIST_SELECTORS)[number], string> = {
  namespace: 'namespace',
  'service-account': 'serviceAccount',
  role: 'role',
  backend: 'backend',
  owner: 'owner',
};

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

/**
 * `rotor leases show|renew|revoke <id>` as the owning workload, show and revoke also as an SRE
 * (audited as them); `rotor leases list --state irrevocable` as an SRE.
 */
export async function leasesCommand(context: CliContext, { action, id }: CommandWords, flags: CliFlags): Promise<void> {
  const columns = ['lease', 'role', 'workload', 'state', 'expires'];
  switch (action) {
    case 'list': {
      const selectors = LIST_SELECTORS.filter((name) => typeof flags[name] === 'string');
      const state = typeof flags['state'] === 'string' ? flags['state'] : undefined;
      if (state === 'irrevocable' && selectors.length === 0) {
        // The revoker's own list: attempts and the last error, as the TTL clock has them now.
        const page = await request<IrrevocableLeasePage>(`${context.urls.revoker}/v1/leases?state=irrevocable`, {
          token: await context.token(['rotor:sre']),
        });
        printResult(context, page, {
          columns: [...columns, 'attempts', 'last error'],
          rows: page.items.map((lease) => [...leaseRow(lease), lease.attempts, lease.lastError]),
        });
        return;
      }
      // The auditor's inventory: every lease it recorded, by selector, a page at a time.
      const query = new URLSearchParams();
      for (const name of selectors) query.set(QUERY_NAMES[name], flags[name] as string);
      if (state) query.set('state', state);
      for (const name of ['limit', 'after'] as const) if (typeof flags[name] === 'string') query.set(name, flags[name]);
      const page = await request<LeasePage>(`${context.urls.auditor}/v1/inventory/leases?${query.toString()}`, {
        token: await context.token(['rotor:sre']),
      });
      printResult(context, page, {
        columns: [...columns, 'owner', 'backend'],
        rows: page.items.map((lease) => [...leaseRow(lease), lease.owner, lease.backend]),
      });
      if (!context.json && page.next) process.stderr.write(`more: rotor leases list … --after ${page.next}\n`);
      return;
    }
    case 'show':
    case 'renew':
    case 'revoke': {
      if (!id) throw new Error(`leases ${action} needs a lease id`);
      const url = `${context.urls.issuer}/v1/leases/${encodeURIComponent(id)}`;
      // Its holder's token (ROTOR_TOKEN), or an SRE's: the --dev token or a sign-in names rotor:sre.
      const token = await context.token(action === 'renew' ? [] : ['rotor:sre']);
      const lease =
        action === 'show'
          ? await request<LeaseView>(url, { token })
          : action === 'renew'
            ? await request<LeaseView>(`${url}/renew`, {
                method: 'POST',
                token,
                body: typeof flags['ttl'] === 'string' ? { ttl: flags['ttl'] } : {},
              })
            : await request<LeaseView>(url, { method: 'DELETE', token });
      printResult(context, lease, { columns, rows: [leaseRow(lease)] });
      return;
    }
    default:
      throw new Error(
        'usage: rotor leases list [--namespace NS] [--service-account SA] [--role R] [--backend B] [--owner O] [--state S] [--limit N] [--after ID]' +
          ' | show <id> | renew <id> [--ttl 15m] | revoke <id>',
      );
  }
}
