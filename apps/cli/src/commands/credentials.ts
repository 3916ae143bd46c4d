import type { IssuedCredential } from '@rotor/rest-contract';

import type { CliContext, CliFlags } from '../context';
import { request } from '../http-client';
import { printResult } from '../output';

/** `rotor credentials issue --role R [--ttl 15m] [--task T]` as the workload whose token is given. */
export async function issueCredentialCommand(context: CliContext, flags: CliFlags): Promise<void> {
  if (typeof flags['role'] !== 'string') throw new Error('credentials issue needs --role');
  const issued = await request<IssuedCredential>(`${context.urls.issuer}/v1/credentials`, {
    method: 'POST',
    token: await context.token([]),
    body: {
      role: flags['role'],
      ...(typeof flags['ttl'] === 'string' ? { ttl: flags['ttl'] } : {}),
      ...(typeof flags['task'] === 'string' ? { task: flags['task'] } : {}),
    },
    ...(typeof flags['idempotency-key'] === 'string' ? { headers: { 'idempotency-key': flags['idempotency-key'] } } : {}),
  });
  // The credential is shown once, to whoever asked for it; rotor keeps no copy.
  printResult(context, issued, {
    columns: ['lease', 'role', 'expires', ...Object.keys(issued.credential)],
    rows: [[issued.leaseId, issued.role, issued.expiresAt, ...Object.values(issued.credential)]],
  });
}
