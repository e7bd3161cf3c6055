import Database from 'better-sqlite3';
import { join } from 'node:path';
import { rowChecksum } from './checksums.js';
import { DataDirError } from './errors.js';

// The SQLite side of a member's data directory. One database file holds the Raft log, the hard
// state, the log boundary (the position the log was compacted or reset to) and the record of the
// latest snapshot, whose bytes live in a file beside the database (snapshot-files.ts). Every
// row carries a CRC-32 (checksums.ts) checked at start-up (recovery.ts).

export const DATABASE_FILE_NAME = 'arbor.db';

/** Bumped on any incompatible change of the tables below or of the snapshot file format. */
export const STORAGE_FORMAT_VERSION = 1;

/** Who a data directory belongs to; a member refuses a directory of another ensemble or member. */
export interface DataDirIdentity {
  readonly memberId: number;
  readonly clusterId: string;
}

const SCHEMA = `
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE log_entry (
  log_index INTEGER PRIMARY KEY,
  term      INTEGER NOT NULL,
  type      INTEGER NOT NULL,
  data      BLOB    NOT NULL,
  checksum  INTEGER NOT NULL
);

CREATE TABLE hard_state (
  id           INTEGER PRIMARY KEY CHECK (id = 1),
  term         INTEGER NOT NULL,
  vote         INTEGER,
  commit_index INTEGER NOT NULL,
  checksum     INTEGER NOT NULL
);

CREATE TABLE log_boundary (
  id        INTEGER PRIMARY KEY CHECK (id = 1),
  log_index INTEGER NOT NULL,
  term      INTEGER NOT NULL,
  checksum  INTEGER NOT NULL
);

CREATE TABLE snapshot (
  id             INTEGER PRIMARY KEY CHECK (id = 1),
  snapshot_index INTEGER NOT NULL,
  term           INTEGER NOT NULL,
  conf_state     TEXT    NOT NULL,
  file_name      TEXT    NOT NULL,
  data_bytes     INTEGER NOT NULL,
  data_checksum  INTEGER NOT NULL,
  checksum       INTEGER NOT NULL
);
`;

export function hardStateRowChecksum(term: number, vote: number | null, commit: number): number {
  return rowChecksum(['hard_state', term, vote, commit]);
}

/**
 * The meta row that marks storage created empty and not yet caught up (RaftConfig.rejoinGuard):
 * its value is the founding log position and a checksum, as JSON. No row: not guarded.
 */
export const REJOIN_GUARD_KEY = 'rejoin_guard';

export function rejoinGuardChecksum(index: number, term: number): number {
  return rowChecksum([REJOIN_GUARD_KEY, index, term]);
}

export function boundaryRowChecksum(index: number, term: number): number {
  return rowChecksum(['log_boundary', index, term]);
}

export function snapshotRowChecksum(row: {
  index: number;
  term: number;
  confStateJson: string;
  fileName: string;
  dataBytes: number;
  dataChecksum: number;
}): number {
  return rowChecksum(['snapshot', row.index, row.term, row.confStateJson, row.fileName, row.dataBytes, row.dataChecksum]);
}

export interface OpenDatabaseOptions {
  /**
   * Take SQLite's exclusive lock for the life of the connection (the writer does, so that a
   * second process opening the same directory fails instead of interleaving writes).
   */
  readonly exclusive: boolean;
  /** How long to wait for a lock held by another connection before giving up. */
  readonly busyTimeoutMs: number;
}

/** Opens the database of `dir` in WAL mode with synchronous = FULL (every commit is fsynced). */
export function openDatabase(dir: string, options: OpenDatabaseOptions): Database.Database {
  const db = new Database(join(dir, DATABASE_FILE_NAME), { timeout: options.busyTimeoutMs });
  try {
    if (options.exclusive) db.pragma('locking_mode = EXCLUSIVE');
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal') throw new DataDirError(`cannot switch ${DATABASE_FILE_NAME} to WAL mode (got '${String(mode)}')`, dir);
    db.pragma('synchronous = FULL');
    // A WAL file that grew during a burst is truncated back after the next checkpoint.
    db.pragma('journal_size_limit = 67108864');
    return db;
  } catch (error) {
    db.close();
    throw translateOpenError(error, dir);
  }
}

/** A lock conflict while opening means another process owns the directory. */
export function translateOpenError(error: unknown, dir: string): unknown {
  const code = (error as { code?: unknown }).code;
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') {
    return new DataDirError(`data directory ${dir} is in use by another process (${DATABASE_FILE_NAME} is locked)`, dir);
  }
  return error;
}

/**
 * Creates the tables of a new database, or checks that an existing one has this build's format
 * and belongs to `identity`. Throws DataDirError otherwise.
 */
export function initializeOrCheck(db: Database.Database, dir: string, identity: DataDirIdentity): void {
  const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).pluck().all() as string[];
  if (tables.length === 0) {
    createSchema(db, identity);
    return;
  }
  if (!tables.includes('meta')) {
    throw new DataDirError(`${join(dir, DATABASE_FILE_NAME)} is not an Arbor database (no meta table)`, dir);
  }
  const meta = new Map(
    (db.prepare('SELECT key, value FROM meta').all() as { key: string; value: string }[]).map((row) => [row.key, row.value]),
  );
  const format = Number(meta.get('format_version'));
  if (format !== STORAGE_FORMAT_VERSION) {
    throw new DataDirError(
      `data directory ${dir} has storage format ${meta.get('format_version') ?? '(none)'}; this build reads format ${STORAGE_FORMAT_VERSION}`,
      dir,
    );
  }
  if (meta.get('cluster_id') !== identity.clusterId) {
    throw new DataDirError(`data directory ${dir} belongs to ensemble '${meta.get('cluster_id') ?? ''}', not '${identity.clusterId}'`, dir);
  }
  if (meta.get('member_id') !== String(identity.memberId)) {
    throw new DataDirError(`data directory ${dir} belongs to member ${meta.get('member_id') ?? '?'}, not ${identity.memberId}`, dir);
  }
}

function createSchema(db: Database.Database, identity: DataDirIdentity): void {
  db.transaction(() => {
    db.exec(SCHEMA);
    const putMeta = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
    putMeta.run('format_version', String(STORAGE_FORMAT_VERSION));
    putMeta.run('cluster_id', identity.clusterId);
    putMeta.run('member_id', String(identity.memberId));
    putMeta.run('created_at', new Date().toISOString());
    db.prepare('INSERT INTO hard_state (id, term, vote, commit_index, checksum) VALUES (1, 0, NULL, 0, ?)').run(
      hardStateRowChecksum(0, null, 0),
    );
    db.prepare('INSERT INTO log_boundary (id, log_index, term, checksum) VALUES (1, 0, 0, ?)').run(boundaryRowChecksum(0, 0));
  })();
}
