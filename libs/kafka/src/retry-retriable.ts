import { sleep } from '@rotor/backoff';

/**
 * Retries a Kafka call that failed with an error the broker marks retriable (e.g. "not the
 * leader" while a just-created topic's leadership settles), with a short fixed pause. The default
 * waits up to 30 s: a broker that was paused (a stall, a partition) is fenced by its controller
 * and re-elects every partition's leader after it resumes, which takes longer than a new topic.
 * `unless` says when a retriable error must no longer be retried (the call already had an effect).
 */
export async function retryRetriable<T>(
  call: () => Promise<T>,
  { attempts = 120, pauseMs = 250, unless = () => false }: { attempts?: number; pauseMs?: number; unless?: () => boolean } = {},
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (attempt >= attempts || unless() || (error as { retriable?: unknown }).retriable !== true) throw error;
      await sleep(pauseMs);
    }
  }
}
