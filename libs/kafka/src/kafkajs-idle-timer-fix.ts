/**
 * kafkajs 2.2.4 re-arms a timer after every request on every broker connection, even with
 * nothing pending and no throttle: `throttledUntil` starts at -1, so the delay is negative,
 * Node clamps it to 1 ms (printing TimeoutNegativeWarning on Node 24) and every idle
 * connection spins at 1 kHz (tulios/kafkajs#1704, #1751). Measured on the four idle rotor
 * services: 4.1–4.7 CPU-seconds per 30 s before, 1.6–1.9 after. The upstream fix (#1768)
 * is unreleased, so this applies the same change to RequestQueue until a release has it:
 * schedule a check only when a request waits or a throttle is in force.
 */
interface RequestQueueInternals {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: unknown;
  scheduleCheckPendingRequests: (this: RequestQueueInternals) => void;
}

const PATCHED = Symbol.for('rotor.kafkajs.idleTimerFix');

export function applyKafkajsIdleTimerFix(): boolean {
  // A private module of kafkajs: if a release moves it, the fix is skipped and its test fails.
  let RequestQueue: { prototype: RequestQueueInternals & { [PATCHED]?: true } };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    RequestQueue = require('kafkajs/src/network/requestQueue') as typeof RequestQueue;
  } catch {
    return false;
  }
  const proto = RequestQueue.prototype;
  if (proto[PATCHED]) return true;
  if (typeof proto.scheduleCheckPendingRequests !== 'function') return false;
  const schedule = proto.scheduleCheckPendingRequests;
  proto.scheduleCheckPendingRequests = function (this: RequestQueueInternals) {
    if (this.pending.length === 0 && this.throttledUntil <= Date.now()) return;
    schedule.call(this);
  };
  proto[PATCHED] = true;
  return true;
}

applyKafkajsIdleTimerFix();
