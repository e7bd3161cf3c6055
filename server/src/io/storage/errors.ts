// The three ways durable storage refuses to go on. Each message names what is wrong and where,
// so that an operator reading the member's last log line knows which file to look at.

/**
 * Stored data failed a check: a checksum, the contiguity of the log, the agreement between the
 * log, the hard state and the snapshot, or a snapshot file's trailer. Raised at start-up (the
 * member refuses to start) or while reading a snapshot (the caller must discard what it read).
 * Never "repaired" silently: a member that guesses can diverge from its ensemble.
 */
export class StorageCorruptionError extends Error {
  constructor(
    message: string,
    /** The damaged thing: a table, `log entry <index>`, or a file path. */
    readonly location: string,
    /** The log index concerned, when there is one. */
    readonly index: number | null = null,
  ) {
    super(message);
    this.name = 'StorageCorruptionError';
  }
}

/**
 * The data directory belongs to another ensemble or member, was written by an incompatible
 * format version, or is in use by another process. Raised by SqliteStorage.open.
 */
export class DataDirError extends Error {
  constructor(
    message: string,
    readonly dir: string,
  ) {
    super(message);
    this.name = 'DataDirError';
  }
}

/**
 * A write could not be made durable (an SQLite or file-system error, the storage worker died, or
 * a write broke an invariant of the log). After this no further write is accepted and nothing
 * more is reported durable: the member must stop rather than run on a log it cannot write.
 */
export class StorageFatalError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StorageFatalError';
  }
}
