import type { OpName, ResponseFrame } from '@arbor/protocol';
import type { Clock } from './clock.js';
import { clientErrors } from './errors.js';
import type { ErrorContext } from './errors.js';

/** Options every call takes. */
export interface CallOptions {
  /** Abandons the call: it rejects with the signal's reason. A write already sent may still apply. */
  signal?: AbortSignal;
  /**
   * Bound on the whole call — waiting for a connection, the round trip, and any transparent
   * retry after a reconnect. Then it rejects with OperationTimeoutError. Default: the client's
   * `requestTimeoutMs`.
   */
  timeoutMs?: number;
}

/** What the client sends and how it maps the answer. */
export interface RequestSpec<T> {
  op: OpName;
  /** Arguments as they go on the wire (chroot applied). */
  args: object;
  /** The client-visible operation and path, for error messages. */
  label: ErrorContext;
  /**
   * Resent on the next connection if the current one drops before the answer: writes (with
   * their requestId, so the member answers with the original result) and idempotent session
   * ops. Otherwise the call fails with ConnectionLossError.
   */
  retryOnLoss: boolean;
  /**
   * A requestId reserved by the caller (`Session.reserveRequestId`), so that several
   * calls are one write to the ensemble: the protected create resends its create with it after
   * a CONNECTIONLOSS answer, and the member answers with the first outcome instead of applying
   * it twice. Without it, a write gets its id when it is first sent.
   */
  requestId?: number;
  /**
   * Maps the answer to the result or throws. Runs synchronously in frame order, so watch
   * bookkeeping it does is in place before the next frame (an event) is handled. Also runs for
   * an answer to a call that was abandoned (timeout, abort), to keep that bookkeeping in step
   * with the member; its outcome is then discarded.
   */
  complete(frame: ResponseFrame): T;
}

type Phase = 'queued' | 'inFlight' | 'done';

/** One call, from submit until its promise settles (and until its answer arrives, if sent). */
export class PendingRequest<T = unknown> {
  phase: Phase = 'queued';
  xid = 0;
  /** Assigned at the first send of a write; kept for every resend. */
  requestId: number | undefined;
  /** The caller has been answered (or gave up); an answer still to come is only bookkeeping. */
  abandoned = false;
  everSent = false;
  readonly promise: Promise<T>;
  private resolveFn!: (value: T) => void;
  private rejectFn!: (error: unknown) => void;
  private disposers: (() => void)[] = [];

  constructor(readonly spec: RequestSpec<T>) {
    this.requestId = spec.requestId;
    this.promise = new Promise<T>((resolve, reject) => {
      this.resolveFn = resolve;
      this.rejectFn = reject;
    });
  }

  onDispose(disposer: () => void): void {
    this.disposers.push(disposer);
  }

  resolve(value: T): void {
    if (this.abandoned) return;
    this.abandoned = true;
    this.dispose();
    this.resolveFn(value);
  }

  reject(error: unknown): void {
    if (this.abandoned) return;
    this.abandoned = true;
    this.dispose();
    this.rejectFn(error);
  }

  private dispose(): void {
    for (const disposer of this.disposers.splice(0)) disposer();
  }
}

/**
 * The requests of one session: a queue of calls not yet sent (new ones, and writes waiting to
 * be resent after a reconnect) and the FIFO of calls in flight on the current connection. The
 * member answers in the order it received, so an answer always belongs to the head of the
 * in-flight FIFO; anything else is a protocol error.
 */
export class RequestPipeline {
  private queue: PendingRequest[] = [];
  private inFlight: PendingRequest[] = [];

  constructor(
    private readonly clock: Clock,
    private readonly defaultTimeoutMs: number,
    private readonly isConnected: () => boolean,
  ) {}

  get inFlightCount(): number {
    return this.inFlight.length;
  }

  get queuedCount(): number {
    return this.queue.length;
  }

  /** Queues a call (at the back, or at the front for the reconnect's setWatches) and arms its timeout and abort. */
  submit<T>(spec: RequestSpec<T>, options: CallOptions = {}, front = false): PendingRequest<T> {
    const pending = new PendingRequest(spec);
    const untyped = pending as unknown as PendingRequest;
    const { signal } = options;
    if (signal?.aborted === true) {
      pending.reject(signal.reason);
      return pending;
    }
    const timeoutMs = options.timeoutMs ?? this.defaultTimeoutMs;
    if (Number.isFinite(timeoutMs)) {
      const handle = this.clock.setTimeout(() => this.giveUp(untyped, this.timeoutError(untyped, timeoutMs)), timeoutMs);
      pending.onDispose(() => this.clock.clearTimeout(handle));
    }
    if (signal !== undefined) {
      const onAbort = (): void => this.giveUp(untyped, signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      pending.onDispose(() => signal.removeEventListener('abort', onAbort));
    }
    if (front) this.queue.unshift(untyped);
    else this.queue.push(untyped);
    return pending;
  }

  /** The next call to send, skipping calls abandoned while queued. */
  nextQueued(): PendingRequest | undefined {
    return this.queue.shift();
  }

  markSent(pending: PendingRequest, xid: number): void {
    pending.phase = 'inFlight';
    pending.everSent = true;
    pending.xid = xid;
    this.inFlight.push(pending);
  }

  /** A request that could not be sent (encoding, size): fails it without touching the FIFO. */
  failUnsent(pending: PendingRequest, error: unknown): void {
    pending.phase = 'done';
    pending.reject(error);
  }

  /**
   * Matches an answer to the head of the FIFO and settles it. Returns a description of the
   * protocol error when the xid is not the one expected (the caller drops the connection).
   */
  answer(frame: ResponseFrame): string | undefined {
    const head = this.inFlight[0];
    if (head === undefined) return `answer with xid ${frame.xid} when no request is in flight`;
    if (head.xid !== frame.xid) return `answer with xid ${frame.xid} out of order: expected ${head.xid}`;
    this.inFlight.shift();
    head.phase = 'done';
    let outcome: { ok: true; value: unknown } | { ok: false; error: unknown };
    try {
      outcome = { ok: true, value: head.spec.complete(frame) };
    } catch (error) {
      outcome = { ok: false, error: error instanceof Error && 'code' in error ? error : this.malformed(head, error) };
    }
    if (outcome.ok) head.resolve(outcome.value);
    else head.reject(outcome.error);
    return undefined;
  }

  /**
   * The connection dropped. Calls in flight that may be retried go back to the front of the
   * queue in their original order (they were all sent before anything still queued); the others
   * fail with ConnectionLossError; abandoned ones are forgotten.
   */
  detach(): void {
    const retry: PendingRequest[] = [];
    for (const pending of this.inFlight.splice(0)) {
      if (pending.abandoned) {
        pending.phase = 'done';
      } else if (pending.spec.retryOnLoss) {
        pending.phase = 'queued';
        retry.push(pending);
      } else {
        pending.phase = 'done';
        pending.reject(clientErrors.connectionLoss(pending.spec.label));
      }
    }
    this.queue = [...retry, ...this.queue];
  }

  /** The session ended: every call fails with the error for its label. */
  failAll(errorFor: (label: ErrorContext) => Error): void {
    for (const pending of [...this.inFlight.splice(0), ...this.queue.splice(0)]) {
      pending.phase = 'done';
      pending.reject(errorFor(pending.spec.label));
    }
  }

  private giveUp(pending: PendingRequest, error: unknown): void {
    if (pending.phase === 'queued') {
      const i = this.queue.indexOf(pending);
      if (i >= 0) this.queue.splice(i, 1);
      pending.phase = 'done';
    }
    // In flight: the slot stays in the FIFO so the answer still matches; reject now.
    pending.reject(error);
  }

  private timeoutError(pending: PendingRequest, timeoutMs: number): Error {
    let detail: string;
    if (pending.phase === 'inFlight') detail = `no answer within ${timeoutMs} ms; the request was sent and may still be applied`;
    else if (pending.everSent) detail = `not resent within ${timeoutMs} ms after the connection dropped; it may have been applied`;
    else detail = `not sent within ${timeoutMs} ms${this.isConnected() ? '' : ': no connection to any member'}`;
    return clientErrors.timeout(pending.spec.label, detail);
  }

  private malformed(pending: PendingRequest, error: unknown): Error {
    return clientErrors.marshalling(pending.spec.label, `malformed answer: ${(error as Error)?.message ?? String(error)}`);
  }
}
