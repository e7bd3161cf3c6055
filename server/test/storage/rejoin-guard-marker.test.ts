// The durable side of the rejoin guard (RaftConfig.rejoinGuard): storage created empty carries a
// marker from its founding entries on, in the same transaction; a Ready that lifts the guard
// removes it with (never before) its own writes; a damaged marker is reported, not ignored.

import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_FILE_NAME, REJOIN_GUARD_KEY } from '../../src/io/storage/schema.js';
import { StorageCorruptionError, type ReadyWrites } from '../../src/io/storage/index.js';
import { cleanUpTempDirs, closeAllStorages, ensureWorkerBuilt, openStorage, tempDir, testEntries } from './helpers.js';

beforeAll(ensureWorkerBuilt);
afterEach(async () => {
  await closeAllStorages();
  cleanUpTempDirs();
});

const founding = { index: 3, term: 1 };

async function guardedDir(): Promise<string> {
  const dir = tempDir();
  const storage = await openStorage(dir);
  expect(storage.rejoinGuard).toBeNull();
  storage.startRejoinGuard(founding);
  storage.persist({
    hardState: { term: 1, vote: null, commit: 3 },
    snapshotChunks: [],
    snapshot: null,
    entries: testEntries(1, 3, 1),
    persistMark: null,
  });
  await storage.close();
  return dir;
}

/** A term-2 Ready that appends entries 4..`lastIndex` after the founding ones, lifting the guard or not. */
function readyAfterFounding(options: { vote: number | null; commit: number; lastIndex: number; liftsRejoinGuard: boolean }): ReadyWrites {
  const { vote, commit, lastIndex, liftsRejoinGuard } = options;
  return {
    hardState: { term: 2, vote, commit },
    snapshotChunks: [],
    snapshot: null,
    entries: testEntries(4, lastIndex, 2),
    persistMark: { seq: 1, lastIndex, lastTerm: 2 },
    liftsRejoinGuard,
  };
}

describe('the rejoin guard marker', () => {
  it('is absent from storage that never had it, and survives a reopen once started', async () => {
    const dir = await guardedDir();
    const reopened = await openStorage(dir);
    expect(reopened.rejoinGuard).toEqual(founding);
    expect(reopened.log.lastIndex()).toBe(3);
  });

  it('is removed by a Ready that lifts the guard, together with its writes', async () => {
    const dir = await guardedDir();
    const storage = await openStorage(dir);
    storage.persist(readyAfterFounding({ vote: 1, commit: 5, lastIndex: 5, liftsRejoinGuard: true }));
    await storage.close();
    const reopened = await openStorage(dir);
    expect(reopened.rejoinGuard).toBeNull();
    expect([reopened.log.lastIndex(), reopened.log.term(5)]).toEqual([5, 2]);
  });

  it('stays while Readies do not lift it', async () => {
    const dir = await guardedDir();
    const storage = await openStorage(dir);
    storage.persist(readyAfterFounding({ vote: null, commit: 3, lastIndex: 9, liftsRejoinGuard: false }));
    await storage.close();
    expect((await openStorage(dir)).rejoinGuard).toEqual(founding);
  });

  it('reports a damaged marker as corruption', async () => {
    const dir = await guardedDir();
    const db = new Database(join(dir, DATABASE_FILE_NAME));
    const value = JSON.parse(db.prepare('SELECT value FROM meta WHERE key = ?').pluck().get(REJOIN_GUARD_KEY) as string) as {
      index: number;
    };
    value.index = 1;
    db.prepare('UPDATE meta SET value = ? WHERE key = ?').run(JSON.stringify(value), REJOIN_GUARD_KEY);
    db.close();
    await expect(openStorage(dir)).rejects.toBeInstanceOf(StorageCorruptionError);
    await expect(openStorage(dir)).rejects.toThrow(/meta rejoin_guard: damaged value/);
  });
});
