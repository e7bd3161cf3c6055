import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import type { LogPosition, PersistMark, RaftStorage, Ready, SnapshotMeta } from '@arbor/raft';
import type { Logger } from '../logger.js';
import { DataDirError, StorageFatalError } from './errors.js';
import { GroupCommit, type BatchStats } from './group-commit.js';
import { LogMirror } from './log-mirror.js';
import { SqliteLogStore, SqliteSnapshotSource, SqliteStableStore, detached } from './raft-stores.js';
import { recoverState, type RecoveredState, type StoredSnapshot } from './recovery.js';
import { initializeOrCheck, openDatabase, type DataDirIdentity } from './schema.js';
import {
  fsyncDirectorySync,
  readSnapshotFile,
  removeStaleSnapshotFiles,
  snapshotFileName,
  verifySnapshotFile,
  writeSnapshotFile,
  type ReadSnapshotOptions,
} from './snapshot-files.js';
import type { StorageWorkerData } from './storage-worker.js';
import type { FromWorker, ToWorker } from './worker-protocol.js';

/** The writes of one Ready, as RawNode.ready() returns them. */
export type ReadyWrites = Pick<Ready, 'hardState' | 'snapshotChunks' | 'snapshot' | 'entries' | 'persistMark'> &
  Partial<Pick<Ready, 'liftsRejoinGuard'>>;

export interface SqliteStorageOptions extends DataDirIdentity {
  /** The member's data directory (created if missing): the database and the snapshot files. */
  readonly dir: string;
  readonly logger: Logger;
  /**
   * Called, in order, for each durable batch that carried a PersistMark, with the highest mark it
   * covers: every write queued up to and including that Ready's is durable. Pass it to
   * RawNode.onPersisted.
   */
  readonly onDurable?: (mark: PersistMark) => void;
  /** Called once when a write cannot be made durable. The member must stop. */
  readonly onFatal?: (error: StorageFatalError) => void;
  /** Called for every durable batch with its size and latencies (metrics). */
  readonly onBatch?: (stats: BatchStats) => void;
  /**
   * Snapshot files kept besides the latest (default 0). Keeping one lets a transfer of the
   * previous snapshot finish; by default a superseded snapshot is gone at once and readChunk
   * returns null for it, so the core restarts the transfer with the newer one.
   */
  readonly previousSnapshotsKept?: number;
  /** A batch whose transaction takes longer than this is logged as a warning (default 500 ms). */
  readonly slowCommitWarnMs?: number;
  /** How long opening waits on a database locked by another connection (default 2000 ms). */
  readonly busyTimeoutMs?: number;
  /** The compiled worker script; defaults to storage-worker.js beside this module (in dist/). */
  readonly workerUrl?: URL;
}

/** Cumulative counters, for an admin endpoint or a benchmark. */
export interface StorageStats {
  readonly batchesCommitted: number;
  /** SQLite transactions committed by the worker (one per batch). */
  readonly transactionsTotal: number;
  readonly entriesWritten: number;
  readonly entryBytesWritten: number;
  readonly snapshotChunkBytesWritten: number;
  readonly transactionMsTotal: number;
  readonly transactionMsMax: number;
  readonly lastBatch: BatchStats | null;
  /** Writes queued and not yet handed to the worker. */
  readonly queuedOps: number;
}

interface Counters {
  batchesCommitted: number;
  transactionsTotal: number;
  entriesWritten: number;
  entryBytesWritten: number;
  snapshotChunkBytesWritten: number;
  transactionMsTotal: number;
  transactionMsMax: number;
  lastBatch: BatchStats | null;
}

const PREVIOUS_SNAPSHOTS_KEPT_DEFAULT = 0;
const SLOW_COMMIT_WARN_MS_DEFAULT = 500;
const BUSY_TIMEOUT_MS_DEFAULT = 2_000;

/**
 * A member's durable storage: the Raft log, hard state and snapshots in a data directory
 * (SQLite in WAL mode with synchronous = FULL, snapshot files beside it).
 *
 * Reads are synchronous and served from memory: `log` (the un-compacted log, loaded and verified
 * at open), `stable` and `snapshots` are what RawNode takes as its RaftStorage. Writes never
 * block the event loop: they update memory at once and are queued; everything queued in one
 * turn goes to the storage worker as one transaction (one fsync), and durability comes back
 * through `onDurable(mark)`. Writes become durable in the order they were made.
 */
export class SqliteStorage implements RaftStorage {
  readonly log: SqliteLogStore;
  readonly stable: SqliteStableStore;
  readonly snapshots: SqliteSnapshotSource;
  /**
   * The rejoin guard the storage was opened with (RaftConfig.rejoinGuard): set while it was
   * created empty and no Ready has lifted it since.
   */
  readonly rejoinGuard: LogPosition | null;

  private readonly queue: GroupCommit;
  private readonly logger: Logger;
  private readonly counters: Counters = {
    batchesCommitted: 0,
    transactionsTotal: 0,
    entriesWritten: 0,
    entryBytesWritten: 0,
    snapshotChunkBytesWritten: 0,
    transactionMsTotal: 0,
    transactionMsMax: 0,
    lastBatch: null,
  };
  private saving: Promise<unknown> = Promise.resolve();
  private fatal: StorageFatalError | null = null;
  private closing: Promise<void> | null = null;

  /**
   * Opens (or creates) the data directory: checks it belongs to this ensemble and member, loads
   * and verifies the log, hard state and latest snapshot record, removes leftovers of an
   * interrupted snapshot write, and starts the storage worker. Rejects with DataDirError (wrong
   * directory, in use) or StorageCorruptionError (damaged data) — a member must not start then.
   */
  static async open(options: SqliteStorageOptions): Promise<SqliteStorage> {
    const logger = options.logger.child({ component: 'storage' });
    const busyTimeoutMs = options.busyTimeoutMs ?? BUSY_TIMEOUT_MS_DEFAULT;
    const createdDir = mkdirSync(options.dir, { recursive: true });
    const started = performance.now();
    const db = openDatabase(options.dir, { exclusive: false, busyTimeoutMs });
    let recovered: RecoveredState;
    try {
      initializeOrCheck(db, options.dir, options);
      recovered = recoverState(db, options.dir);
    } finally {
      db.close();
    }
    // A new directory and database file must survive a crash too: their directory entries.
    fsyncDirectorySync(options.dir);
    if (createdDir !== undefined) fsyncDirectorySync(dirname(createdDir));
    const removed = removeStaleSnapshotFiles(options.dir, recovered.snapshot?.fileName ?? null);
    if (removed.length > 0) logger.info({ files: removed }, 'removed stale snapshot files');
    const worker = await startWorker(options, recovered, busyTimeoutMs);
    const storage = new SqliteStorage(options, logger, worker, recovered);
    logger.info(
      {
        dir: options.dir,
        firstIndex: storage.log.firstIndex(),
        lastIndex: storage.log.lastIndex(),
        term: recovered.hardState.term,
        commit: recovered.hardState.commit,
        snapshotIndex: recovered.snapshot?.meta.index ?? 0,
        recoveryMs: Math.round(performance.now() - started),
      },
      'storage opened',
    );
    return storage;
  }

  private constructor(
    private readonly options: SqliteStorageOptions,
    logger: Logger,
    private readonly worker: Worker,
    recovered: RecoveredState,
  ) {
    this.logger = logger;
    this.queue = new GroupCommit({
      send: (batchId, ops) => this.post({ type: 'batch', batchId, ops }),
      onDurable: (stats) => this.onBatchDurable(stats),
    });
    this.log = new SqliteLogStore(new LogMirror(recovered.boundary, recovered.entries), this.queue);
    this.stable = new SqliteStableStore(recovered.hardState, this.queue);
    this.rejoinGuard = recovered.rejoinGuard;
    this.snapshots = new SqliteSnapshotSource(options.dir);
    if (recovered.snapshot !== null) this.snapshots.setLatest(recovered.snapshot);
    worker.on('message', (message: FromWorker) => this.onWorkerMessage(message));
    worker.on('error', (error) => this.failWith(new StorageFatalError(`storage worker crashed: ${error.message}`, { cause: error })));
    worker.on('exit', (code) => {
      if (this.closing === null) this.failWith(new StorageFatalError(`storage worker exited unexpectedly (code ${code})`));
    });
  }

  /**
   * Queues the writes of one Ready in the order its contract requires: snapshot chunks staged,
   * then the received snapshot installed (sealed as the latest snapshot file, the log reset to
   * start after it), then entries appended, then the hard state. When all of it (and everything
   * queued before) is durable, `onDurable(ready.persistMark)` is called. A Ready with nothing but
   * a hard state and no persistMark (the commit index moved) is written lazily, with the next
   * batch: Raft may lose its commit index in a crash (Ready.persistMark).
   */
  /**
   * Marks storage that was just created (before its founding entries are written, in the same
   * transaction): the member starts under the rejoin guard until a Ready lifts it.
   */
  startRejoinGuard(fresh: LogPosition): void {
    this.queue.checkWritable();
    this.queue.enqueue({ kind: 'rejoinGuard', fresh: { index: fresh.index, term: fresh.term } });
  }

  persist(writes: ReadyWrites): void {
    this.queue.checkWritable();
    for (const chunk of writes.snapshotChunks) {
      this.queue.enqueue({
        kind: 'stageChunk',
        chunk: { snapshot: chunk.snapshot, offset: chunk.offset, data: detached(chunk.data), done: chunk.done },
      });
    }
    if (writes.snapshot !== null) {
      this.queue.enqueue({ kind: 'installStaged', meta: writes.snapshot });
      this.log.reset({ index: writes.snapshot.index, term: writes.snapshot.term });
    }
    this.log.append(writes.entries);
    if (writes.hardState !== null) {
      const lazy =
        writes.persistMark === null && writes.entries.length === 0 && writes.snapshot === null && writes.snapshotChunks.length === 0;
      this.stable.saveHardState(writes.hardState, lazy);
    }
    // After the writes that satisfy the guard, in the same transaction (Ready.liftsRejoinGuard).
    if (writes.liftsRejoinGuard === true) this.queue.enqueue({ kind: 'rejoinGuard', fresh: null });
    if (writes.persistMark !== null) this.queue.mark(writes.persistMark);
  }

  /**
   * Writes a snapshot the host took (e.g. the tree's snapshotChunks()) to a new file, streaming,
   * off the event loop, then records it as the latest if it is newer than the latest by then.
   * Resolves once the record is durable (so the host may compact the log behind it); true if it
   * became the latest. Saves run one at a time. A snapshot not newer than the latest is skipped.
   */
  saveSnapshot(meta: SnapshotMeta, chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<boolean> {
    const run = async (): Promise<boolean> => {
      this.queue.checkWritable();
      const before = this.snapshots.latestStoredSnapshot();
      if (before !== null && meta.index <= before.meta.index) return false;
      const file = await writeSnapshotFile(this.options.dir, snapshotFileName(meta.index, meta.term), chunks);
      const confState = { voters: [...meta.confState.voters], learners: [...meta.confState.learners] };
      this.queue.enqueue({ kind: 'recordSnapshot', snapshot: { meta: { index: meta.index, term: meta.term, confState }, ...file } });
      await this.queue.whenDurable();
      return this.snapshots.latestStoredSnapshot()?.fileName === file.fileName;
    };
    const result = this.saving.then(run, run);
    this.saving = result.catch(() => undefined);
    return result;
  }

  /** The latest snapshot's record (metadata, file, size, checksum), or null before the first. */
  latestSnapshot(): StoredSnapshot | null {
    return this.snapshots.latestStoredSnapshot();
  }

  /**
   * Streams the data of kept snapshot `index` (the latest, or a previous one not yet pruned),
   * checking the checksum as it goes: see readSnapshotFile for what a consumer must do when the
   * stream throws. A snapshot whose install or save is still queued (e.g. right after persisting
   * a Ready with `snapshot`) is read once those writes are durable.
   */
  async *readSnapshot(index: number, options: Omit<ReadSnapshotOptions, 'expected'> = {}): AsyncGenerator<Uint8Array, void, undefined> {
    if (this.snapshots.storedSnapshot(index) === null) await this.sync();
    const stored = this.requireStored(index);
    yield* readSnapshotFile(this.snapshots.filePath(stored), { ...options, expected: stored });
  }

  /** Reads kept snapshot `index` once; rejects with StorageCorruptionError unless it is intact. */
  async verifySnapshot(index: number): Promise<void> {
    if (this.snapshots.storedSnapshot(index) === null) await this.sync();
    const stored = this.requireStored(index);
    await verifySnapshotFile(this.snapshots.filePath(stored), stored);
  }

  /** Resolves when every write queued so far is durable; rejects if storage fails first. */
  sync(): Promise<void> {
    return this.queue.whenDurable();
  }

  stats(): StorageStats {
    return { ...this.counters, queuedOps: this.queue.queuedOps() };
  }

  /**
   * Waits for queued writes to become durable, then stops the worker and closes the database.
   * Idempotent. After a fatal error it only stops the worker.
   */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    await this.saving;
    await this.queue.whenDurable().catch(() => undefined);
    this.queue.fail(new StorageFatalError('storage is closed'));
    if (this.fatal === null) {
      const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
      this.post({ type: 'close' });
      await exited;
    } else {
      await this.worker.terminate();
    }
    this.snapshots.close();
  }

  private requireStored(index: number): StoredSnapshot {
    const stored = this.snapshots.storedSnapshot(index);
    if (stored === null) throw new RangeError(`snapshot ${index} is not stored (latest is ${this.snapshots.latest().index})`);
    return stored;
  }

  private post(message: ToWorker): void {
    this.worker.postMessage(message);
  }

  private onWorkerMessage(message: FromWorker): void {
    switch (message.type) {
      case 'committed':
        if (message.latestSnapshot !== null) this.snapshots.setLatest(message.latestSnapshot);
        if (message.removedSnapshotFiles.length > 0) this.snapshots.forget(message.removedSnapshotFiles);
        try {
          this.queue.committed(message.batchId, message.timings, message.handling);
        } catch (error) {
          this.failWith(error instanceof StorageFatalError ? error : new StorageFatalError(String(error), { cause: error }));
        }
        return;
      case 'fatal':
        this.failWith(new StorageFatalError(message.message));
        return;
      case 'ready':
      case 'closed':
        return;
    }
  }

  private onBatchDurable(stats: BatchStats): void {
    const c = this.counters;
    c.batchesCommitted++;
    c.transactionsTotal = stats.transactionsTotal;
    c.entriesWritten += stats.entries;
    c.entryBytesWritten += stats.entryBytes;
    c.snapshotChunkBytesWritten += stats.snapshotChunkBytes;
    c.transactionMsTotal += stats.transactionMs;
    c.transactionMsMax = Math.max(c.transactionMsMax, stats.transactionMs);
    c.lastBatch = stats;
    const slowMs = this.options.slowCommitWarnMs ?? SLOW_COMMIT_WARN_MS_DEFAULT;
    if (stats.transactionMs + stats.fileMs > slowMs) {
      this.logger.warn(
        { transactionMs: Math.round(stats.transactionMs), fileMs: Math.round(stats.fileMs), ops: stats.ops, entryBytes: stats.entryBytes },
        'slow storage commit',
      );
    }
    this.options.onBatch?.(stats);
    if (stats.mark !== null) this.options.onDurable?.(stats.mark);
  }

  private failWith(error: StorageFatalError): void {
    // Also while closing: the final flush can fail too, and close() must not wait for it forever.
    if (this.fatal !== null) return;
    this.fatal = error;
    this.queue.fail(error);
    this.logger.error({ err: error }, 'storage failed; no further writes are accepted');
    void this.worker.terminate();
    this.options.onFatal?.(error);
  }
}

/** Starts the worker and waits until it holds the database, or reports why it cannot. */
function startWorker(options: SqliteStorageOptions, recovered: RecoveredState, busyTimeoutMs: number): Promise<Worker> {
  const workerData: StorageWorkerData = {
    dir: options.dir,
    previousSnapshotsKept: options.previousSnapshotsKept ?? PREVIOUS_SNAPSHOTS_KEPT_DEFAULT,
    busyTimeoutMs,
    boundary: recovered.boundary,
    lastIndex: recovered.entries.at(-1)?.index ?? recovered.boundary.index,
    latestSnapshot: recovered.snapshot,
  };
  const worker = new Worker(options.workerUrl ?? new URL('./storage-worker.js', import.meta.url), { workerData });
  return new Promise((resolve, reject) => {
    const onMessage = (message: FromWorker): void => {
      cleanUp();
      if (message.type === 'ready') {
        resolve(worker);
        return;
      }
      void worker.terminate();
      const text = message.type === 'fatal' ? message.message : `unexpected '${message.type}' from the storage worker`;
      reject(text.includes('in use by another process') ? new DataDirError(text, options.dir) : new StorageFatalError(text));
    };
    const onError = (error: Error): void => {
      cleanUp();
      reject(new StorageFatalError(`storage worker failed to start: ${error.message}`, { cause: error }));
    };
    const onExit = (code: number): void => {
      cleanUp();
      reject(new StorageFatalError(`storage worker exited during start-up (code ${code})`));
    };
    const cleanUp = (): void => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
}
