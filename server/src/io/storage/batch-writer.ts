import type Database from 'better-sqlite3';
import { performance } from 'node:perf_hooks';
import type { Entry, LogPosition, SnapshotMeta } from '@arbor/raft';
import { entryChecksum, entryTypeCode } from './checksums.js';
import type { StoredSnapshot } from './recovery.js';
import { REJOIN_GUARD_KEY, boundaryRowChecksum, hardStateRowChecksum, rejoinGuardChecksum, snapshotRowChecksum } from './schema.js';
import { pruneSnapshotFiles, removeSnapshotFiles, SnapshotStaging, type SnapshotFileInfo } from './snapshot-files.js';
import type { BatchTimings, WriteOp } from './worker-protocol.js';

/** What one applied batch changed beyond the log, for the main thread. */
export interface BatchOutcome {
  readonly timings: BatchTimings;
  readonly latestSnapshot: StoredSnapshot | null;
  readonly removedSnapshotFiles: readonly string[];
}

export interface BatchWriterOptions {
  readonly dir: string;
  readonly previousSnapshotsKept: number;
}

function fail(message: string): never {
  throw new Error(`storage invariant broken: ${message}`);
}

/**
 * Applies batches of writes synchronously: the body of the storage worker, kept apart from the
 * thread plumbing so that it reads as the ordering rules it implements. For each batch:
 *   1. snapshot file work in op order — stage chunks, seal staged snapshots — then fsync;
 *   2. every SQLite write of the batch in op order, in ONE transaction (one WAL fsync);
 *   3. after the commit, delete snapshot files no longer needed.
 * Doing all file work first is equivalent to interleaving it, because the only SQLite write that
 * depends on a file (recording a sealed snapshot) comes after it either way; and a crash between
 * 1 and 2 leaves at most an unrecorded snapshot file, which start-up removes.
 *
 * The writer keeps its own view of the log bounds and re-checks each write against it, so a
 * main-thread mirror that drifted from the disk is caught here rather than written.
 */
export class BatchWriter {
  private readonly staging: SnapshotStaging;
  private boundary: LogPosition;
  private lastIndex: number;
  private latest: StoredSnapshot | null;
  private transactionsTotal = 0;
  private readonly statements;

  constructor(
    private readonly db: Database.Database,
    private readonly options: BatchWriterOptions,
    initial: { boundary: LogPosition; lastIndex: number; latestSnapshot: StoredSnapshot | null },
  ) {
    this.staging = new SnapshotStaging(options.dir);
    this.boundary = initial.boundary;
    this.lastIndex = initial.lastIndex;
    this.latest = initial.latestSnapshot;
    this.statements = {
      deleteFrom: db.prepare('DELETE FROM log_entry WHERE log_index >= ?'),
      deleteThrough: db.prepare('DELETE FROM log_entry WHERE log_index <= ?'),
      deleteAll: db.prepare('DELETE FROM log_entry'),
      insertEntry: db.prepare('INSERT INTO log_entry (log_index, term, type, data, checksum) VALUES (?, ?, ?, ?, ?)'),
      saveHardState: db.prepare('UPDATE hard_state SET term = ?, vote = ?, commit_index = ?, checksum = ? WHERE id = 1'),
      saveBoundary: db.prepare('UPDATE log_boundary SET log_index = ?, term = ?, checksum = ? WHERE id = 1'),
      saveMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
      deleteMeta: db.prepare('DELETE FROM meta WHERE key = ?'),
      saveSnapshot: db.prepare(
        `INSERT OR REPLACE INTO snapshot (id, snapshot_index, term, conf_state, file_name, data_bytes, data_checksum, checksum)
         VALUES (1, ?, ?, ?, ?, ?, ?, ?)`,
      ),
    };
  }

  apply(ops: readonly WriteOp[]): BatchOutcome {
    const fileStart = performance.now();
    const sealed = this.applyFileOps(ops);
    const transactionStart = performance.now();
    const previousLatest = this.latest;
    const unrecorded: string[] = [];
    this.db.transaction(() => {
      for (const op of ops) this.applySqlOp(op, sealed, unrecorded);
    })();
    this.transactionsTotal++;
    const transactionEnd = performance.now();
    const changed = this.latest !== previousLatest ? this.latest : null;
    const removed =
      changed === null
        ? []
        : pruneSnapshotFiles(
            this.options.dir,
            { index: changed.meta.index, fileName: changed.fileName },
            this.options.previousSnapshotsKept,
          );
    return {
      timings: {
        fileMs: transactionStart - fileStart,
        transactionMs: transactionEnd - transactionStart,
        transactionsTotal: this.transactionsTotal,
      },
      latestSnapshot: changed,
      removedSnapshotFiles: removed.concat(this.removeUnrecorded(unrecorded)),
    };
  }

  /** Releases the staging file; the database is closed by the owner. */
  close(): void {
    this.staging.discard();
  }

  private applyFileOps(ops: readonly WriteOp[]): Map<WriteOp, SnapshotFileInfo> {
    const sealed = new Map<WriteOp, SnapshotFileInfo>();
    for (const op of ops) {
      if (op.kind === 'stageChunk') this.staging.write(op.chunk);
      else if (op.kind === 'installStaged') sealed.set(op, this.staging.finalize(op.meta));
    }
    this.staging.sync();
    return sealed;
  }

  private applySqlOp(op: WriteOp, sealed: Map<WriteOp, SnapshotFileInfo>, unrecorded: string[]): void {
    switch (op.kind) {
      case 'append':
        this.append(op.entries);
        return;
      case 'hardState': {
        const { term, vote, commit } = op.state;
        this.statements.saveHardState.run(term, vote, commit, hardStateRowChecksum(term, vote, commit));
        return;
      }
      case 'compact':
        this.compact(op.boundary);
        return;
      case 'resetLog':
        this.statements.deleteAll.run();
        this.setBoundary(op.boundary);
        this.lastIndex = op.boundary.index;
        return;
      case 'stageChunk':
        return;
      case 'installStaged':
        this.recordSnapshot(op.meta, sealed.get(op) ?? fail(`snapshot ${op.meta.index} was not sealed`));
        return;
      case 'recordSnapshot':
        if (this.latest === null || op.snapshot.meta.index > this.latest.meta.index) this.recordSnapshot(op.snapshot.meta, op.snapshot);
        else if (op.snapshot.fileName !== this.latest.fileName) unrecorded.push(op.snapshot.fileName);
        return;
      case 'rejoinGuard':
        if (op.fresh === null) {
          this.statements.deleteMeta.run(REJOIN_GUARD_KEY);
        } else {
          const { index, term } = op.fresh;
          this.statements.saveMeta.run(REJOIN_GUARD_KEY, JSON.stringify({ index, term, checksum: rejoinGuardChecksum(index, term) }));
        }
        return;
    }
  }

  private append(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    if (first.index <= this.boundary.index || first.index > this.lastIndex + 1) {
      fail(`append at ${first.index} but the stored log holds ${this.boundary.index + 1}..${this.lastIndex}`);
    }
    if (first.index <= this.lastIndex) this.statements.deleteFrom.run(first.index);
    for (const entry of entries) {
      const typeCode = entryTypeCode(entry.type);
      this.statements.insertEntry.run(
        entry.index,
        entry.term,
        typeCode,
        entry.data,
        entryChecksum(entry.index, entry.term, typeCode, entry.data),
      );
    }
    this.lastIndex = entries[entries.length - 1]!.index;
  }

  private compact(boundary: LogPosition): void {
    if (boundary.index <= this.boundary.index) return;
    if (boundary.index > this.lastIndex) fail(`compact through ${boundary.index} beyond the stored last index ${this.lastIndex}`);
    this.statements.deleteThrough.run(boundary.index);
    this.setBoundary(boundary);
  }

  private setBoundary(boundary: LogPosition): void {
    this.statements.saveBoundary.run(boundary.index, boundary.term, boundaryRowChecksum(boundary.index, boundary.term));
    this.boundary = { index: boundary.index, term: boundary.term };
  }

  private recordSnapshot(meta: SnapshotMeta, file: SnapshotFileInfo): void {
    const confState = { voters: [...meta.confState.voters], learners: [...meta.confState.learners] };
    const confStateJson = JSON.stringify(confState);
    const row = { index: meta.index, term: meta.term, confStateJson, ...file };
    this.statements.saveSnapshot.run(
      meta.index,
      meta.term,
      confStateJson,
      file.fileName,
      file.dataBytes,
      file.dataChecksum,
      snapshotRowChecksum(row),
    );
    this.latest = {
      meta: { index: meta.index, term: meta.term, confState },
      fileName: file.fileName,
      dataBytes: file.dataBytes,
      dataChecksum: file.dataChecksum,
    };
  }

  /** Saved snapshots that lost the race to a newer one: never recorded, so never needed. */
  private removeUnrecorded(fileNames: readonly string[]): string[] {
    removeSnapshotFiles(this.options.dir, fileNames);
    return [...fileNames];
  }
}
