import { sleep } from '@rotor/backoff';

import { ExitCode, exitCodeFor } from './exit-codes';
import { cliMessage } from './rotor-api';

export interface WatchLoop<V> {
  /** The next reading (a GET, retried by @rotor/client as any GET is). */
  read(): Promise<V>;
  finished(view: V): boolean;
  /** Shows a reading: a live bar on a terminal, a line per change otherwise. */
  show(view: V): void;
  /** Said on stderr when the service stops or starts answering. */
  note(line: string): void;
  intervalMs?: number;
  /** How long the service may stay unreachable before the watch gives up (exit 4). */
  patienceMs?: number;
}

/**
 * Polls until `finished`. A service that restarts or drops a connection does not end the watch:
 * the loop says so, keeps asking with the same interval, and gives up only after `patienceMs`
 * without an answer. Anything else (401, 404, a defect) ends it at once.
 */
export async function watchUntilFinished<V>(first: V, loop: WatchLoop<V>): Promise<V> {
  const { intervalMs = 500, patienceMs = 10 * 60_000 } = loop;
  let view = first;
  let unreachableSince: number | undefined;
  loop.show(view);
  while (!loop.finished(view)) {
    await sleep(intervalMs);
    try {
      view = await loop.read();
      loop.show(view);
      if (unreachableSince !== undefined) loop.note('answering again; still watching');
      unreachableSince = undefined;
    } catch (error) {
      if (exitCodeFor(error) !== ExitCode.unavailable) throw error;
      const now = Date.now();
      if (unreachableSince === undefined) {
        unreachableSince = now;
        loop.note(`${cliMessage(error)}; still watching (the work goes on without the CLI)`);
      } else if (now - unreachableSince > patienceMs) throw error;
    }
  }
  return view;
}
