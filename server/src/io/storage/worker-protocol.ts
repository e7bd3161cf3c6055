import type { Entry, HardState, LogPosition, SnapshotChunk, SnapshotMeta } from '@arbor/raft';
import { performance } from 'node:perf_hooks';
import type { StoredSnapshot } from './recovery.js';

// The messages between the main-thread facade (sqlite-storage.ts) and the storage worker
// (storage-worker.ts). Values cross by structured clone, so everything here is plain data.

/** One write, in the order the host made it. A batch of them is one SQLite transaction. */
export type WriteOp =
  | { readonly kind: 'append'; readonly entries: readonly Entry[] }
  | { readonly kind: 'hardState'; readonly state: HardState }
  | { readonly kind: 'compact'; readonly boundary: LogPosition }
  | { readonly kind: 'resetLog'; readonly boundary: LogPosition }
  | { readonly kind: 'stageChunk'; readonly chunk: SnapshotChunk }
  /** Seal the staged snapshot `meta` as a snapshot file and record it as the latest. */
  | { readonly kind: 'installStaged'; readonly meta: SnapshotMeta }
  /** Record a snapshot file the host has already written durably (saveSnapshot), if newer. */
  | { readonly kind: 'recordSnapshot'; readonly snapshot: StoredSnapshot }
  /** Start (a position: the storage was just created) or end (null) the rejoin guard (schema.ts). */
  | { readonly kind: 'rejoinGuard'; readonly fresh: LogPosition | null };

export interface WorkerOptions {
  readonly dir: string;
  /** Snapshot files kept besides the latest, for transfers still reading them. */
  readonly previousSnapshotsKept: number;
  readonly busyTimeoutMs: number;
}

export type ToWorker = { readonly type: 'batch'; readonly batchId: number; readonly ops: readonly WriteOp[] } | { readonly type: 'close' };

/**
 * Milliseconds on a clock both threads read alike (each thread's performance.now() counts from
 * its own start), for timing a batch's way across. Only for measurements.
 */
export function sharedClockMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Measurements of one committed batch. */
export interface BatchTimings {
  /** Writing and fsyncing snapshot files (staging, sealing) before the transaction. */
  readonly fileMs: number;
  /** The SQLite transaction from BEGIN through COMMIT, which includes the WAL fsync. */
  readonly transactionMs: number;
  /** Transactions committed by this worker so far, this one included. */
  readonly transactionsTotal: number;
}

/** When the worker took a batch up and when it posted its outcome (sharedClockMs). */
export interface WorkerHandling {
  readonly receivedAtMs: number;
  readonly postedAtMs: number;
}

export type FromWorker =
  | { readonly type: 'ready' }
  | {
      readonly type: 'committed';
      readonly batchId: number;
      readonly timings: BatchTimings;
      readonly handling: WorkerHandling;
      /** The latest snapshot after this batch, when the batch changed it. */
      readonly latestSnapshot: StoredSnapshot | null;
      /** Snapshot files deleted after the commit. */
      readonly removedSnapshotFiles: readonly string[];
    }
  | { readonly type: 'fatal'; readonly message: string; readonly stack: string | null }
  | { readonly type: 'closed' };
