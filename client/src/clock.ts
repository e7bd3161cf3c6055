/**
 * Time as an input (STYLE.md 3): the session code reads time and sets timers only through a
 * Clock, so tests drive it with fake timers or a hand-written clock.
 */
export interface Clock {
  /** Monotonic milliseconds (performance.now): deadlines must not move with the wall clock. */
  now(): number;
  setTimeout(callback: () => void, delayMs: number): unknown;
  clearTimeout(handle: unknown): void;
}

interface TimerGlobals {
  performance: { now(): number };
  setTimeout(callback: () => void, delayMs: number): unknown;
  clearTimeout(handle: unknown): void;
}

/**
 * The platform clock. Globals are looked up at each call, not captured, so fake timers
 * installed after this module loads take effect.
 */
export const systemClock: Clock = {
  now: () => (globalThis as unknown as TimerGlobals).performance.now(),
  setTimeout: (callback, delayMs) => (globalThis as unknown as TimerGlobals).setTimeout(callback, delayMs),
  clearTimeout: (handle) => (globalThis as unknown as TimerGlobals).clearTimeout(handle),
};

/** Resolves after `delayMs` on `clock`, or rejects with the signal's reason when it aborts. */
export function sleep(clock: Clock, delayMs: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clock.clearTimeout(handle);
      reject(signal?.reason);
    };
    const handle = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, delayMs);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
