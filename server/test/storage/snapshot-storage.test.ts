import { createHash } from 'node:crypto';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EMPTY_SNAPSHOT, type SnapshotChunk, type SnapshotMeta } from '@arbor/raft';
import type { SqliteStorage } from '../../src/io/storage/index.js';
import { snapshotFileName } from '../../src/io/storage/snapshot-files.js';
import {
  captureLogger,
  cleanUpTempDirs,
  closeAllStorages,
  ensureWorkerBuilt,
  nextTurn,
  openStorage,
  tempDir,
  testEntries,
} from './helpers.js';

beforeAll(ensureWorkerBuilt);
afterEach(async () => {
  await closeAllStorages();
  cleanUpTempDirs();
});

const MiB = 1024 * 1024;
const conf = { voters: [1, 2, 3], learners: [4] };

function* generated(totalBytes: number, chunkBytes: number, seed: number): Generator<Uint8Array> {
  for (let offset = 0; offset < totalBytes; offset += chunkBytes) {
    const chunk = new Uint8Array(Math.min(chunkBytes, totalBytes - offset));
    for (let i = 0; i < chunk.length; i++) chunk[i] = ((offset + i) * 2654435761 + seed) >>> 24;
    yield chunk;
  }
}

function sha256(chunks: Iterable<Uint8Array>): string {
  const hash = createHash('sha256');
  for (const chunk of chunks) hash.update(chunk);
  return hash.digest('hex');
}

async function sha256Async(chunks: AsyncIterable<Uint8Array>): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of chunks) hash.update(chunk);
  return hash.digest('hex');
}

/** Reads snapshot `index` the way the core does when sending it: readChunk after readChunk. */
function readAllChunks(storage: SqliteStorage, index: number, maxBytes: number): { sha256: string; reads: number } {
  const hash = createHash('sha256');
  let offset = 0;
  let reads = 0;
  for (;;) {
    const read = storage.snapshots.readChunk(index, offset, maxBytes);
    if (read === null) throw new Error(`snapshot ${index} not stored`);
    expect(read.data.length).toBeLessThanOrEqual(maxBytes);
    hash.update(read.data);
    offset += read.data.length;
    reads++;
    if (read.done) return { sha256: hash.digest('hex'), reads };
  }
}

function snapshotFiles(dir: string): string[] {
  return readdirSync(dir).filter((name) => name.startsWith('snapshot-'));
}

describe('snapshots the host takes', () => {
  it('saves a multi-MB snapshot as a stream, serves it in chunks and compacts the log behind it', async () => {
    const dir = tempDir();
    const storage = await openStorage(dir);
    expect(storage.snapshots.latest()).toEqual(EMPTY_SNAPSHOT);
    storage.log.append(testEntries(1, 100, 2));
    const meta: SnapshotMeta = { index: 90, term: 2, confState: conf };
    const total = 5 * MiB + 3;
    expect(await storage.saveSnapshot(meta, generated(total, 200_000, 1))).toBe(true);
    storage.log.compact(80);
    expect(storage.snapshots.latest()).toEqual(meta);
    expect(storage.latestSnapshot()).toMatchObject({ meta, fileName: snapshotFileName(90, 2), dataBytes: total });
    const sent = readAllChunks(storage, 90, MiB);
    expect(sent).toEqual({ sha256: sha256(generated(total, 200_000, 1)), reads: 6 });
    expect(await sha256Async(storage.readSnapshot(90, { chunkBytes: 512 * 1024 }))).toBe(sent.sha256);
    expect(storage.snapshots.readChunk(89, 0, 10)).toBeNull();
    await storage.close();

    const reopened = await openStorage(dir);
    expect([reopened.log.firstIndex(), reopened.log.term(80), reopened.snapshots.latest()]).toEqual([81, 2, meta]);
    expect(readAllChunks(reopened, 90, 3 * MiB).sha256).toBe(sent.sha256);
  });

  it('supersedes the older snapshot, which is no longer served or kept', async () => {
    const dir = tempDir();
    const storage = await openStorage(dir);
    storage.log.append(testEntries(1, 30, 1));
    await storage.saveSnapshot({ index: 10, term: 1, confState: conf }, generated(1000, 1000, 1));
    expect(storage.snapshots.readChunk(10, 0, 100)?.data).toHaveLength(100);
    await storage.saveSnapshot({ index: 20, term: 1, confState: conf }, generated(1000, 1000, 2));
    expect(storage.snapshots.latest().index).toBe(20);
    expect(storage.snapshots.readChunk(10, 100, 100)).toBeNull();
    expect(snapshotFiles(dir)).toEqual([snapshotFileName(20, 1)]);
    // Not newer than the latest: skipped, no file written.
    expect(await storage.saveSnapshot({ index: 15, term: 1, confState: conf }, generated(10, 10, 3))).toBe(false);
    expect(snapshotFiles(dir)).toEqual([snapshotFileName(20, 1)]);
  });

  it('keeps the previous snapshot readable when asked to, then prunes it', async () => {
    const dir = tempDir();
    const storage = await openStorage(dir, { previousSnapshotsKept: 1 });
    storage.log.append(testEntries(1, 30, 1));
    for (const index of [10, 20, 30]) await storage.saveSnapshot({ index, term: 1, confState: conf }, generated(100, 100, index));
    expect(storage.snapshots.readChunk(20, 0, 10)?.data).toHaveLength(10);
    expect(storage.snapshots.readChunk(10, 0, 10)).toBeNull();
    expect(snapshotFiles(dir).sort()).toEqual([snapshotFileName(20, 1), snapshotFileName(30, 1)]);
  });

  it('removes leftovers of interrupted snapshot writes at start-up', async () => {
    const dir = tempDir();
    const storage = await openStorage(dir);
    storage.log.append(testEntries(1, 10, 1));
    await storage.saveSnapshot({ index: 5, term: 1, confState: conf }, generated(10, 10, 1));
    await storage.close();
    const leftovers = [snapshotFileName(9, 1) + '.tmp', snapshotFileName(8, 1), 'snapshot-staging.part'];
    for (const name of leftovers) writeFileSync(join(dir, name), 'partial');
    const { logger, lines } = captureLogger();
    const reopened = await openStorage(dir, { logger });
    expect(snapshotFiles(dir)).toEqual([snapshotFileName(5, 1)]);
    expect(lines.find((line) => line.msg === 'removed stale snapshot files')?.files).toEqual(expect.arrayContaining(leftovers));
    expect(reopened.snapshots.latest().index).toBe(5);
  });
});

describe('snapshots received from the leader', () => {
  const meta: SnapshotMeta = { index: 500, term: 7, confState: conf };

  function chunksOf(data: Uint8Array[], snapshot: SnapshotMeta): SnapshotChunk[] {
    let offset = 0;
    return data.map((chunk, i) => {
      const staged = { snapshot, offset, data: chunk, done: i === data.length - 1 };
      offset += chunk.length;
      return staged;
    });
  }

  it('stages chunks over several Readys, installs the snapshot and resets the log after it', async () => {
    const dir = tempDir();
    const marks: number[] = [];
    const storage = await openStorage(dir, { onDurable: (mark) => marks.push(mark.seq) });
    storage.log.append(testEntries(1, 40, 3));
    const data = [...generated(3 * MiB, 700_000, 9)];
    const chunks = chunksOf(data, meta);
    // A transfer that was restarted: a stale partial staging first, then offset 0 again.
    storage.persist({
      snapshotChunks: [chunksOf([new Uint8Array(999)], meta)[0]!],
      snapshot: null,
      entries: [],
      hardState: null,
      persistMark: { seq: 1, lastIndex: 40, lastTerm: 3 },
    });
    await nextTurn();
    let seq = 1;
    for (const chunk of chunks.slice(0, -1)) {
      storage.persist({
        snapshotChunks: [chunk],
        snapshot: null,
        entries: [],
        hardState: null,
        persistMark: { seq: ++seq, lastIndex: 40, lastTerm: 3 },
      });
      await nextTurn();
    }
    storage.persist({
      snapshotChunks: [chunks.at(-1)!],
      snapshot: meta,
      entries: testEntries(501, 502, 7),
      hardState: { term: 7, vote: null, commit: 500 },
      persistMark: { seq: ++seq, lastIndex: 502, lastTerm: 7 },
    });
    // The log is reset at once (the core reads it); latest() moves once the install is durable.
    expect([storage.log.firstIndex(), storage.log.lastIndex(), storage.log.term(500)]).toEqual([501, 502, 7]);
    expect(storage.snapshots.latest().index).toBe(0);
    // What the host does next: restore its state machine from the snapshot (waits for the install).
    expect(await sha256Async(storage.readSnapshot(500))).toBe(sha256(data));
    expect(marks.at(-1)).toBe(seq);
    expect(storage.snapshots.latest()).toEqual(meta);
    expect(readAllChunks(storage, 500, MiB).sha256).toBe(sha256(data));
    expect(existsSync(join(dir, 'snapshot-staging.part'))).toBe(false);
    expect(snapshotFiles(dir)).toEqual([snapshotFileName(500, 7)]);
    await storage.close();

    const reopened = await openStorage(dir);
    expect([reopened.log.firstIndex(), reopened.log.lastIndex(), reopened.snapshots.latest()]).toEqual([501, 502, meta]);
    await reopened.verifySnapshot(500);
  });
});
