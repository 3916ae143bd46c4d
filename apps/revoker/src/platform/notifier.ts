type Listener<Event> = (event: Event) => Promise<void>;

/**
 * An in-process notifier: a feature says what it did, and features built on top subscribe,
 * so the general path never imports them. Listeners run in order and are awaited: the
 * emitter's next step waits for their effects, and their failures are its failures (a claim
 * or an event is then retried, and listeners must be idempotent).
 */
export class Notifier<Events extends Record<string, unknown>> {
  private readonly listeners: { [Name in keyof Events]?: Listener<Events[Name]>[] } = {};

  on<Name extends keyof Events>(name: Name, listener: Listener<Events[Name]>): void {
    (this.listeners[name] ??= []).push(listener);
  }

  async emit<Name extends keyof Events>(name: Name, event: Events[Name]): Promise<void> {
    for (const listener of this.listeners[name] ?? []) await listener(event);
  }
}
