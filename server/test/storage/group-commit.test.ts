import Database from 'better-sqlite3';
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { entryBytes, type PersistMark } from '@arbor/raft';
import type { BatchStats } from '../../src/io/storage/index.js';
import { LAZY_WRITE_DELAY_MS } from '../../src/io/storage/group-commit.js';
import { cleanUpTempDirs, closeAllStorages, ensureWorkerBuilt, nextTurn, openStorage, tempDir, testEntries, testEntry } from './helpers.js';

beforeAll(ensureWorkerBuilt);
afterEach(async () => {
  await closeAllStorages();
  cleanUpTempDirs();
});

function recorder(): {
  marks: PersistMark[];
  batches: BatchStats[];
  options: { onDurable: (m: PersistMark) => void; onBatch: (b: BatchStats) => void };
} {
  const marks: PersistMark[] = [];
  const batches: BatchStats[] = [];
  return { marks, batches, options: { onDurable: (m) => marks.push(m), onBatch: (b) => batches.push(b) } };
}

describe('group commit', () => {
  it('writes everything handed over in one turn in one transaction', async () => {
    const { marks, batches, options } = recorder();
    const storage = await openStorage(tempDir(), options);
    for (let i = 1; i <= 300; i++) {
      storage.persist({
        hardState: { term: 1, vote: 1, commit: i - 1 },
        snapshotChunks: [],
        snapshot: null,
        entries: [testEntry(i, 1, 100)],
        persistMark: { seq: i, lastIndex: i, lastTerm: 1 },
      });
    }
    expect(storage.stats().queuedOps).toBe(600);
    await storage.sync();
    expect(storage.stats().transactionsTotal).toBe(1);
    expect(batches).toHaveLength(1);
    expect(batches[0]).toMatchObject({ ops: 600, entries: 300, entryBytes: 300 * entryBytes(testEntry(1, 1, 100)), transactionsTotal: 1 });
    expect(batches[0]!.transactionMs).toBeGreaterThan(0);
    // One durability report, carrying the highest mark of the batch.
    expect(marks).toEqual([{ seq: 300, lastIndex: 300, lastTerm: 1 }]);
  });

  it('reports marks in order, each covering every earlier write, whatever the batching', async () => {
    const { marks, batches, options } = recorder();
    const storage = await openStorage(tempDir(), options);
    const turns = 40;
    let index = 0;
    for (let turn = 1; turn <= turns; turn++) {
      const entries = testEntries(index + 1, index + 1 + (turn % 5), 1);
      index += entries.length;
      storage.persist({
        hardState: null,
        snapshotChunks: [],
        snapshot: null,
        entries,
        persistMark: { seq: turn, lastIndex: index, lastTerm: 1 },
      });
      await nextTurn();
    }
    await storage.sync();
    // Fewer transactions than turns when a batch was in flight; never more.
    expect(batches.length).toBeLessThanOrEqual(turns);
    expect(storage.stats().transactionsTotal).toBe(batches.length);
    expect(batches.reduce((sum, b) => sum + b.entries, 0)).toBe(index);
    const seqs = marks.map((m) => m.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(marks.at(-1)).toEqual({ seq: turns, lastIndex: index, lastTerm: 1 });
    expect(batches.map((b) => b.mark?.seq)).toEqual(seqs);
  });

  it('accumulates writes made while a batch is in flight into the next batch', async () => {
    const { batches, options } = recorder();
    const storage = await openStorage(tempDir(), options);
    storage.log.append(testEntries(1, 1, 1));
    await nextTurn(); // batch 1 is handed to the worker
    // Several turns' writes while batch 1 is committing: they wait and go together.
    let sent = 1;
    while (batches.length === 0) {
      storage.log.append([testEntry(++sent, 1)]);
      await nextTurn();
    }
    await storage.sync();
    expect(batches[0]!.entries).toBe(1);
    expect(batches.slice(1).reduce((sum, b) => sum + b.entries, 0)).toBe(sent - 1);
    // The turns that ran during batch 1 (at least one) were not one transaction each.
    expect(batches.length).toBeLessThan(sent);
  });

  it('sync() resolves at once when nothing is queued, and after the writes when something is', async () => {
    const storage = await openStorage(tempDir());
    await storage.sync();
    storage.stable.saveHardState({ term: 4, vote: 2, commit: 0 });
    const before = storage.stats().batchesCommitted;
    await storage.sync();
    expect(storage.stats().batchesCommitted).toBe(before + 1);
  });

  it('writes a hard state that only moves the commit index with the next batch, never in one of its own', async () => {
    const { batches, options } = recorder();
    const dir = tempDir();
    const storage = await openStorage(dir, options);
    // What a crash now would leave: the database files as they are on disk, opened elsewhere.
    const onDisk = (): number => {
      const copy = tempDir();
      for (const file of ['arbor.db', 'arbor.db-wal']) if (existsSync(join(dir, file))) copyFileSync(join(dir, file), join(copy, file));
      const db = new Database(join(copy, 'arbor.db'));
      try {
        return (db.prepare('SELECT commit_index FROM hard_state WHERE id = 1').get() as { commit_index: number }).commit_index;
      } finally {
        db.close();
      }
    };
    const write = (index: number, commit: number, mark: boolean): void =>
      storage.persist({
        hardState: { term: 1, vote: 1, commit },
        snapshotChunks: [],
        snapshot: null,
        entries: mark ? [testEntry(index, 1)] : [],
        persistMark: mark ? { seq: index, lastIndex: index, lastTerm: 1 } : null,
      });
    write(1, 0, true);
    await storage.sync();
    const before = batches.length;
    // The commit moves (no persistMark): nothing is written for it alone, turn after turn.
    write(1, 1, false);
    for (let i = 0; i < 5; i++) await nextTurn();
    expect(batches.length).toBe(before);
    expect(onDisk()).toBe(0);
    // The next synced write carries it, in order, in the same transaction.
    write(2, 1, true);
    await storage.sync();
    expect(batches.length).toBe(before + 1);
    expect(batches.at(-1)).toMatchObject({ ops: 3, entries: 1 });
    expect(onDisk()).toBe(1);
    // Alone, sync() (and so close()) still makes it durable; the later of two replaces the first.
    write(2, 2, false);
    write(2, 2, false);
    await storage.sync();
    expect(batches.length).toBe(before + 2);
    expect(batches.at(-1)).toMatchObject({ ops: 1, entries: 0 });
    expect(onDisk()).toBe(2);
    // Left alone on an idle member, it goes by itself after LAZY_WRITE_DELAY_MS.
    write(2, 3, false);
    await new Promise((resolve) => setTimeout(resolve, LAZY_WRITE_DELAY_MS));
    // No sync() here (it would write it too): the batch comes by itself.
    for (let waited = 0; batches.length < before + 3 && waited < 5_000; waited += 20) await new Promise((r) => setTimeout(r, 20));
    expect(batches.length).toBe(before + 3);
    expect(onDisk()).toBe(3);
  });

  it('puts a lazy hard state into the batch being gathered, and keeps it behind the batch in flight', async () => {
    const { batches, marks, options } = recorder();
    const storage = await openStorage(tempDir(), options);
    storage.persist({
      hardState: { term: 1, vote: 1, commit: 0 },
      snapshotChunks: [],
      snapshot: null,
      entries: [testEntry(1, 1)],
      persistMark: { seq: 1, lastIndex: 1, lastTerm: 1 },
    });
    await nextTurn(); // batch 1 in flight
    storage.persist({ hardState: { term: 1, vote: 1, commit: 1 }, snapshotChunks: [], snapshot: null, entries: [], persistMark: null });
    await storage.sync();
    // Batch 1, then the deferred commit alone (sync asked for it): never ahead of batch 1.
    expect(batches.map((b) => b.ops)).toEqual([2, 1]);
    expect(marks).toEqual([{ seq: 1, lastIndex: 1, lastTerm: 1 }]);
    expect(storage.stable.loadHardState()).toEqual({ term: 1, vote: 1, commit: 1 });
  });

  it('keeps the event loop free while a large batch commits', async () => {
    const storage = await openStorage(tempDir());
    storage.log.append(testEntries(1, 200, 1, 64 * 1024)); // 12.5 MiB in one batch
    let turnsWhileCommitting = 0;
    let done = false;
    const durable = storage.sync().then(() => (done = true));
    while (!done) {
      await nextTurn();
      turnsWhileCommitting++;
    }
    await durable;
    expect(storage.stats().entryBytesWritten).toBeGreaterThan(200 * 64 * 1024);
    // The main thread kept running turns while the worker wrote and fsynced.
    expect(turnsWhileCommitting).toBeGreaterThan(1);
  });
});
