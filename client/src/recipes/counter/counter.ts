import type { Stat } from '@arbor/protocol';
import type { ArborClient } from '../../client.js';
import { BadVersionError, ConnectionLossError, NoNodeError, NodeExistsError, SessionExpiredError } from '../../errors.js';
import { fromUtf8, utf8 } from '../../data.js';
import type { CallOptions } from '../../requests.js';
import { isFinalState } from '../../state-machine.js';
import { bounded } from '../queue.js';

/** Options of a {@link SharedCounter}. */
export interface SharedCounterOptions {
  /** The value while the node does not exist (or holds no data). Default 0. */
  initialValue?: number;
  /** Read-modify-write rounds one add() or compareAndSet() makes before CounterContentionError. Default 100. */
  attemptsMax?: number;
}

/** A value with the node version it was read at (for {@link SharedCounter.compareAndSet} loops). */
export interface CounterValue {
  value: number;
  /** The node's version, or -1 when the node does not exist (the value is then the initial one). */
  version: number;
}

/** What {@link SharedCounter.compareAndSet} did. */
export interface CompareAndSetResult {
  /** True if the counter held `expected` and now holds the new value. */
  succeeded: boolean;
  /** The new value on success; otherwise the value found instead of `expected`. */
  value: number;
}

/** A watch on a counter: {@link SharedCounter.onChange}. */
export interface CounterSubscription extends Disposable {
  /** Resolves with the value at the start of the subscription: later changes are reported. */
  readonly ready: Promise<number>;
  /** Stops listening. Idempotent. */
  close(): void;
}

/** Options of {@link SharedCounter.onChange}. */
export interface OnChangeOptions {
  /** Called when the subscription ends on an error (the session is lost, say) or the node holds a non-counter value. */
  onError?: (error: unknown) => void;
}

/** A value, a delta or a sum that is not an integer in ±(2^53 − 1): a JavaScript number cannot count it exactly. */
export class CounterRangeError extends RangeError {
  override readonly name = 'CounterRangeError';
}

/** The counter node holds data that is not a decimal integer. */
export class CounterFormatError extends Error {
  override readonly name = 'CounterFormatError';
}

/** Every read-modify-write round lost to a concurrent writer. Nothing was written by this call. */
export class CounterContentionError extends Error {
  override readonly name = 'CounterContentionError';
}

const INTEGER = /^-?(0|[1-9]\d*)$/;
const FAILURES_MAX = 10;

/**
 * A shared integer counter in the node `counterPath` (Curator's SharedCount and
 * DistributedAtomicLong): the value is stored as decimal ASCII (`"42"`), readable from the
 * shell. add() and compareAndSet() read the value with its version and write with a versioned
 * setData, retrying (at most `attemptsMax` rounds) when another writer got in first; the node is
 * created on first write.
 *
 * Values are JavaScript numbers restricted to safe integers (|v| ≤ 2^53 − 1); anything beyond is
 * refused with {@link CounterRangeError} before anything is written.
 *
 * Guarantees: every successful add() is applied exactly once, and its result is the value right
 * after it; the counter's history is the sequence of those results. The client resends a write
 * once with its request id after a failover, so a dropped connection neither loses nor doubles an
 * add. An add() that rejects with OperationTimeoutError or SessionExpiredError after its write was
 * sent may or may not have applied; any other rejection (BadVersion exhaustion, range, format)
 * applied nothing. The counter is persistent: no session loss changes it.
 */
export class SharedCounter {
  private readonly initialValue: number;
  private readonly attemptsMax: number;

  constructor(
    readonly client: ArborClient,
    readonly counterPath: string,
    options: SharedCounterOptions = {},
  ) {
    this.initialValue = checkSafe(options.initialValue ?? 0, 'initialValue');
    this.attemptsMax = options.attemptsMax ?? 100;
    if (!Number.isSafeInteger(this.attemptsMax) || this.attemptsMax < 1)
      throw new RangeError(`SharedCounter ${counterPath}: attemptsMax must be a positive integer, not ${this.attemptsMax}`);
  }

  /** The current value (the initial value if the node does not exist). */
  async get(options: CallOptions & { linearizable?: boolean } = {}): Promise<number> {
    return (await this.getVersioned(options)).value;
  }

  /** The current value with the node's version. */
  async getVersioned(options: CallOptions & { linearizable?: boolean } = {}): Promise<CounterValue> {
    try {
      const { data, stat } = await this.client.getData(this.counterPath, options);
      return { value: this.decode(data), version: stat.version };
    } catch (error) {
      if (error instanceof NoNodeError) return { value: this.initialValue, version: -1 };
      throw error;
    }
  }

  /** Adds `delta` (a safe integer, negative to subtract) atomically; resolves with the new value. */
  async add(delta: number, options: CallOptions = {}): Promise<number> {
    checkSafe(delta, 'delta');
    for (let attempt = 1; attempt <= this.attemptsMax; attempt++) {
      const current = await this.getVersioned(options);
      const next = checkSafe(current.value + delta, `${current.value} + ${delta}`);
      if (await this.write(current.version, next, options)) return next;
    }
    throw new CounterContentionError(`add ${this.counterPath}: ${this.attemptsMax} rounds lost to concurrent writers; nothing was added`);
  }

  /** add(1). */
  increment(options: CallOptions = {}): Promise<number> {
    return this.add(1, options);
  }

  /** add(-1). */
  decrement(options: CallOptions = {}): Promise<number> {
    return this.add(-1, options);
  }

  /**
   * Sets the counter to `next` if it holds `expected` (atomically: the write is conditional on
   * the version at which `expected` was read). A write that loses to another writer is retried
   * while the value is still `expected`, at most `attemptsMax` rounds.
   */
  async compareAndSet(expected: number, next: number, options: CallOptions = {}): Promise<CompareAndSetResult> {
    checkSafe(expected, 'expected');
    checkSafe(next, 'next');
    for (let attempt = 1; attempt <= this.attemptsMax; attempt++) {
      const current = await this.getVersioned(options);
      if (current.value !== expected) return { succeeded: false, value: current.value };
      if (await this.write(current.version, next, options)) return { succeeded: true, value: next };
    }
    throw new CounterContentionError(
      `compareAndSet ${this.counterPath}: ${this.attemptsMax} rounds lost to concurrent writers; nothing was set`,
    );
  }

  /** Sets the counter to `value` whatever it holds. */
  async set(value: number, options: CallOptions = {}): Promise<void> {
    checkSafe(value, 'value');
    for (let attempt = 1; attempt <= this.attemptsMax; attempt++) {
      try {
        await this.client.setData(this.counterPath, encode(value), options);
        return;
      } catch (error) {
        if (!(error instanceof NoNodeError)) throw error;
      }
      if (await this.write(-1, value, options)) return;
    }
    throw new CounterContentionError(`set ${this.counterPath}: the node kept vanishing`);
  }

  /**
   * Calls `listener` with the new value after changes of the counter, watching the node (one
   * one-shot watch at a time, re-armed after each event; no polling). Values arrive in the
   * order they were written, never twice; changes close together may be reported once, with
   * the latest value. The deletion of the node reports the initial value. Connection losses are
   * ridden out (the watch survives a failover, and a change missed meanwhile fires at once); the
   * loss of the session ends the subscription through `onError`.
   */
  onChange(listener: (value: number, stat: Stat | null) => void, options: OnChangeOptions = {}): CounterSubscription {
    const stop = new AbortController();
    let resolveReady!: (value: number) => void;
    let rejectReady!: (error: unknown) => void;
    const ready = new Promise<number>((resolve, reject) => ((resolveReady = resolve), (rejectReady = reject)));
    ready.catch(() => undefined);
    const fail = (error: unknown): void => {
      rejectReady(error);
      if (!stop.signal.aborted) options.onError?.(error);
    };
    void this.follow(listener, stop.signal, resolveReady, fail);
    const close = (): void => stop.abort(new Error(`onChange ${this.counterPath}: closed`));
    return { ready, close, [Symbol.dispose]: close };
  }

  private async follow(
    listener: (value: number, stat: Stat | null) => void,
    signal: AbortSignal,
    onReady: (value: number) => void,
    fail: (error: unknown) => void,
  ): Promise<void> {
    const bounds = { deadlineMs: Infinity, signal, what: `onChange ${this.counterPath}` };
    // What was last reported: the mzxid of the value (which grows with every write and every
    // re-creation), or 0 for "no node".
    let reported: number | undefined;
    const report = (key: number, value: number, stat: Stat | null): void => {
      if (reported === undefined) onReady(value);
      else if (key !== reported) {
        try {
          listener(value, stat);
        } catch {
          // A listener's failure is its own; the subscription goes on.
        }
      }
      reported = key;
    };
    // Each round reports at most one value and waits for the next event; failures that are not
    // connection losses are bounded.
    for (let failures = 0; !signal.aborted;) {
      try {
        await bounded(this.client.waitUntilConnected(), bounds);
        let changed: Promise<unknown>;
        try {
          const read = await this.client.getData(this.counterPath, { watch: true, signal });
          changed = read.changed;
          if (reported === undefined || read.stat.mzxid > reported) report(read.stat.mzxid, this.decode(read.data), read.stat);
        } catch (error) {
          if (!(error instanceof NoNodeError)) throw error;
          const watched = await this.client.exists(this.counterPath, { watch: true, signal });
          changed = watched.changed;
          if (watched.stat !== null) continue;
          report(0, this.initialValue, null);
        }
        await bounded(changed, bounds);
        failures = 0;
      } catch (error) {
        if (signal.aborted) return;
        if (error instanceof SessionExpiredError || isFinalState(this.client.state)) return fail(error);
        if (error instanceof ConnectionLossError) continue;
        if (++failures >= FAILURES_MAX || error instanceof CounterFormatError) return fail(error);
      }
    }
  }

  /** One versioned write of `next` (version -1: create the node). False if another writer got in first. */
  private async write(version: number, next: number, options: CallOptions): Promise<boolean> {
    try {
      if (version < 0) await this.client.create(this.counterPath, encode(next), { createParents: true, ...options });
      else await this.client.setData(this.counterPath, encode(next), { ...options, version });
      return true;
    } catch (error) {
      if (error instanceof BadVersionError || error instanceof NoNodeError || error instanceof NodeExistsError) return false;
      throw error;
    }
  }

  private decode(data: Uint8Array | null): number {
    if (data === null || data.byteLength === 0) return this.initialValue;
    let text: string;
    try {
      text = fromUtf8(data);
    } catch {
      throw new CounterFormatError(`counter ${this.counterPath}: the node holds ${data.byteLength} bytes that are not UTF-8 text`);
    }
    if (!INTEGER.test(text))
      throw new CounterFormatError(
        `counter ${this.counterPath}: the node holds ${JSON.stringify(text.slice(0, 40))}, not a decimal integer`,
      );
    const value = Number(text);
    if (!Number.isSafeInteger(value))
      throw new CounterRangeError(
        `counter ${this.counterPath}: the stored value ${text} is beyond ±(2^53 − 1), which a JavaScript number cannot hold exactly`,
      );
    return value;
  }
}

function encode(value: number): Uint8Array {
  return utf8(String(value));
}

function checkSafe(value: number, what: string): number {
  if (!Number.isSafeInteger(value))
    throw new CounterRangeError(`${what} = ${value} is not an integer within ±(2^53 − 1) (Number.MAX_SAFE_INTEGER)`);
  return value;
}
