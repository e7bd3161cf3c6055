import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { entryBytes, type PersistMark } from '@arbor/raft';
import type { BatchStats } from '../../src/io/storage/index.js';
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
