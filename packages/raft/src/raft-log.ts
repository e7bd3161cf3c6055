// A member's log as the core sees it: the durable part in the LogStore, plus an in-memory
// "unstable" suffix of entries (and possibly a received snapshot) that the host has not yet
// reported durable (etcd's raftLog + unstable). Everything the core reads goes through here, so
// entries handed to the host for writing are still readable while the write is in flight —
// which is what lets the leader replicate entries before its own fsync completes.

import { assert } from './assert.js';
import { CompactedError, type LogStore } from './storage.js';
import { entryBytes, type Entry, type SnapshotMeta } from './types.js';

export class RaftLog {
  /** Highest index known committed (thesis §3.5). Never decreases. */
  committed: number;
  /** Highest index handed to the host to apply (and acknowledged through advance). */
  applied: number;

  /** Index of unstable[0]; every index below it is durable in the store (or the snapshot). */
  private offset: number;
  private unstable: Entry[] = [];
  /** Entries with index <= handedIndex have been handed to the host for writing. */
  private handedIndex: number;
  /** A received snapshot not yet reported durable; the log restarts after it. */
  private pendingSnapshot: SnapshotMeta | null = null;
  private snapshotHanded = false;

  constructor(
    private readonly store: LogStore,
    committed: number,
    applied: number,
  ) {
    this.offset = store.lastIndex() + 1;
    this.handedIndex = this.offset - 1;
    this.committed = committed;
    this.applied = applied;
    assert(committed <= this.lastIndex(), `commit ${committed} beyond last index ${this.lastIndex()}`);
    assert(applied <= committed, `applied ${applied} beyond commit ${committed}`);
  }

  firstIndex(): number {
    return this.pendingSnapshot ? this.pendingSnapshot.index + 1 : this.store.firstIndex();
  }

  lastIndex(): number {
    return this.offset + this.unstable.length - 1;
  }

  /** Term of entry `index`, or undefined when it is compacted or beyond the last index. */
  term(index: number): number | undefined {
    if (index >= this.offset) return this.unstable[index - this.offset]?.term;
    if (this.pendingSnapshot) return index === this.pendingSnapshot.index ? this.pendingSnapshot.term : undefined;
    return this.store.term(index);
  }

  lastTerm(): number {
    const term = this.term(this.lastIndex());
    assert(term !== undefined, `no term for the last index ${this.lastIndex()}`);
    return term;
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** Thesis §3.6.1: a candidate's log is at least as up-to-date as this one. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /** Entries [lo, hi) limited by bytes (at least one). Throws CompactedError below firstIndex. */
  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    assert(hi <= this.lastIndex() + 1, `entries up to ${hi} beyond last index ${this.lastIndex()}`);
    if (lo >= hi) return [];
    if (lo < this.firstIndex()) throw new CompactedError(lo, this.firstIndex());
    let out: Entry[] = [];
    let bytes = 0;
    if (lo < this.offset) {
      const stableHi = Math.min(hi, this.offset);
      out = this.store.entries(lo, stableHi, maxBytes);
      for (const e of out) bytes += entryBytes(e);
      if (out.length < stableHi - lo) return out;
    }
    for (let i = Math.max(lo, this.offset); i < hi; i++) {
      const entry = this.unstable[i - this.offset] as Entry;
      bytes += entryBytes(entry);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(entry);
    }
    return out;
  }

  /**
   * Adds entries to the unstable suffix, discarding any existing entries at or after the first
   * one's index. Committed entries are never replaced (State Machine Safety, thesis §3.6.3).
   */
  append(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    const at = first.index;
    assert(at > this.committed, `appending at ${at} would overwrite committed entry ${this.committed}`);
    assert(at <= this.lastIndex() + 1, `append at ${at} leaves a gap after ${this.lastIndex()}`);
    assert(this.pendingSnapshot === null || at > this.pendingSnapshot.index, 'append behind a pending snapshot');
    if (at === this.offset + this.unstable.length) {
      for (const e of entries) this.unstable.push(e);
    } else if (at <= this.offset) {
      this.offset = at;
      this.unstable = [...entries];
    } else {
      this.unstable = this.unstable.slice(0, at - this.offset).concat(entries);
    }
    this.handedIndex = Math.min(this.handedIndex, at - 1);
  }

  /** Index of the first entry whose term differs from (or is missing in) the log; 0 if none. */
  findConflict(entries: readonly Entry[]): number {
    for (const e of entries) if (!this.matchTerm(e.index, e.term)) return e.index;
    return 0;
  }

  /**
   * The largest index <= `index` whose term is <= `term`, with that term (0, 0 when none):
   * where a log whose entry at `index` has `term` can possibly agree with this one.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (let i = index; i > 0; i--) {
      const ours = this.term(i);
      if (ours === undefined) return { index: i, term: 0 };
      if (ours <= term) return { index: i, term: ours };
    }
    return { index: 0, term: 0 };
  }

  commitTo(index: number): void {
    if (index <= this.committed) return;
    assert(index <= this.lastIndex(), `commit ${index} beyond last index ${this.lastIndex()}`);
    this.committed = index;
  }

  /** Replaces the whole log by a received snapshot (thesis §5.3 step 7: discard the log). */
  restore(snapshot: SnapshotMeta): void {
    assert(snapshot.index > this.committed, `restoring snapshot ${snapshot.index} at or below commit ${this.committed}`);
    this.committed = snapshot.index;
    this.offset = snapshot.index + 1;
    this.unstable = [];
    this.handedIndex = snapshot.index;
    this.pendingSnapshot = snapshot;
    this.snapshotHanded = false;
  }

  hasPendingSnapshot(): boolean {
    return this.pendingSnapshot !== null;
  }

  // --- handing writes to the host, and hearing back that they are durable ---

  unhandedEntries(): Entry[] {
    return this.handedIndex + 1 > this.lastIndex() ? [] : this.unstable.slice(this.handedIndex + 1 - this.offset);
  }

  unhandedSnapshot(): SnapshotMeta | null {
    return this.snapshotHanded ? null : this.pendingSnapshot;
  }

  markHanded(lastEntryIndex: number | null, snapshot: boolean): void {
    if (snapshot) this.snapshotHanded = true;
    if (lastEntryIndex !== null) this.handedIndex = Math.max(this.handedIndex, lastEntryIndex);
  }

  /**
   * The write that ended with entry (index, term) is durable. Ignored when the log no longer
   * holds that entry (a later write replaced it; that write's own acknowledgement covers it):
   * by the Log Matching property an equal (index, term) means an equal prefix.
   */
  stableTo(index: number, term: number): void {
    if (index < this.offset || this.term(index) !== term) return;
    this.unstable = this.unstable.slice(index + 1 - this.offset);
    this.offset = index + 1;
    this.handedIndex = Math.max(this.handedIndex, index);
  }

  stableSnapshotTo(index: number): void {
    if (this.pendingSnapshot?.index === index && this.snapshotHanded) this.pendingSnapshot = null;
  }

  /** Last index known durable locally (meaningless while a snapshot is pending). */
  durableLastIndex(): number {
    return this.offset - 1;
  }

  // --- applying ---

  /**
   * Committed entries not yet handed out for applying, limited to the locally durable prefix so
   * that the state machine (and any snapshot the host takes of it) never runs ahead of the
   * durable log.
   */
  nextCommittedEntries(maxBytes: number): Entry[] {
    if (this.pendingSnapshot !== null && !this.snapshotHanded) return [];
    const hi = Math.min(this.committed, this.offset - 1);
    if (this.applied + 1 > hi) return [];
    return this.entries(this.applied + 1, hi + 1, maxBytes);
  }

  hasNextCommittedEntries(): boolean {
    if (this.pendingSnapshot !== null && !this.snapshotHanded) return false;
    return this.applied < Math.min(this.committed, this.offset - 1);
  }

  appliedTo(index: number): void {
    assert(index <= this.committed, `applied ${index} beyond commit ${this.committed}`);
    if (index > this.applied) this.applied = index;
  }

  describe(): string {
    return `first=${this.firstIndex()} last=${this.lastIndex()} commit=${this.committed} applied=${this.applied} durable=${this.offset - 1}`;
  }
}
