import type { IrrevocableLeasePage, LeaseView } from '@rotor/rest-contract';

import type { CliContext, CliFlags, CommandWords } from '../context';
import { request } from '../http-client';
import { printResult } from '../output';

const leaseRow = (lease: Pick<LeaseView, 'leaseId' | 'role' | 'workload' | 'state' | 'expiresAt'>) => [
  lease.leaseId,
  lease.role,
  // Every lease a workload or the irrevocable list shows has one; an operator's (break-glass) reaches neither.
  lease.workload ? `${lease.workload.namespace}/${lease.workload.serviceAccount}` : '',
  lease.state,
  lease.expiresAt,
];

/** `rotor leases show|renew|revoke <id>` as the owning workload; `rotor leases list --state irrevocable` as an SRE. */
export async function leasesCommand(context: CliContext, { action, id }: CommandWords, flags: CliFlags): Promise<void> {
  const columns = ['lease', 'role', 'workload', 'state', 'expires'];
  switch (action) {
    case 'list': {
      const state = typeof flags['state'] === 'string' ? flags['state'] : 'irrevocable';
      const page = await request<IrrevocableLeasePage>(`${context.urls.revoker}/v1/leases?state=${encodeURIComponent(state)}`, {
        token: await context.token(['rotor:sre']),
      });
      printResult(context, page, {
        columns: [...columns, 'attempts', 'last error'],
        rows: page.items.map((lease) => [...leaseRow(lease), lease.attempts, lease.lastError]),
      });
      return;
    }
    case 'show':
    case 'renew':
    case 'revoke': {
      if (!id) throw new Error(`leases ${action} needs a lease id`);
      const url = `${context.urls.issuer}/v1/leases/${encodeURIComponent(id)}`;
      const token = await context.token([]);
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
      throw new Error('usage: rotor leases list --state irrevocable | show <id> | renew <id> [--ttl 15m] | revoke <id>');
  }
}
