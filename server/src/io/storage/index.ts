// Durable storage of a member: the Raft log, hard state and snapshots (see sqlite-storage.ts).
export { SqliteStorage, type ReadyWrites, type SqliteStorageOptions, type StorageStats } from './sqlite-storage.js';
export type { BatchStats } from './group-commit.js';
export type { StoredSnapshot } from './recovery.js';
export { DataDirError, StorageCorruptionError, StorageFatalError } from './errors.js';
export { STORAGE_FORMAT_VERSION } from './schema.js';
export { SNAPSHOT_READ_CHUNK_BYTES_DEFAULT, type SnapshotFileInfo } from './snapshot-files.js';
