import { applyKafkajsIdleTimerFix } from './kafkajs-idle-timer-fix';

interface QueueState {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const RequestQueue = require('kafkajs/src/network/requestQueue') as { prototype: QueueState };

const queue = (state: Partial<QueueState>): QueueState =>
  Object.assign(
    Object.create(RequestQueue.prototype) as QueueState,
    { pending: [], throttledUntil: -1, throttleCheckTimeoutId: null, checkPendingRequests: () => undefined },
    state,
  );

describe('the kafkajs idle timer fix', () => {
  it('applies to the installed kafkajs', () => {
    expect(applyKafkajsIdleTimerFix()).toBe(true);
  });

  it('arms no timer on an idle connection: nothing pending, no throttle', () => {
    const idle = queue({});
    idle.scheduleCheckPendingRequests();
    expect(idle.throttleCheckTimeoutId).toBeNull();
  });

  it('still schedules a check while a request waits or a throttle is in force', () => {
    const waiting = queue({ pending: [{}] });
    waiting.scheduleCheckPendingRequests();
    expect(waiting.throttleCheckTimeoutId).not.toBeNull();
    clearTimeout(waiting.throttleCheckTimeoutId!);

    const throttled = queue({ throttledUntil: Date.now() + 5_000 });
    throttled.scheduleCheckPendingRequests();
    expect(throttled.throttleCheckTimeoutId).not.toBeNull();
    clearTimeout(throttled.throttleCheckTimeoutId!);
  });
});
