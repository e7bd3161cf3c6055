// The storage seams of the consensus core (STYLE.md 4): a log store, a stable store for the hard
// state and a snapshot store. The core only ever calls the read methods, synchronously, from the
// host's turn; the host calls the write methods while processing a Ready (see Ready in
// types.ts for the order). The in-memory versions live in memory-storage.ts; the server's SQLite
// versions must pass the same contract suite (testing/log-store-contract.ts).

import type { ConfState, Entry, HardState, LogPosition, SnapshotChunk, SnapshotMeta } from './types.js';

/**
 * Thrown by LogStore.entries when part of the requested range has been compacted away. The core
 * catches it and falls back to sending a snapshot, so a compaction that lands between two reads
 * (e.g. a store written from another thread) is harmless.
 */
export class CompactedError extends Error {
  constructor(
    readonly index: number,
    readonly firstIndex: number,
  ) {
    super(`log entry ${index} is compacted; first index is ${firstIndex}`);
    this.name = 'CompactedError';
  }
}

/**
 * The replicated log of one member. It holds the entries after a boundary position (the
 * position of the last compacted entry, {0, 0} for a log that was never compacted) through the
 * last index. Invariants: firstIndex() === boundary.index + 1; lastIndex() >= boundary.index;
 * indices are consecutive; terms never decrease along the log.
 */
export interface LogStore {
  /** boundary.index + 1: the first index an entry may be read at. */
  firstIndex(): number;
  /** Index of the last entry, or boundary.index when the log holds no entries. */
  lastIndex(): number;
  /**
   * Term of the entry at `index` for boundary.index <= index <= lastIndex() (the boundary's
   * own term at boundary.index); undefined outside that range, compacted or not yet written.
   */
  term(index: number): number | undefined;
  /**
   * Entries [lo, hi) in order: the longest prefix whose summed entryBytes() is <= maxBytes, but
   * always at least the first entry when lo < hi. Throws CompactedError when lo < firstIndex();
   * throws RangeError when hi > lastIndex() + 1 or lo > hi.
   */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  /**
   * Appends consecutive entries. entries[0].index must be in [firstIndex(), lastIndex() + 1];
   * every stored entry at or after entries[0].index is discarded first (the conflicting suffix
   * of thesis §3.5, "delete the existing entry and all that follow it"). An empty array is a
   * no-op. Throws RangeError on a gap or non-consecutive input.
   */
  append(entries: readonly Entry[]): void;
  /**
   * Discards entries through `index`, which becomes the boundary (keeping its term). Requires
   * firstIndex() - 1 <= index <= lastIndex() (else RangeError); an index at or below the
   * current boundary is a no-op. The host compacts only behind a saved snapshot whose index is
   * >= `index`, and only through entries the state machine has applied.
   */
  compact(index: number): void;
  /**
   * Discards the whole log and sets the boundary to `boundary` (installing a snapshot received
   * from the leader): afterwards firstIndex() === boundary.index + 1 === lastIndex() + 1.
   */
  reset(boundary: LogPosition): void;
}

/** Durable home of the hard state (thesis Figure 3.1: currentTerm, votedFor; plus commit). */
export interface StableStore {
  /** The last saved hard state; {term: 0, vote: null, commit: 0} when none was ever saved. */
  loadHardState(): HardState;
  saveHardState(state: HardState): void;
}

/** A chunk read from a stored snapshot. */
export interface SnapshotRead {
  readonly data: Uint8Array;
  /** True when `data` reaches the end of the snapshot. */
  readonly done: boolean;
}

/**
 * What the core reads from the snapshot store: the newest snapshot's metadata and its bytes,
 * chunk by chunk, to stream to a follower that is behind the compacted log.
 */
export interface SnapshotSource {
  /**
   * Metadata of the newest complete snapshot. Before any snapshot exists this is the empty
   * snapshot {index: 0, term: 0, confState: {voters: [], learners: []}} (a bootstrapped log
   * carries its first configuration as entries; see bootstrapEntries).
   */
  latest(): SnapshotMeta;
  /**
   * Up to maxBytes of snapshot `index` starting at byte `offset` (at least one byte unless the
   * snapshot is empty or offset is its size; `done` when the read reaches the end). Returns null
   * when that snapshot is no longer stored (superseded by a newer one): the core then restarts
   * the transfer with latest().
   */
  readChunk(index: number, offset: number, maxBytes: number): SnapshotRead | null;
}

/**
 * The host side of the snapshot store. The core never calls these; they are here so that the
 * in-memory store, the simulator and the server implement the same lifecycle:
 * save() a snapshot the host took; stage chunks from Ready.snapshotChunks; install() the staged
 * snapshot named by Ready.snapshot.
 */
export interface SnapshotStore extends SnapshotSource {
  /** Stores a complete snapshot taken by the host; it becomes latest() if newer. */
  save(meta: SnapshotMeta, data: Uint8Array): void;
  /** Stages one received chunk; offset 0 discards any partial staging first. Chunks arrive in order. */
  stage(chunk: SnapshotChunk): void;
  /** Makes the fully staged snapshot `meta` the latest one and returns its bytes for restoring. */
  install(meta: SnapshotMeta): Uint8Array;
}

/** The three stores a RawNode reads at start-up and during replication. */
export interface RaftStorage {
  readonly log: LogStore;
  readonly stable: StableStore;
  readonly snapshots: SnapshotSource;
}

export const EMPTY_CONF_STATE: ConfState = Object.freeze({ voters: Object.freeze([]), learners: Object.freeze([]) });

export const EMPTY_SNAPSHOT: SnapshotMeta = Object.freeze({ index: 0, term: 0, confState: EMPTY_CONF_STATE });

export const EMPTY_HARD_STATE: HardState = Object.freeze({ term: 0, vote: null, commit: 0 });
