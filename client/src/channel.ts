/**
 * A single-consumer async queue: producers push synchronously, one consumer pulls with
 * `for await`. It backs the state stream and persistent watches. Values pushed before the
 * consumer asks are buffered (unbounded: a consumer that stops reading should close the
 * iterator). After end() the buffered values are still delivered, then `done`; after fail()
 * they are delivered, then the error is thrown.
 */
export class Channel<T> implements AsyncIterableIterator<T> {
  private readonly buffer: T[] = [];
  private readonly waiters: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void }[] = [];
  private ending: { error: unknown } | 'done' | null = null;
  private returned = false;

  /** @param onReturn called once when the consumer stops early (break, return, throw in the loop). */
  constructor(private readonly onReturn: () => void = () => {}) {}

  /** Whether push() still delivers. */
  get open(): boolean {
    return this.ending === null && !this.returned;
  }

  push(value: T): void {
    if (!this.open) return;
    const waiter = this.waiters.shift();
    if (waiter !== undefined) waiter.resolve({ value, done: false });
    else this.buffer.push(value);
  }

  /** Ends the stream normally once the buffer is drained. Idempotent. */
  end(): void {
    this.finish('done');
  }

  /** Ends the stream with an error once the buffer is drained. Idempotent. */
  fail(error: unknown): void {
    this.finish({ error });
  }

  private finish(ending: { error: unknown } | 'done'): void {
    if (this.ending !== null) return;
    this.ending = ending;
    for (const waiter of this.waiters.splice(0)) this.settleEnd(waiter);
  }

  /** The error is delivered once; later calls see `done`. */
  private settleEnd(waiter: (typeof this.waiters)[number]): void {
    if (this.ending === 'done' || this.ending === null || this.returned) {
      waiter.resolve({ value: undefined, done: true });
      return;
    }
    const { error } = this.ending;
    this.ending = 'done';
    waiter.reject(error);
  }

  next(): Promise<IteratorResult<T>> {
    if (this.buffer.length > 0) return Promise.resolve({ value: this.buffer.shift() as T, done: false });
    if (this.returned || this.ending !== null) {
      return new Promise((resolve, reject) => this.settleEnd({ resolve, reject }));
    }
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  return(): Promise<IteratorResult<T>> {
    if (!this.returned) {
      this.returned = true;
      this.buffer.length = 0;
      for (const waiter of this.waiters.splice(0)) waiter.resolve({ value: undefined, done: true });
      if (this.ending === null) this.onReturn();
    }
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}
