import type { ChainableCommander } from 'ioredis';

/**
 * Runs a MULTI and returns each command's reply, in order. ioredis resolves a transaction even
 * when a command inside it failed (the error is in that command's reply), resolves `null` when
 * it was aborted, and, on a cluster retrying through a failover, can resolve fewer replies than
 * commands: each of those is an error here, never a reply read as `undefined`.
 */
export async function execTransaction(transaction: ChainableCommander): Promise<unknown[]> {
  // The queue holds MULTI and the commands until exec() adds EXEC.
  const commands = transaction.length - 1;
  const results = await transaction.exec();
  if (!results) throw new Error('Redis transaction aborted');
  const failed = results.find(([error]) => error);
  if (failed?.[0]) throw failed[0];
  if (results.length !== commands) throw new Error(`Redis transaction answered ${results.length} of ${commands} commands`);
  return results.map(([, reply]) => reply);
}
