/**
 * A minimal typed event emitter that runs in browsers and Node alike (node:events is not
 * available in browsers). Listeners run synchronously in registration order; a listener that
 * throws does not stop the others: its error goes to `onListenerError`.
 */
export type Listener<Args extends unknown[]> = (...args: Args) => void;

export class Emitter<Events extends { [event: string]: unknown[] }> {
  private readonly listeners = new Map<keyof Events, Listener<unknown[]>[]>();

  constructor(private readonly onListenerError: (error: unknown, event: keyof Events) => void) {}

  /** Adds a listener; returns a function that removes it. */
  on<E extends keyof Events>(event: E, listener: Listener<Events[E]>): () => void {
    const list = this.listeners.get(event) ?? [];
    list.push(listener as unknown as Listener<unknown[]>);
    this.listeners.set(event, list);
    return () => this.off(event, listener);
  }

  /** Adds a listener that is removed after its first call. */
  once<E extends keyof Events>(event: E, listener: Listener<Events[E]>): () => void {
    const off = this.on(event, (...args: Events[E]) => {
      off();
      listener(...args);
    });
    return off;
  }

  off<E extends keyof Events>(event: E, listener: Listener<Events[E]>): void {
    const list = this.listeners.get(event);
    if (list === undefined) return;
    const i = list.indexOf(listener as unknown as Listener<unknown[]>);
    if (i >= 0) list.splice(i, 1);
  }

  emit<E extends keyof Events>(event: E, ...args: Events[E]): void {
    // A copy, so that listeners added or removed during the emit take effect from the next one.
    for (const listener of [...(this.listeners.get(event) ?? [])]) {
      try {
        listener(...args);
      } catch (error) {
        this.onListenerError(error, event);
      }
    }
  }

  listenerCount(event: keyof Events): number {
    return this.listeners.get(event)?.length ?? 0;
  }
}
