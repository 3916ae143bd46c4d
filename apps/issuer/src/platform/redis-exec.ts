import type { Redis } from '@rotor/redis-store';

/** Runs a MULTI and throws the first command's error: ioredis reports them per command, not by rejecting. */
export const execOrThrow = async (tx: ReturnType<Redis['multi']>): Promise<void> => {
  const results = await tx.exec();
  const failed = results?.find(([error]) => error);
  if (!results || failed) throw failed?.[0] ?? new Error('Redis transaction aborted');
};
