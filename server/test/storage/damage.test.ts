import Database from 'better-sqlite3';
import { closeSync, openSync, readdirSync, rmSync, truncateSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PersistMark } from '@arbor/raft';
import { DataDirError, StorageCorruptionError, StorageFatalError } from '../../src/io/storage/index.js';
import { DATABASE_FILE_NAME } from '../../src/io/storage/schema.js';
import { captureLogger, cleanUpTempDirs, closeAllStorages, ensureWorkerBuilt, openStorage, tempDir, testEntries } from './helpers.js';

beforeAll(ensureWorkerBuilt);
afterEach(async () => {
  await closeAllStorages();
  cleanUpTempDirs();
});

const conf = { voters: [1], learners: [] };

/** A closed data directory with entries 1..20 (terms 1 and 2), a hard state and a snapshot at 10. */
async function populated(): Promise<string> {
  const dir = tempDir();
  const storage = await openStorage(dir);
  storage.log.append([...testEntries(1, 12, 1), ...testEntries(13, 20, 2)]);
  storage.stable.saveHardState({ term: 2, vote: 1, commit: 18 });
  await storage.saveSnapshot({ index: 10, term: 1, confState: conf }, [new Uint8Array(5000).fill(3)]);
  await storage.close();
  return dir;
}

/** Edits the database with a second connection, as a disk fault or a careless operator would. */
function tamper(dir: string, edit: (db: Database.Database) => void): void {
  const db = new Database(join(dir, DATABASE_FILE_NAME));
  try {
    edit(db);
  } finally {
    db.close();
  }
}

async function openError(dir: string, options: Parameters<typeof openStorage>[1] = {}): Promise<Error> {
  try {
    await openStorage(dir, options);
  } catch (error) {
    return error as Error;
  }
  throw new Error('open succeeded on a data directory that should have been refused');
}

function snapshotFile(dir: string): string {
  return join(
    dir,
    readdirSync(dir).find((name) => name.endsWith('.snap'))!,
  );
}

describe('damage in the database is reported at start-up', () => {
  it('a flipped byte in an entry: which entry, and that its checksum fails', async () => {
    const dir = await populated();
    tamper(dir, (db) => {
      const { data } = db.prepare('SELECT data FROM log_entry WHERE log_index = 14').get() as { data: Buffer };
      data[3] = data[3]! ^ 0x01;
      db.prepare('UPDATE log_entry SET data = ? WHERE log_index = 14').run(data);
    });
    const error = await openError(dir);
    expect(error).toBeInstanceOf(StorageCorruptionError);
    expect(error).toMatchObject({ index: 14, location: 'log entry 14' });
    expect(error.message).toMatch(
      /^log entry 14: checksum mismatch \(stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8} over term 2, type normal, 16 data bytes\)$/,
    );
  });

  it('a changed term is caught by the checksum too', async () => {
    const dir = await populated();
    tamper(dir, (db) => db.prepare('UPDATE log_entry SET term = 3 WHERE log_index = 20').run());
    expect(await openError(dir)).toMatchObject({ name: 'StorageCorruptionError', index: 20 });
  });

  it('a missing entry: where the gap is', async () => {
    const dir = await populated();
    tamper(dir, (db) => db.prepare('DELETE FROM log_entry WHERE log_index = 16').run());
    const error = await openError(dir);
    expect(error).toBeInstanceOf(StorageCorruptionError);
    expect(error.message).toBe('log entry 17: expected entry 16 next: entries 16..16 are missing');
  });

  it('a damaged hard state', async () => {
    const dir = await populated();
    tamper(dir, (db) => db.prepare('UPDATE hard_state SET vote = 2').run());
    expect((await openError(dir)).message).toMatch(/^hard_state: checksum mismatch .*vote 2/);
  });

  it('a commit index beyond the log, written with a valid checksum, breaks an invariant', async () => {
    const dir = await populated();
    tamper(dir, (db) => db.prepare('DELETE FROM log_entry WHERE log_index >= 18').run());
    expect((await openError(dir)).message).toBe('hard_state: commit index 18 is beyond the last log index 17');
  });
});

describe('damage in snapshot files', () => {
  it('a truncated snapshot file refuses start-up', async () => {
    const dir = await populated();
    truncateSync(snapshotFile(dir), 4000);
    const error = await openError(dir);
    expect(error).toBeInstanceOf(StorageCorruptionError);
    expect(error.message).toMatch(/snapshot file .*snapshot-0000000000000010-1\.snap: no trailer at the end of the file \(truncated/);
  });

  it('a missing snapshot file refuses start-up', async () => {
    const dir = await populated();
    rmSync(snapshotFile(dir));
    expect((await openError(dir)).message).toMatch(/snapshot file .* cannot be opened: ENOENT/);
  });

  it('a flipped byte in snapshot data is caught when the snapshot is read', async () => {
    const dir = await populated();
    const path = snapshotFile(dir);
    const fd = openSync(path, 'r+');
    writeSync(fd, new Uint8Array([0xff]), 0, 1, 2500);
    closeSync(fd);
    const storage = await openStorage(dir); // the trailer is intact: start-up checks only that
    await expect(storage.verifySnapshot(10)).rejects.toThrow(/data checksum mismatch/);
    const reading = (async () => {
      for await (const chunk of storage.readSnapshot(10)) void chunk;
    })();
    await expect(reading).rejects.toBeInstanceOf(StorageCorruptionError);
  });
});

describe('a data directory that is not ours', () => {
  it('of another ensemble, another member or another format version', async () => {
    const dir = await populated();
    expect(await openError(dir, { clusterId: 'elsewhere' })).toMatchObject({
      name: 'DataDirError',
      message: `data directory ${dir} belongs to ensemble 'test-ensemble', not 'elsewhere'`,
    });
    expect((await openError(dir, { memberId: 2 })).message).toBe(`data directory ${dir} belongs to member 1, not 2`);
    tamper(dir, (db) => db.prepare(`UPDATE meta SET value = '99' WHERE key = 'format_version'`).run());
    expect((await openError(dir)).message).toBe(`data directory ${dir} has storage format 99; this build reads format 1`);
  });

  it('a foreign SQLite file', async () => {
    const dir = tempDir();
    tamper(dir, (db) => db.exec('CREATE TABLE accounts (id INTEGER)'));
    expect(await openError(dir)).toMatchObject({ name: 'DataDirError', message: expect.stringMatching(/is not an Arbor database/) });
  });

  it('in use by another open storage', async () => {
    const dir = tempDir();
    await openStorage(dir);
    const error = await openError(dir, { busyTimeoutMs: 100 });
    expect(error).toBeInstanceOf(DataDirError);
    expect(error.message).toBe(`data directory ${dir} is in use by another process (arbor.db is locked)`);
  });
});

describe('a storage worker that cannot start', () => {
  it('fails the open with the reason', async () => {
    const error = await openError(tempDir(), { workerUrl: new URL('./no-such-worker.js', import.meta.url) });
    expect(error).toBeInstanceOf(StorageFatalError);
    expect(error.message).toMatch(/^storage worker failed to start: Cannot find module .*no-such-worker\.js/);
  });
});

describe('a write that cannot be made durable', () => {
  it('is reported once as fatal; nothing after it is accepted or reported durable', async () => {
    const fatal: StorageFatalError[] = [];
    const durable: PersistMark[] = [];
    const { logger, lines } = captureLogger();
    const storage = await openStorage(tempDir(), { logger, onFatal: (e) => fatal.push(e), onDurable: (m) => durable.push(m) });
    storage.log.append(testEntries(1, 3, 1));
    await storage.sync();
    // A chunk that continues no staged snapshot: the worker refuses the batch.
    storage.persist({
      snapshotChunks: [{ snapshot: { index: 50, term: 3, confState: conf }, offset: 100, data: new Uint8Array(10), done: false }],
      snapshot: null,
      entries: testEntries(4, 5, 1),
      hardState: null,
      persistMark: { seq: 1, lastIndex: 5, lastTerm: 1 },
    });
    await expect(storage.sync()).rejects.toBeInstanceOf(StorageFatalError);
    expect(fatal).toHaveLength(1);
    expect(fatal[0]!.message).toBe(
      'storage write failed (batch 2: 1 stageChunk, 1 append): snapshot chunk at offset 100 of snapshot 50/3 does not continue the staged snapshot (none)',
    );
    expect(durable).toEqual([]);
    expect(() => storage.log.append(testEntries(6, 6, 1))).toThrow(StorageFatalError);
    expect(() => storage.stable.saveHardState({ term: 1, vote: null, commit: 0 })).toThrow(StorageFatalError);
    await expect(storage.sync()).rejects.toBeInstanceOf(StorageFatalError);
    expect(lines.some((line) => line.level === 50 && line.msg === 'storage failed; no further writes are accepted')).toBe(true);
    await storage.close();
  });
});
