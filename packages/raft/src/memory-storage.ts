// In-memory implementations of the storage seams. Used by tests, the simulator (as the durable
// "disk" of a simulated member) and the benchmarks; the contract suite in
// testing/log-store-contract.ts pins down the behaviour the SQLite versions must share.

import { assert } from './assert.js';
import {
  CompactedError,
  EMPTY_HARD_STATE,
  EMPTY_SNAPSHOT,
  type LogStore,
  type RaftStorage,
  type SnapshotRead,
  type SnapshotStore,
  type StableStore,
} from './storage.js';
import { entryBytes, type Entry, type HardState, type LogPosition, type SnapshotChunk, type SnapshotMeta } from './types.js';

export class MemoryLogStore implements LogStore {
  private boundary: LogPosition = { index: 0, term: 0 };
  /** entries[i] has index boundary.index + 1 + i. */
  private log: Entry[] = [];

  firstIndex(): number {
    return this.boundary.index + 1;
  }

  lastIndex(): number {
    return this.boundary.index + this.log.length;
  }

  term(index: number): number | undefined {
    if (index === this.boundary.index) return this.boundary.term;
    if (index < this.boundary.index || index > this.lastIndex()) return undefined;
    return this.log[index - this.boundary.index - 1]?.term;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo < this.firstIndex()) throw new CompactedError(lo, this.firstIndex());
    if (lo > hi || hi > this.lastIndex() + 1) {
      throw new RangeError(`entries [${lo}, ${hi}) outside log [${this.firstIndex()}, ${this.lastIndex() + 1})`);
    }
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi; i++) {
      const entry = this.log[i - this.boundary.index - 1] as Entry;
      bytes += entryBytes(entry);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(entry);
    }
    return out;
  }

  append(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    if (first.index < this.firstIndex() || first.index > this.lastIndex() + 1) {
      throw new RangeError(`append at ${first.index} outside [${this.firstIndex()}, ${this.lastIndex() + 1}]`);
    }
    for (let i = 1; i < entries.length; i++) {
      if ((entries[i] as Entry).index !== first.index + i) throw new RangeError('appended entries are not consecutive');
    }
    this.log.length = first.index - this.boundary.index - 1;
    for (const entry of entries) this.log.push(entry);
  }

  compact(index: number): void {
    if (index <= this.boundary.index) return;
    if (index > this.lastIndex()) throw new RangeError(`compact(${index}) beyond last index ${this.lastIndex()}`);
    const term = this.term(index);
    assert(term !== undefined, 'compaction point must have a term');
    this.log = this.log.slice(index - this.boundary.index);
    this.boundary = { index, term };
  }

  reset(boundary: LogPosition): void {
    this.boundary = { index: boundary.index, term: boundary.term };
    this.log = [];
  }
}

export class MemoryStableStore implements StableStore {
  private state: HardState = EMPTY_HARD_STATE;

  loadHardState(): HardState {
    return this.state;
  }

  saveHardState(state: HardState): void {
    this.state = { term: state.term, vote: state.vote, commit: state.commit };
  }
}

interface StoredSnapshot {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
}

/**
 * Keeps the newest snapshot and one staging area. Older snapshots are dropped on save/install,
 * so a transfer of a superseded snapshot sees readChunk() return null and restarts.
 */
export class MemorySnapshotStore implements SnapshotStore {
  private current: StoredSnapshot = { meta: EMPTY_SNAPSHOT, data: new Uint8Array(0) };
  private staging: { meta: SnapshotMeta; parts: Uint8Array[]; bytes: number } | null = null;

  latest(): SnapshotMeta {
    return this.current.meta;
  }

  /** The newest snapshot's bytes (for restoring a state machine at start-up). */
  latestData(): Uint8Array {
    return this.current.data;
  }

  readChunk(index: number, offset: number, maxBytes: number): SnapshotRead | null {
    if (index !== this.current.meta.index) return null;
    const { data } = this.current;
    if (offset < 0 || offset > data.length) throw new RangeError(`snapshot offset ${offset} outside 0..${data.length}`);
    const end = Math.min(data.length, offset + Math.max(1, maxBytes));
    return { data: data.subarray(offset, end), done: end === data.length };
  }

  save(meta: SnapshotMeta, data: Uint8Array): void {
    if (meta.index < this.current.meta.index) return;
    this.current = { meta, data: data.slice() };
  }

  stage(chunk: SnapshotChunk): void {
    if (chunk.offset === 0) this.staging = { meta: chunk.snapshot, parts: [], bytes: 0 };
    const staging = this.staging;
    assert(staging !== null, `snapshot chunk at offset ${chunk.offset} without a staging area`);
    assert(staging.meta.index === chunk.snapshot.index, 'snapshot chunk for a different snapshot than staged');
    assert(staging.bytes === chunk.offset, `snapshot chunk offset ${chunk.offset} but ${staging.bytes} bytes staged`);
    staging.parts.push(chunk.data.slice());
    staging.bytes += chunk.data.length;
  }

  install(meta: SnapshotMeta): Uint8Array {
    const staging = this.staging;
    assert(staging !== null && staging.meta.index === meta.index, `no staged snapshot ${meta.index} to install`);
    const data = new Uint8Array(staging.bytes);
    let at = 0;
    for (const part of staging.parts) {
      data.set(part, at);
      at += part.length;
    }
    this.staging = null;
    this.current = { meta, data };
    return data;
  }

  /** Drops a partial staging area (what a crash does to a staging file that is not yet complete). */
  discardStaging(): void {
    this.staging = null;
  }
}

export interface MemoryStorage extends RaftStorage {
  readonly log: MemoryLogStore;
  readonly stable: MemoryStableStore;
  readonly snapshots: MemorySnapshotStore;
}

export function createMemoryStorage(): MemoryStorage {
  return { log: new MemoryLogStore(), stable: new MemoryStableStore(), snapshots: new MemorySnapshotStore() };
}
