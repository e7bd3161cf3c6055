import { performance } from 'node:perf_hooks';
import { entryBytes, type PersistMark } from '@arbor/raft';
import { StorageFatalError } from './errors.js';
import { sharedClockMs, type BatchTimings, type WorkerHandling, type WriteOp } from './worker-protocol.js';

/** Measurements of one batch made durable; the figures a commit-latency histogram wants. */
export interface BatchStats {
  readonly batchId: number;
  /** Writes in the batch (one per append, hard state, chunk, …). */
  readonly ops: number;
  readonly entries: number;
  /** Sum of entryBytes() of the entries appended. */
  readonly entryBytes: number;
  readonly snapshotChunkBytes: number;
  /** The highest PersistMark the batch covered, or null if it carried none. */
  readonly mark: PersistMark | null;
  /** Snapshot file work (staging writes, fsyncs, sealing) before the transaction. */
  readonly fileMs: number;
  /** The SQLite transaction including its WAL fsync. */
  readonly transactionMs: number;
  /** From the first write of the batch being queued to its durability being known here. */
  readonly durableAfterMs: number;
  /**
   * durableAfterMs in parts: waiting to be handed over (the rest of the turn, or a batch in
   * flight); handed over → taken up by the worker (encoding, the message, the worker's wake-up);
   * the worker's whole handling (decoding, fileMs, transactionMs, bookkeeping); posted by the
   * worker → known here (the message, this thread's wake-up or its busy turn).
   */
  readonly queuedMs: number;
  readonly toWorkerMs: number;
  readonly workerMs: number;
  readonly fromWorkerMs: number;
  readonly transactionsTotal: number;
}

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
}

class Batch {
  readonly ops: WriteOp[] = [];
  mark: PersistMark | null = null;
  readonly waiters: Waiter[] = [];
  readonly queuedAt = performance.now();
  /** sharedClockMs() when handed to the worker. */
  sentAt = 0;
  entries = 0;
  entryBytes = 0;
  snapshotChunkBytes = 0;
  batchId = 0;

  add(op: WriteOp): void {
    this.ops.push(op);
    if (op.kind === 'append') {
      this.entries += op.entries.length;
      for (const entry of op.entries) this.entryBytes += entryBytes(entry);
    } else if (op.kind === 'stageChunk') {
      this.snapshotChunkBytes += op.chunk.data.length;
    }
  }
}

/** How long a lazy write waits for a batch to join before it goes alone (an idle member). */
export const LAZY_WRITE_DELAY_MS = 100;

export interface GroupCommitOptions {
  /** Hands a batch to the worker. */
  readonly send: (batchId: number, ops: readonly WriteOp[]) => void;
  /** Called in batch order once a batch is durable, before its waiters are resolved. */
  readonly onDurable: (stats: BatchStats) => void;
}

/**
 * Group commit. Writes queued during one turn of the event loop are flushed together from a
 * setImmediate callback (after the turn's I/O callbacks, so the writes of several messages that
 * arrived together share it) as one batch — one transaction, one fsync on the worker. At most one
 * batch is in flight; what is queued meanwhile waits and goes as the next batch the moment the
 * previous one commits, so under load batches grow instead of fsyncs queueing up. Batches
 * commit, and are reported, strictly in order.
 *
 * Lazy writes (enqueueLazy: a hard state that only moves the commit index) never start a batch
 * of their own: they join the batch being gathered, or wait for the next one (at most
 * LAZY_WRITE_DELAY_MS). With one request at a time this halves the fsyncs, and the next write no
 * longer waits behind the commit's.
 */
export class GroupCommit {
  private pending: Batch | null = null;
  /** Lazy writes queued while no batch was being gathered: the next batch starts with them. */
  private deferred: WriteOp[] = [];
  private deferredTimer: ReturnType<typeof setTimeout> | null = null;
  private inFlight: Batch | null = null;
  private nextBatchId = 1;
  private flushScheduled = false;
  private failure: StorageFatalError | null = null;

  constructor(private readonly options: GroupCommitOptions) {}

  /** Throws the fatal error, if storage has failed: no write is accepted after one. */
  checkWritable(): void {
    if (this.failure !== null) throw this.failure;
  }

  enqueue(op: WriteOp): void {
    this.checkWritable();
    this.currentBatch().add(op);
  }

  /**
   * Queues a write that need not be durable by itself: it is written, in order, with the next
   * batch (or by whenDurable); a crash before that loses it. Only for state Raft may lose (the
   * commit index). A later lazy hard state replaces a deferred one.
   */
  enqueueLazy(op: WriteOp): void {
    this.checkWritable();
    if (this.pending !== null) {
      this.pending.add(op);
      return;
    }
    const last = this.deferred[this.deferred.length - 1];
    if (last !== undefined && last.kind === 'hardState' && op.kind === 'hardState') this.deferred[this.deferred.length - 1] = op;
    else this.deferred.push(op);
    // When no write follows (an idle ensemble), write it anyway after a while, so that a
    // restarted member does not start from a commit index older than it needs to.
    this.deferredTimer ??= setTimeout(() => {
      this.deferredTimer = null;
      if (this.deferred.length > 0 && this.failure === null) this.currentBatch();
    }, LAZY_WRITE_DELAY_MS);
    this.deferredTimer.unref();
  }

  /** Attaches `mark` to the writes queued so far: it is reported once they are durable. */
  mark(mark: PersistMark): void {
    this.checkWritable();
    this.currentBatch().mark = mark;
  }

  /** Resolves once every write queued so far is durable; rejects if storage fails first. */
  whenDurable(): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.deferred.length > 0) this.currentBatch();
    const batch = this.pending ?? this.inFlight;
    if (batch === null) return Promise.resolve();
    return new Promise((resolve, reject) => batch.waiters.push({ resolve, reject }));
  }

  /** Writes queued and not yet handed to the worker. */
  queuedOps(): number {
    return (this.pending?.ops.length ?? 0) + this.deferred.length;
  }

  /** The worker committed batch `batchId`. */
  committed(batchId: number, timings: BatchTimings, handling: WorkerHandling): void {
    const knownAt = sharedClockMs();
    const batch = this.inFlight;
    if (batch === null || batch.batchId !== batchId) {
      throw new StorageFatalError(`storage worker committed batch ${batchId}, but batch ${batch?.batchId ?? '(none)'} is in flight`);
    }
    this.inFlight = null;
    this.options.onDurable({
      batchId,
      ops: batch.ops.length,
      entries: batch.entries,
      entryBytes: batch.entryBytes,
      snapshotChunkBytes: batch.snapshotChunkBytes,
      mark: batch.mark,
      fileMs: timings.fileMs,
      transactionMs: timings.transactionMs,
      durableAfterMs: performance.now() - batch.queuedAt,
      queuedMs: batch.sentAt - (performance.timeOrigin + batch.queuedAt),
      toWorkerMs: handling.receivedAtMs - batch.sentAt,
      workerMs: handling.postedAtMs - handling.receivedAtMs,
      fromWorkerMs: knownAt - handling.postedAtMs,
      transactionsTotal: timings.transactionsTotal,
    });
    for (const waiter of batch.waiters) waiter.resolve();
    this.flush();
  }

  /** Storage failed: reject every waiter and refuse further writes. Idempotent. */
  fail(error: StorageFatalError): void {
    if (this.failure !== null) return;
    this.failure = error;
    for (const batch of [this.inFlight, this.pending]) for (const waiter of batch?.waiters ?? []) waiter.reject(error);
    this.inFlight = null;
    this.pending = null;
    this.deferred = [];
    if (this.deferredTimer !== null) clearTimeout(this.deferredTimer);
    this.deferredTimer = null;
  }

  private currentBatch(): Batch {
    if (this.pending === null) {
      this.pending = new Batch();
      for (const op of this.deferred.splice(0)) this.pending.add(op);
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => {
          this.flushScheduled = false;
          this.flush();
        });
      }
    }
    return this.pending;
  }

  private flush(): void {
    const batch = this.pending;
    if (batch === null || this.inFlight !== null || this.failure !== null) return;
    this.pending = null;
    batch.batchId = this.nextBatchId++;
    this.inFlight = batch;
    batch.sentAt = sharedClockMs();
    this.options.send(batch.batchId, batch.ops);
  }
}
