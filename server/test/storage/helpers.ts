// Shared by the storage tests. The storage worker runs from the compiled dist/ (a worker thread
// cannot load TypeScript), so every suite that starts one calls ensureWorkerBuilt() first: it
// runs `tsc -b server` once per test process, serialized across the parallel test processes by
// a lock directory, so the worker is always the code under test.

import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Entry, EntryType } from '@arbor/raft';
import { SqliteStorage, type SqliteStorageOptions } from '../../src/io/storage/index.js';
import type { Logger } from '../../src/io/logger.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const WORKER_URL = new URL('../../dist/io/storage/storage-worker.js', import.meta.url);
export const DIST_STORAGE_INDEX = fileURLToPath(new URL('../../dist/io/storage/index.js', import.meta.url));

/** Bounds every wait in these suites. */
export const TIMING = { buildMs: 120_000, lockPollMs: 100, childEventMs: 15_000 } as const;

let build: Promise<void> | null = null;

export function ensureWorkerBuilt(): Promise<void> {
  build ??= buildOnce();
  return build;
}

async function buildOnce(): Promise<void> {
  const lock = join(tmpdir(), 'arbor-server-build.lock');
  const deadline = Date.now() + TIMING.buildMs;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      // A lock older than the build budget was left by a killed test run.
      if (Date.now() - statSync(lock, { throwIfNoEntry: false })!.mtimeMs > TIMING.buildMs) rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`timed out waiting for the build lock ${lock}`);
      await new Promise((resolve) => setTimeout(resolve, TIMING.lockPollMs));
    }
  }
  try {
    await promisify(execFile)('npx', ['tsc', '-b', 'server'], { cwd: repoRoot, timeout: TIMING.buildMs });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`building the server for the storage worker failed:\n${stdout ?? ''}${stderr ?? ''}`);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** Temporary directories, removed by cleanUpTempDirs() (call it in afterEach/afterAll). */
const tempDirs: string[] = [];

export function tempDir(prefix = 'arbor-storage-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

export function cleanUpTempDirs(): void {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** A pino logger whose lines (parsed) the test can inspect. */
export function captureLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, sink), lines };
}

export type TestStorageOptions = Partial<Omit<SqliteStorageOptions, 'dir'>>;

/** Storages opened by openStorage; closeAllStorages() closes them (close() is idempotent). */
const opened: SqliteStorage[] = [];

export async function openStorage(dir: string, options: TestStorageOptions = {}): Promise<SqliteStorage> {
  const storage = await SqliteStorage.open({
    memberId: 1,
    clusterId: 'test-ensemble',
    logger: captureLogger().logger,
    workerUrl: WORKER_URL,
    ...options,
    dir,
  });
  opened.push(storage);
  return storage;
}

export async function closeAllStorages(): Promise<void> {
  await Promise.all(opened.splice(0).map((storage) => storage.close()));
}

/** An entry whose payload is derived from its index and term, so misplaced data is visible. */
export function testEntry(index: number, term: number, size = 16, type: EntryType = 'normal'): Entry {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (index * 131 + term * 17 + i) & 0xff;
  return { index, term, type, data };
}

export function testEntries(lo: number, hi: number, term: number, size = 16): Entry[] {
  const out: Entry[] = [];
  for (let index = lo; index <= hi; index++) out.push(testEntry(index, term, size));
  return out;
}

/** Resolves after the current turn of the event loop and its I/O callbacks. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
