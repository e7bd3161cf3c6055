import { CompactedError, entryBytes, type Entry, type LogPosition, type LogStore } from '@arbor/raft';

/**
 * The main thread's copy of the un-compacted log: what the consensus core reads, synchronously,
 * while the same writes travel to the storage worker. It is updated the moment a write is queued
 * — before it is durable — which is safe because the core only reads entries it has handed out
 * itself and holds back every message that claims durability until onPersisted (Ready in
 * @arbor/raft). It checks every write against the LogStore contract, so a bad write throws here,
 * on the caller's stack, instead of failing later on the worker.
 */
export class LogMirror implements LogStore {
  private boundary: LogPosition;
  /** entries[i].index === boundary.index + 1 + i. */
  private entriesAfterBoundary: Entry[];

  constructor(boundary: LogPosition, entries: Entry[]) {
    entries.forEach((entry, i) => {
      if (entry.index !== boundary.index + 1 + i) {
        throw new RangeError(`log mirror: entry ${entry.index} at position ${i} after boundary ${boundary.index}`);
      }
    });
    this.boundary = boundary;
    this.entriesAfterBoundary = entries;
  }

  firstIndex(): number {
    return this.boundary.index + 1;
  }

  lastIndex(): number {
    return this.boundary.index + this.entriesAfterBoundary.length;
  }

  /** The position of the last compacted entry. */
  compactedThrough(): LogPosition {
    return this.boundary;
  }

  term(index: number): number | undefined {
    if (index === this.boundary.index) return this.boundary.term;
    return this.entriesAfterBoundary[index - this.boundary.index - 1]?.term;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo > hi) throw new RangeError(`entries(${lo}, ${hi}): lo > hi`);
    if (lo < this.firstIndex()) throw new CompactedError(lo, this.firstIndex());
    if (hi > this.lastIndex() + 1) throw new RangeError(`entries(${lo}, ${hi}): beyond the last index ${this.lastIndex()}`);
    const out: Entry[] = [];
    let bytes = 0;
    for (let index = lo; index < hi; index++) {
      const entry = this.entriesAfterBoundary[index - this.boundary.index - 1]!;
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
      throw new RangeError(`append at ${first.index}: the log holds ${this.firstIndex()}..${this.lastIndex()}`);
    }
    let previousTerm = this.term(first.index - 1)!;
    entries.forEach((entry, i) => {
      if (entry.index !== first.index + i) throw new RangeError(`append: entry ${entry.index} follows ${first.index + i - 1}`);
      if (entry.term < previousTerm) throw new RangeError(`append: entry ${entry.index} has term ${entry.term} below ${previousTerm}`);
      previousTerm = entry.term;
    });
    const keep = first.index - this.boundary.index - 1;
    if (keep < this.entriesAfterBoundary.length) this.entriesAfterBoundary.length = keep;
    for (const entry of entries) this.entriesAfterBoundary.push(entry);
  }

  compact(index: number): void {
    if (index < this.boundary.index) return;
    if (index > this.lastIndex()) throw new RangeError(`compact(${index}): beyond the last index ${this.lastIndex()}`);
    if (index === this.boundary.index) return;
    const term = this.term(index)!;
    this.entriesAfterBoundary = this.entriesAfterBoundary.slice(index - this.boundary.index);
    this.boundary = { index, term };
  }

  reset(boundary: LogPosition): void {
    this.boundary = { index: boundary.index, term: boundary.term };
    this.entriesAfterBoundary = [];
  }
}
