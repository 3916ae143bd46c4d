import { sleep } from '@rotor/backoff';

/**
 * Retries a Kafka call that failed with an error the broker marks retriable (e.g. "not the
 * leader" while a just-created topic's leadership settles), with a short fixed pause.
 */
export async function retryRetriable<T>(call: () => Promise<T>, attempts = 20, pauseMs = 250): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (attempt >= attempts || (error as { retriable?: unknown }).retriable !== true) throw error;
      await sleep(pauseMs);
    }
  }
}
