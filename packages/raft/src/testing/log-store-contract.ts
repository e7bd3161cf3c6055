// The behaviour every LogStore, StableStore and SnapshotStore must share (STYLE.md 4). Written
// against a minimal `it` so that it imports no test framework: the raft package runs it on the
// in-memory stores, and the server runs it on its SQLite stores:
//
//   describeLogStoreContract (exported by the package index)
//   describe('SqliteLogStore', () => describeLogStoreContract({ it }, () => openTempStore().log));

import { CompactedError, type LogStore, type SnapshotStore, type StableStore } from '../storage.js';
import { ENTRY_OVERHEAD_BYTES, entryBytes, type Entry, type EntryType } from '../types.js';

/** The one function the contract needs from a test framework (vitest's and node:test's `it` fit). */
export interface ContractHarness {
  it(name: string, body: () => void | Promise<void>): void;
}

/** A store factory; each case gets a fresh, empty store. */
export type StoreFactory<S> = () => S | Promise<S>;

class ContractFailure extends Error {
  override name = 'ContractFailure';
}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new ContractFailure(message);
}

function checkEqual<T>(actual: T, expected: T, what: string): void {
  const a = JSON.stringify(actual, bytesAsArray);
  const e = JSON.stringify(expected, bytesAsArray);
  check(a === e, `${what}: expected ${e}, got ${a}`);
}

function bytesAsArray(_key: string, value: unknown): unknown {
  return value instanceof Uint8Array ? Array.from(value) : value;
}

function checkThrows(body: () => unknown, kind: 'RangeError' | 'CompactedError', what: string): void {
  try {
    body();
  } catch (error) {
    const ok = kind === 'CompactedError' ? error instanceof CompactedError : error instanceof RangeError;
    check(ok, `${what}: expected ${kind}, got ${String(error)}`);
    return;
  }
  throw new ContractFailure(`${what}: expected ${kind}, nothing was thrown`);
}

/** An entry with a payload derived from its position, so mixed-up reads are visible. */
export function contractEntry(index: number, term: number, type: EntryType = 'normal', size = 3): Entry {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (index * 31 + term * 7 + i) & 0xff;
  return { index, term, type, data };
}

function run(lo: number, hi: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = lo; i <= hi; i++) out.push(contractEntry(i, term));
  return out;
}

const ALL = Number.MAX_SAFE_INTEGER;

export function describeLogStoreContract(t: ContractHarness, makeStore: StoreFactory<LogStore>): void {
  t.it('starts empty at index 0, term 0', async () => {
    const s = await makeStore();
    checkEqual([s.firstIndex(), s.lastIndex(), s.term(0), s.term(1)], [1, 0, 0, undefined], 'first/last/term');
    checkEqual(s.entries(1, 1, ALL), [], 'empty range');
  });

  t.it('appends and reads back entries, types and bytes intact', async () => {
    const s = await makeStore();
    const written = [contractEntry(1, 1, 'confChange'), contractEntry(2, 1, 'noop', 0), contractEntry(3, 2, 'normal', 100)];
    s.append(written);
    checkEqual([s.firstIndex(), s.lastIndex()], [1, 3], 'bounds');
    checkEqual([s.term(1), s.term(2), s.term(3), s.term(4)], [1, 1, 2, undefined], 'terms');
    checkEqual(s.entries(1, 4, ALL), written, 'entries');
    checkEqual(s.entries(2, 3, ALL), [written[1]], 'middle entry');
    s.append([]);
    checkEqual(s.lastIndex(), 3, 'empty append is a no-op');
  });

  t.it('discards the conflicting suffix on append', async () => {
    const s = await makeStore();
    s.append(run(1, 5, 1));
    s.append(run(3, 4, 2));
    checkEqual(s.lastIndex(), 4, 'last index after overwrite');
    checkEqual(s.entries(1, 5, ALL), [...run(1, 2, 1), ...run(3, 4, 2)], 'entries after overwrite');
    s.append(run(5, 6, 2));
    checkEqual(s.entries(4, 7, ALL), run(4, 6, 2), 'append after overwrite');
    s.append(run(1, 1, 3));
    checkEqual([s.lastIndex(), s.term(1)], [1, 3], 'overwrite from the first index');
  });

  t.it('rejects gaps and non-consecutive input', async () => {
    const s = await makeStore();
    s.append(run(1, 2, 1));
    checkThrows(() => s.append(run(4, 4, 1)), 'RangeError', 'gap after last');
    checkThrows(() => s.append([contractEntry(3, 1), contractEntry(5, 1)]), 'RangeError', 'non-consecutive');
    checkEqual(s.lastIndex(), 2, 'failed appends change nothing');
  });

  t.it('limits entries by bytes but returns at least one', async () => {
    const s = await makeStore();
    const written = [contractEntry(1, 1, 'normal', 10), contractEntry(2, 1, 'normal', 10), contractEntry(3, 1, 'normal', 10)];
    s.append(written);
    const one = 10 + ENTRY_OVERHEAD_BYTES;
    checkEqual(entryBytes(written[0] as Entry), one, 'entryBytes');
    checkEqual(s.entries(1, 4, 0).length, 1, 'maxBytes 0 still returns one entry');
    checkEqual(s.entries(1, 4, one).length, 1, 'exactly one entry');
    checkEqual(s.entries(1, 4, 2 * one - 1).length, 1, 'just under two entries');
    checkEqual(s.entries(1, 4, 2 * one).length, 2, 'exactly two entries');
    checkEqual(s.entries(1, 4, ALL).length, 3, 'all entries');
  });

  t.it('rejects reads outside the log', async () => {
    const s = await makeStore();
    s.append(run(1, 3, 1));
    checkThrows(() => s.entries(2, 5, ALL), 'RangeError', 'beyond last index');
    checkThrows(() => s.entries(3, 2, ALL), 'RangeError', 'lo > hi');
    checkThrows(() => s.entries(0, 2, ALL), 'CompactedError', 'before first index');
  });

  t.it('compacts behind a snapshot and keeps the boundary term', async () => {
    const s = await makeStore();
    s.append([...run(1, 3, 1), ...run(4, 6, 2)]);
    s.compact(4);
    checkEqual([s.firstIndex(), s.lastIndex()], [5, 6], 'bounds after compaction');
    checkEqual([s.term(3), s.term(4), s.term(5)], [undefined, 2, 2], 'terms after compaction');
    checkThrows(() => s.entries(4, 6, ALL), 'CompactedError', 'compacted read');
    checkEqual(s.entries(5, 7, ALL), run(5, 6, 2), 'remaining entries');
    s.compact(2);
    checkEqual(s.firstIndex(), 5, 'compacting below the boundary is a no-op');
    checkThrows(() => s.compact(7), 'RangeError', 'compacting beyond the last index');
    s.compact(6);
    checkEqual([s.firstIndex(), s.lastIndex(), s.term(6)], [7, 6, 2], 'compacted to the last index');
    s.append(run(7, 8, 3));
    checkEqual([s.lastIndex(), s.term(8)], [8, 3], 'append after full compaction');
  });

  t.it('never appends into the compacted prefix', async () => {
    const s = await makeStore();
    s.append(run(1, 5, 1));
    s.compact(3);
    checkThrows(() => s.append(run(3, 4, 2)), 'RangeError', 'append at the boundary');
    s.append(run(4, 4, 2));
    checkEqual([s.firstIndex(), s.lastIndex(), s.term(4)], [4, 4, 2], 'overwrite at the first index');
  });

  t.it('resets to a snapshot boundary', async () => {
    const s = await makeStore();
    s.append(run(1, 5, 1));
    s.reset({ index: 10, term: 4 });
    checkEqual([s.firstIndex(), s.lastIndex(), s.term(10), s.term(5), s.term(11)], [11, 10, 4, undefined, undefined], 'after reset');
    s.append(run(11, 12, 4));
    checkEqual(s.entries(11, 13, ALL), run(11, 12, 4), 'append after reset');
    s.reset({ index: 3, term: 1 });
    checkEqual([s.firstIndex(), s.lastIndex(), s.term(3)], [4, 3, 1], 'reset to a lower boundary');
  });
}

export function describeStableStoreContract(t: ContractHarness, makeStore: StoreFactory<StableStore>): void {
  t.it('starts with the empty hard state', async () => {
    const s = await makeStore();
    checkEqual(s.loadHardState(), { term: 0, vote: null, commit: 0 }, 'initial hard state');
  });

  t.it('returns the last saved hard state', async () => {
    const s = await makeStore();
    s.saveHardState({ term: 3, vote: 2, commit: 7 });
    checkEqual(s.loadHardState(), { term: 3, vote: 2, commit: 7 }, 'after save');
    s.saveHardState({ term: 4, vote: null, commit: 9 });
    checkEqual(s.loadHardState(), { term: 4, vote: null, commit: 9 }, 'null vote');
  });
}

function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (seed + i * 13) & 0xff;
  return out;
}

export function describeSnapshotStoreContract(t: ContractHarness, makeStore: StoreFactory<SnapshotStore>): void {
  const conf = { voters: [1, 2, 3], learners: [4] };

  t.it('starts with the empty snapshot', async () => {
    const s = await makeStore();
    checkEqual(s.latest(), { index: 0, term: 0, confState: { voters: [], learners: [] } }, 'latest');
  });

  t.it('reads a saved snapshot back in chunks', async () => {
    const s = await makeStore();
    const data = bytes(10, 1);
    s.save({ index: 5, term: 2, confState: conf }, data);
    checkEqual(s.latest(), { index: 5, term: 2, confState: conf }, 'latest');
    const first = s.readChunk(5, 0, 4);
    const second = s.readChunk(5, 4, 4);
    const last = s.readChunk(5, 8, 4);
    checkEqual([first?.data, first?.done], [data.subarray(0, 4), false], 'first chunk');
    checkEqual([second?.data, second?.done], [data.subarray(4, 8), false], 'second chunk');
    checkEqual([last?.data, last?.done], [data.subarray(8), true], 'last chunk');
    checkEqual(s.readChunk(4, 0, 4), null, 'unknown snapshot index');
  });

  t.it('supersedes an older snapshot', async () => {
    const s = await makeStore();
    s.save({ index: 5, term: 2, confState: conf }, bytes(3, 1));
    s.save({ index: 9, term: 3, confState: conf }, bytes(3, 2));
    checkEqual(s.latest().index, 9, 'newer snapshot is latest');
    checkEqual(s.readChunk(5, 0, 10), null, 'superseded snapshot is gone');
  });

  t.it('stages chunks and installs them', async () => {
    const s = await makeStore();
    const meta = { index: 20, term: 4, confState: conf };
    const data = bytes(7, 3);
    s.stage({ snapshot: meta, offset: 0, data: bytes(2, 9), done: false });
    s.stage({ snapshot: meta, offset: 0, data: data.subarray(0, 3), done: false });
    s.stage({ snapshot: meta, offset: 3, data: data.subarray(3), done: true });
    checkEqual(s.install(meta), data, 'installed bytes (offset 0 restarted staging)');
    checkEqual(s.latest(), meta, 'installed snapshot is latest');
    checkEqual(s.readChunk(20, 0, 100)?.data, data, 'installed snapshot readable');
  });
}
