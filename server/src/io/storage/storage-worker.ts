// The storage worker: the only writer of a member's database and snapshot files. better-sqlite3
// is synchronous, so running it here keeps the member's event loop off the disk: the main thread
// posts a batch of writes, this thread applies it as one transaction (BatchWriter) and posts back
// that it is durable. Batches are applied strictly in the order they arrive.
//
// Nothing here may throw past this file: any error (SQLite, file system, a broken invariant) is
// reported once as a `fatal` message, after which every later batch is ignored — the main thread
// stops reporting durability and the member stops.

import type Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import type { LogPosition } from '@arbor/raft';
import { BatchWriter } from './batch-writer.js';
import type { StoredSnapshot } from './recovery.js';
import { openDatabase, translateOpenError } from './schema.js';
import { sharedClockMs, type FromWorker, type ToWorker, type WorkerOptions, type WriteOp } from './worker-protocol.js';

export interface StorageWorkerData extends WorkerOptions {
  readonly boundary: LogPosition;
  readonly lastIndex: number;
  readonly latestSnapshot: StoredSnapshot | null;
}

const port = parentPort;
if (port === null) throw new Error('storage-worker.js must run as a worker thread');

let db: Database.Database | null = null;
let writer: BatchWriter | null = null;
let failed = false;

function post(message: FromWorker): void {
  port!.postMessage(message);
}

function describe(ops: readonly WriteOp[]): string {
  const counts = new Map<string, number>();
  for (const op of ops) counts.set(op.kind, (counts.get(op.kind) ?? 0) + 1);
  return [...counts].map(([kind, n]) => `${n} ${kind}`).join(', ');
}

function reportFatal(context: string, error: unknown): void {
  failed = true;
  const code = (error as { code?: unknown }).code;
  const reason = error instanceof Error ? error.message : String(error);
  post({
    type: 'fatal',
    message: `${context}: ${reason}${typeof code === 'string' ? ` (${code})` : ''}`,
    stack: error instanceof Error ? (error.stack ?? null) : null,
  });
  try {
    writer?.close();
    db?.close();
  } catch {
    // Already failing; the first error is the one worth reporting.
  }
  writer = null;
  db = null;
}

function start(data: StorageWorkerData): void {
  try {
    db = openDatabase(data.dir, { exclusive: true, busyTimeoutMs: data.busyTimeoutMs });
    // Takes the exclusive lock now rather than at the first write, so a second process opening
    // the same directory is refused at start-up.
    db.exec('BEGIN IMMEDIATE; COMMIT');
    writer = new BatchWriter(db, data, { boundary: data.boundary, lastIndex: data.lastIndex, latestSnapshot: data.latestSnapshot });
    post({ type: 'ready' });
  } catch (error) {
    reportFatal(`cannot open the database in ${data.dir}`, translateOpenError(error, data.dir));
  }
}

function onMessage(message: ToWorker): void {
  if (failed) return;
  if (message.type === 'batch') {
    const receivedAtMs = sharedClockMs();
    try {
      const outcome = writer!.apply(message.ops);
      post({ type: 'committed', batchId: message.batchId, ...outcome, handling: { receivedAtMs, postedAtMs: sharedClockMs() } });
    } catch (error) {
      reportFatal(`storage write failed (batch ${message.batchId}: ${describe(message.ops)})`, error);
    }
    return;
  }
  try {
    writer?.close();
    db?.close();
    writer = null;
    db = null;
    post({ type: 'closed' });
    port!.close();
  } catch (error) {
    reportFatal('closing the database failed', error);
  }
}

port.on('message', onMessage);
start(workerData as StorageWorkerData);
