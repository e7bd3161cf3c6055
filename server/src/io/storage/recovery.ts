import type Database from 'better-sqlite3';
import { join } from 'node:path';
import type { ConfState, Entry, HardState, LogPosition, SnapshotMeta } from '@arbor/raft';
import { entryChecksum, entryTypeFromCode } from './checksums.js';
import { StorageCorruptionError } from './errors.js';
import { REJOIN_GUARD_KEY, boundaryRowChecksum, hardStateRowChecksum, rejoinGuardChecksum, snapshotRowChecksum } from './schema.js';
import { hex, readSnapshotTrailerSync, type SnapshotFileInfo } from './snapshot-files.js';

// Start-up recovery: loads everything the storage keeps and checks it before the member uses any
// of it. SQLite transactions rule out a torn tail, so what is checked here is damage after the
// fact (a flipped bit, a file edited or truncated by hand) and broken invariants. Any failure is a
// StorageCorruptionError naming the row or file and what is wrong; nothing is skipped or repaired.

/** The latest snapshot as recorded in the database: its metadata and its file. */
export interface StoredSnapshot extends SnapshotFileInfo {
  readonly meta: SnapshotMeta;
}

export interface RecoveredState {
  readonly hardState: HardState;
  /** Position of the last compacted entry ({0, 0} if the log was never compacted or reset). */
  readonly boundary: LogPosition;
  /** The entries after the boundary, contiguous, checksums verified. */
  readonly entries: Entry[];
  readonly snapshot: StoredSnapshot | null;
  /** Set while the storage, created empty, has not been caught up (RaftConfig.rejoinGuard). */
  readonly rejoinGuard: LogPosition | null;
}

interface EntryRow {
  log_index: number;
  term: number;
  type: number;
  data: Buffer;
  checksum: number;
}

/** Loads and verifies the durable state of the database `db` in data directory `dir`. */
export function recoverState(db: Database.Database, dir: string): RecoveredState {
  const hardState = loadHardState(db);
  const snapshot = loadSnapshotRecord(db, dir);
  const { boundary, entries } = loadLog(db);
  checkConsistency(hardState, boundary, entries, snapshot);
  return { hardState, boundary, entries, snapshot, rejoinGuard: loadRejoinGuard(db) };
}

function loadRejoinGuard(db: Database.Database): LogPosition | null {
  const value = db.prepare('SELECT value FROM meta WHERE key = ?').pluck().get(REJOIN_GUARD_KEY) as string | undefined;
  if (value === undefined) return null;
  let row: { index?: unknown; term?: unknown; checksum?: unknown } = {};
  try {
    row = (JSON.parse(value) as typeof row | null) ?? {};
  } catch {
    // Reported below with the value.
  }
  const { index, term, checksum } = row;
  if (typeof index !== 'number' || typeof term !== 'number' || checksum !== rejoinGuardChecksum(index, term)) {
    throw corrupt(`damaged value ${JSON.stringify(value.slice(0, 80))}`, `meta ${REJOIN_GUARD_KEY}`);
  }
  return { index, term };
}

function corrupt(message: string, location: string, index: number | null = null): StorageCorruptionError {
  return new StorageCorruptionError(`${location}: ${message}`, location, index);
}

export function loadHardState(db: Database.Database): HardState {
  const row = db.prepare('SELECT term, vote, commit_index, checksum FROM hard_state WHERE id = 1').get() as
    { term: number; vote: number | null; commit_index: number; checksum: number } | undefined;
  if (row === undefined) throw corrupt('row missing', 'hard_state');
  if (row.checksum !== hardStateRowChecksum(row.term, row.vote, row.commit_index)) {
    throw corrupt(
      `checksum mismatch (stored ${hex(row.checksum)}; term ${row.term}, vote ${row.vote}, commit ${row.commit_index})`,
      'hard_state',
    );
  }
  return { term: row.term, vote: row.vote, commit: row.commit_index };
}

function loadBoundary(db: Database.Database): LogPosition {
  const row = db.prepare('SELECT log_index, term, checksum FROM log_boundary WHERE id = 1').get() as
    { log_index: number; term: number; checksum: number } | undefined;
  if (row === undefined) throw corrupt('row missing', 'log_boundary');
  if (row.checksum !== boundaryRowChecksum(row.log_index, row.term)) {
    throw corrupt(`checksum mismatch (stored ${hex(row.checksum)}; index ${row.log_index}, term ${row.term})`, 'log_boundary');
  }
  return { index: row.log_index, term: row.term };
}

function loadSnapshotRecord(db: Database.Database, dir: string): StoredSnapshot | null {
  const row = db
    .prepare('SELECT snapshot_index, term, conf_state, file_name, data_bytes, data_checksum, checksum FROM snapshot WHERE id = 1')
    .get() as
    | {
        snapshot_index: number;
        term: number;
        conf_state: string;
        file_name: string;
        data_bytes: number;
        data_checksum: number;
        checksum: number;
      }
    | undefined;
  if (row === undefined) return null;
  const expected = snapshotRowChecksum({
    index: row.snapshot_index,
    term: row.term,
    confStateJson: row.conf_state,
    fileName: row.file_name,
    dataBytes: row.data_bytes,
    dataChecksum: row.data_checksum,
  });
  if (row.checksum !== expected) throw corrupt(`checksum mismatch (stored ${hex(row.checksum)}, computed ${hex(expected)})`, 'snapshot');
  const info: SnapshotFileInfo = { fileName: row.file_name, dataBytes: row.data_bytes, dataChecksum: row.data_checksum };
  // Checks the file exists and its trailer agrees with the record; the data checksum is verified
  // when the member reads the snapshot to restore its state machine (readSnapshotFile).
  readSnapshotTrailerSync(join(dir, row.file_name), info);
  return { meta: { index: row.snapshot_index, term: row.term, confState: parseConfState(row.conf_state) }, ...info };
}

export function parseConfState(json: string): ConfState {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw corrupt(`conf_state is not JSON: ${json.slice(0, 80)}`, 'snapshot');
  }
  const ids = (list: unknown): list is number[] => Array.isArray(list) && list.every((id) => Number.isSafeInteger(id) && id > 0);
  const candidate = value as { voters?: unknown; learners?: unknown } | null;
  if (candidate === null || typeof candidate !== 'object' || !ids(candidate.voters) || !ids(candidate.learners)) {
    throw corrupt(`conf_state is not {voters, learners}: ${json.slice(0, 80)}`, 'snapshot');
  }
  return { voters: candidate.voters, learners: candidate.learners };
}

/**
 * The log alone — boundary and entries, each row checked, contiguity checked — without the
 * cross-checks against the hard state and the snapshot that recoverState adds.
 */
export function loadLog(db: Database.Database): { boundary: LogPosition; entries: Entry[] } {
  const boundary = loadBoundary(db);
  return { boundary, entries: loadEntries(db, boundary) };
}

function loadEntries(db: Database.Database, boundary: LogPosition): Entry[] {
  const entries: Entry[] = [];
  let expectedIndex = boundary.index + 1;
  let previousTerm = boundary.term;
  const rows = db
    .prepare('SELECT log_index, term, type, data, checksum FROM log_entry ORDER BY log_index')
    .iterate() as IterableIterator<EntryRow>;
  for (const row of rows) {
    const location = `log entry ${row.log_index}`;
    if (row.log_index !== expectedIndex) {
      throw corrupt(
        row.log_index < expectedIndex
          ? `at or before the log boundary ${boundary.index} (should have been compacted)`
          : `expected entry ${expectedIndex} next: entries ${expectedIndex}..${row.log_index - 1} are missing`,
        location,
        row.log_index,
      );
    }
    const type = entryTypeFromCode(row.type);
    if (type === undefined) throw corrupt(`unknown entry type code ${row.type}`, location, row.log_index);
    const computed = entryChecksum(row.log_index, row.term, row.type, row.data);
    if (computed !== row.checksum) {
      throw corrupt(
        `checksum mismatch (stored ${hex(row.checksum)}, computed ${hex(computed)} over term ${row.term}, type ${type}, ${row.data.length} data bytes)`,
        location,
        row.log_index,
      );
    }
    if (row.term < previousTerm)
      throw corrupt(`term ${row.term} is below the previous entry's term ${previousTerm}`, location, row.log_index);
    entries.push({
      index: row.log_index,
      term: row.term,
      type,
      data: new Uint8Array(row.data.buffer, row.data.byteOffset, row.data.byteLength),
    });
    expectedIndex++;
    previousTerm = row.term;
  }
  return entries;
}

function checkConsistency(hardState: HardState, boundary: LogPosition, entries: readonly Entry[], snapshot: StoredSnapshot | null): void {
  const last = entries.at(-1) ?? boundary;
  const snap = snapshot?.meta ?? { index: 0, term: 0 };
  if (boundary.index > snap.index) {
    throw corrupt(
      `the log is compacted through ${boundary.index} but the latest snapshot is at ${snap.index}: entries ${snap.index + 1}..${boundary.index} are lost`,
      'log_boundary',
      boundary.index,
    );
  }
  if (last.index < snap.index) {
    throw corrupt(`the log ends at ${last.index}, before the latest snapshot at ${snap.index}`, 'log_entry', last.index);
  }
  const termAtSnapshot = snap.index === boundary.index ? boundary.term : entries[snap.index - boundary.index - 1]?.term;
  if (snapshot !== null && termAtSnapshot !== snap.term) {
    throw corrupt(
      `the latest snapshot has term ${snap.term} but the log has term ${termAtSnapshot} at ${snap.index}`,
      'snapshot',
      snap.index,
    );
  }
  // HardState's own contract: commit is written with or after the entries it covers.
  if (hardState.commit > last.index) {
    throw corrupt(`commit index ${hardState.commit} is beyond the last log index ${last.index}`, 'hard_state', hardState.commit);
  }
}
