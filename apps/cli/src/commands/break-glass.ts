import type { BreakGlassEnding, BreakGlassGrant } from '@rotor/rest-contract';

import type { CliContext, CliFlags, CommandWords } from '../context';
import { request } from '../http-client';
import { printResult } from '../output';

/**
 * `rotor break-glass --secret A[,B] [--role R] --reason "…" --ticket T [--ttl 30m]` and
 * `rotor break-glass end <id>`, as an SRE. The values are printed once, to the person who
 * asked; the access is logged before they are shown and rotated when it ends.
 */
export async function breakGlassCommand(context: CliContext, { action, id }: CommandWords, flags: CliFlags): Promise<void> {
  const token = await context.token(['rotor:sre']);
  if (action === 'end') {
    if (!id) throw new Error('break-glass end needs the access id');
    const ended = await request<BreakGlassEnding>(`${context.urls.issuer}/v1/break-glass/${encodeURIComponent(id)}`, {
      method: 'DELETE',
      token,
    });
    printResult(context, ended, { columns: ['id', 'state'], rows: [[ended.id, ended.state]] });
    return;
  }
  if (action !== undefined)
    throw new Error('usage: rotor break-glass --secret A[,B] [--role R] --reason "…" --ticket T [--ttl 30m] | break-glass end <id>');
  const secrets =
    typeof flags['secret'] === 'string'
      ? flags['secret']
          .split(',')
          .map((name) => name.trim())
          .filter(Boolean)
      : undefined;
  const grant = await request<BreakGlassGrant>(`${context.urls.issuer}/v1/break-glass`, {
    method: 'POST',
    token,
    body: {
      ...(secrets ? { secrets } : {}),
      ...(typeof flags['role'] === 'string' ? { role: flags['role'] } : {}),
      ...(typeof flags['reason'] === 'string' ? { reason: flags['reason'] } : {}),
      ...(typeof flags['ticket'] === 'string' ? { ticket: flags['ticket'] } : {}),
      ...(typeof flags['ttl'] === 'string' ? { ttl: flags['ttl'] } : {}),
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
