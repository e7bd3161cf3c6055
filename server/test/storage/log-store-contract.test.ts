import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { describeLogStoreContract, describeStableStoreContract } from '@arbor/raft';
import type { SqliteStorage } from '../../src/io/storage/index.js';
import { loadHardState, loadLog } from '../../src/io/storage/recovery.js';
import { DATABASE_FILE_NAME } from '../../src/io/storage/schema.js';
import { cleanUpTempDirs, closeAllStorages, ensureWorkerBuilt, openStorage, tempDir } from './helpers.js';

// @arbor/raft's shared contract, run on the SQLite stores. The contract exercises what the core
// sees (the main-thread mirror); after each case this suite also waits for the writes to reach
// the database, closes it and checks that the rows on disk say exactly what the mirror said.

beforeAll(ensureWorkerBuilt);

const underTest: { dir: string; storage: SqliteStorage }[] = [];

async function fresh(): Promise<SqliteStorage> {
  const dir = tempDir();
  const storage = await openStorage(dir);
  underTest.push({ dir, storage });
  return storage;
}

afterEach(async () => {
  try {
    for (const { dir, storage } of underTest.splice(0)) {
      await storage.sync();
      const first = storage.log.firstIndex();
      const last = storage.log.lastIndex();
      const expected = {
        boundary: { index: first - 1, term: storage.log.term(first - 1) },
        entries: storage.log.entries(first, last + 1, Number.MAX_SAFE_INTEGER),
        hardState: storage.stable.loadHardState(),
      };
      await storage.close();
      const db = new Database(join(dir, DATABASE_FILE_NAME), { readonly: true });
      try {
        const onDisk = { ...loadLog(db), hardState: loadHardState(db) };
        expect(onDisk).toEqual(expected);
      } finally {
        db.close();
      }
    }
  } finally {
    await closeAllStorages();
    cleanUpTempDirs();
  }
});

describe('SqliteStorage.log: the LogStore contract', () => describeLogStoreContract({ it }, async () => (await fresh()).log));
describe('SqliteStorage.stable: the StableStore contract', () => describeStableStoreContract({ it }, async () => (await fresh()).stable));
