import type { Redis } from './redis-connection';

/** How long after its first complete run a layout upgrade still runs at each start (see runLayoutUpgrade). */
export const LAYOUT_UPGRADE_ROLLOUT_MS = 86_400_000;

/**
 * Runs a start-up upgrade of a service's Redis layout (a SCAN of every key of a kind) at each
 * start until a day after its first complete run, recorded under `doneKey`; then never again.
 * Replicas of the previous version may still write the old layout during a rollout, so
 * restarting the new ones once after it (within the day) still upgrades what they wrote; after
 * that, a start no longer pays a scan of the whole keyspace (8 s and 300 MiB of resident
 * memory for the issuer over 300k keys, measured for issue 20). Returns undefined when skipped.
 */
export async function runLayoutUpgrade<T>(
  redis: Redis,
  doneKey: string,
  upgrade: () => Promise<T>,
  now = Date.now(),
): Promise<T | undefined> {
  const done = await redis.get(doneKey);
  if (done && now - Date.parse(done) >= LAYOUT_UPGRADE_ROLLOUT_MS) return undefined;
  const result = await upgrade();
  await redis.set(doneKey, new Date(now).toISOString(), 'NX'); // the first complete run's time
  return result;
}
