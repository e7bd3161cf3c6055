import { closeSync, fsyncSync, openSync, readdirSync, readSync, renameSync, unlinkSync, writeSync, fstatSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { SnapshotChunk, SnapshotMeta, SnapshotRead } from '@arbor/raft';
import { crc32 } from './crc32.js';
import { StorageCorruptionError } from './errors.js';

// Snapshot files live beside the database: `snapshot-<index>-<term>.snap`. A file is the
// snapshot's bytes followed by a fixed 32-byte trailer:
//
//   magic "ARBRSNAP" (8) | trailer version u32 | CRC-32 of the data u32 |
//   data length u64 | CRC-32 of the preceding 24 trailer bytes u32 | zero u32      (little endian)
//
// A trailer rather than a header, because a snapshot is written as a stream whose length is
// known only at the end. Every file is written under a temporary name, fsynced, renamed into
// place and the directory fsynced, so a crash leaves either no file or a complete one; a file
// that fails its trailer or its checksum has been damaged since, and is reported, never used.

export const SNAPSHOT_TRAILER_BYTES = 32;
const TRAILER_MAGIC = new TextEncoder().encode('ARBRSNAP');
const TRAILER_VERSION = 1;
const STAGING_FILE_NAME = 'snapshot-staging.part';
const TEMP_SUFFIX = '.tmp';
const SNAPSHOT_NAME = /^snapshot-(\d{16})-(\d+)\.snap$/;

/** Default size of the chunks readSnapshotFile yields. */
export const SNAPSHOT_READ_CHUNK_BYTES_DEFAULT = 1024 * 1024;

/** What a complete snapshot file holds, as recorded in the database and in its trailer. */
export interface SnapshotFileInfo {
  readonly fileName: string;
  readonly dataBytes: number;
  readonly dataChecksum: number;
}

export function snapshotFileName(index: number, term: number): string {
  return `snapshot-${String(index).padStart(16, '0')}-${term}.snap`;
}

export function parseSnapshotFileName(name: string): { index: number; term: number } | null {
  const match = SNAPSHOT_NAME.exec(name);
  return match === null ? null : { index: Number(match[1]), term: Number(match[2]) };
}

function encodeTrailer(dataBytes: number, dataChecksum: number): Uint8Array {
  const trailer = new Uint8Array(SNAPSHOT_TRAILER_BYTES);
  const view = new DataView(trailer.buffer);
  trailer.set(TRAILER_MAGIC, 0);
  view.setUint32(8, TRAILER_VERSION, true);
  view.setUint32(12, dataChecksum, true);
  view.setUint32(16, dataBytes % 0x1_0000_0000, true);
  view.setUint32(20, Math.floor(dataBytes / 0x1_0000_0000), true);
  view.setUint32(24, crc32(trailer.subarray(0, 24)), true);
  return trailer;
}

/** Checks a trailer read from the end of `path`, whose total size is `fileBytes`. */
function decodeTrailer(trailer: Uint8Array, path: string, fileBytes: number): { dataBytes: number; dataChecksum: number } {
  const damaged = (what: string): StorageCorruptionError => new StorageCorruptionError(`snapshot file ${path}: ${what}`, path);
  if (fileBytes < SNAPSHOT_TRAILER_BYTES)
    throw damaged(`${fileBytes} bytes is shorter than the ${SNAPSHOT_TRAILER_BYTES}-byte trailer (truncated)`);
  if (!TRAILER_MAGIC.every((byte, i) => trailer[i] === byte)) throw damaged('no trailer at the end of the file (truncated or overwritten)');
  const view = new DataView(trailer.buffer, trailer.byteOffset, trailer.byteLength);
  if (view.getUint32(24, true) !== crc32(trailer.subarray(0, 24))) throw damaged('trailer checksum mismatch (the trailer is damaged)');
  const version = view.getUint32(8, true);
  if (version !== TRAILER_VERSION) throw damaged(`trailer version ${version}; this build reads version ${TRAILER_VERSION}`);
  const dataBytes = view.getUint32(16, true) + view.getUint32(20, true) * 0x1_0000_0000;
  if (dataBytes + SNAPSHOT_TRAILER_BYTES !== fileBytes) {
    throw damaged(`trailer says ${dataBytes} data bytes but the file holds ${fileBytes - SNAPSHOT_TRAILER_BYTES} (truncated or extended)`);
  }
  return { dataBytes, dataChecksum: view.getUint32(12, true) };
}

function checkExpected(path: string, found: { dataBytes: number; dataChecksum: number }, expected: SnapshotFileInfo | undefined): void {
  if (expected === undefined) return;
  if (found.dataBytes !== expected.dataBytes || found.dataChecksum !== expected.dataChecksum) {
    throw new StorageCorruptionError(
      `snapshot file ${path}: trailer records ${found.dataBytes} bytes / crc ${hex(found.dataChecksum)} but the database records ` +
        `${expected.dataBytes} bytes / crc ${hex(expected.dataChecksum)}`,
      path,
    );
  }
}

export function hex(value: number): string {
  return `0x${value.toString(16).padStart(8, '0')}`;
}

export function fsyncDirectorySync(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function writeAllSync(fd: number, bytes: Uint8Array): void {
  for (let written = 0; written < bytes.length;) written += writeSync(fd, bytes, written, bytes.length - written);
}

/**
 * Writes a complete snapshot file from a stream of chunks without holding it in one buffer:
 * temporary file, trailer, fsync, rename, directory fsync. Runs on the libuv thread pool, so the
 * event loop keeps serving while a large snapshot is written. On failure the temporary file is
 * removed and the error rethrown; no file named `fileName` is left half written.
 */
export async function writeSnapshotFile(
  dir: string,
  fileName: string,
  chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
): Promise<SnapshotFileInfo> {
  const tempPath = join(dir, fileName + TEMP_SUFFIX);
  const handle = await open(tempPath, 'w');
  let closed = false;
  try {
    let dataBytes = 0;
    let dataChecksum = 0;
    for await (const chunk of chunks) {
      dataChecksum = crc32(chunk, dataChecksum);
      dataBytes += chunk.length;
      for (let written = 0; written < chunk.length;) {
        written += (await handle.write(chunk, written, chunk.length - written)).bytesWritten;
      }
    }
    await handle.write(encodeTrailer(dataBytes, dataChecksum));
    await handle.sync();
    closed = true;
    await handle.close();
    await rename(tempPath, join(dir, fileName));
    await fsyncDirectory(dir);
    return { fileName, dataBytes, dataChecksum };
  } catch (error) {
    if (!closed) await handle.close().catch(() => undefined);
    await unlink(tempPath).catch(() => undefined);
    throw error;
  }
}

/** Reads and checks the trailer of a snapshot file (not its data). Synchronous: start-up only. */
export function readSnapshotTrailerSync(path: string, expected?: SnapshotFileInfo): { dataBytes: number; dataChecksum: number } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    throw new StorageCorruptionError(`snapshot file ${path} cannot be opened: ${(error as Error).message}`, path);
  }
  try {
    const fileBytes = fstatSync(fd).size;
    const trailer = new Uint8Array(SNAPSHOT_TRAILER_BYTES);
    if (fileBytes >= SNAPSHOT_TRAILER_BYTES) readSync(fd, trailer, 0, SNAPSHOT_TRAILER_BYTES, fileBytes - SNAPSHOT_TRAILER_BYTES);
    const found = decodeTrailer(trailer, path, fileBytes);
    checkExpected(path, found, expected);
    return found;
  } finally {
    closeSync(fd);
  }
}

export interface ReadSnapshotOptions {
  /** Largest chunk yielded (default SNAPSHOT_READ_CHUNK_BYTES_DEFAULT). */
  readonly chunkBytes?: number;
  /** What the database records for this file; a trailer that disagrees is reported as damage. */
  readonly expected?: SnapshotFileInfo;
}

/**
 * Streams the data of a snapshot file in chunks of at most `chunkBytes`, each a fresh buffer the
 * consumer may keep. The trailer is checked before the first chunk; the data checksum is checked
 * as the stream goes, and on a mismatch the generator throws StorageCorruptionError instead of
 * yielding the last chunk. So a consumer that restores as it reads sees every chunk but the last
 * before it learns of the damage, and must discard whatever it built when the iteration throws.
 * A consumer that cannot discard calls verifySnapshotFile first.
 */
export async function* readSnapshotFile(path: string, options: ReadSnapshotOptions = {}): AsyncGenerator<Uint8Array, void, undefined> {
  const chunkBytes = options.chunkBytes ?? SNAPSHOT_READ_CHUNK_BYTES_DEFAULT;
  if (!(chunkBytes > 0)) throw new RangeError(`chunkBytes must be positive, got ${chunkBytes}`);
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw new StorageCorruptionError(`snapshot file ${path} cannot be opened: ${(error as Error).message}`, path);
  }
  try {
    const fileBytes = (await handle.stat()).size;
    const trailer = new Uint8Array(SNAPSHOT_TRAILER_BYTES);
    if (fileBytes >= SNAPSHOT_TRAILER_BYTES) await handle.read(trailer, 0, SNAPSHOT_TRAILER_BYTES, fileBytes - SNAPSHOT_TRAILER_BYTES);
    const { dataBytes, dataChecksum } = decodeTrailer(trailer, path, fileBytes);
    checkExpected(path, { dataBytes, dataChecksum }, options.expected);
    let checksum = 0;
    for (let offset = 0; offset < dataBytes;) {
      const chunk = new Uint8Array(Math.min(chunkBytes, dataBytes - offset));
      for (let filled = 0; filled < chunk.length;) {
        const { bytesRead } = await handle.read(chunk, filled, chunk.length - filled, offset + filled);
        if (bytesRead === 0)
          throw new StorageCorruptionError(`snapshot file ${path}: ended at byte ${offset + filled} while reading`, path);
        filled += bytesRead;
      }
      checksum = crc32(chunk, checksum);
      offset += chunk.length;
      if (offset === dataBytes && checksum !== dataChecksum) {
        throw new StorageCorruptionError(
          `snapshot file ${path}: data checksum mismatch (trailer ${hex(dataChecksum)}, data ${hex(checksum)}): the data is damaged`,
          path,
        );
      }
      yield chunk;
    }
  } finally {
    await handle.close();
  }
}

/** Reads a whole snapshot file once and throws StorageCorruptionError unless it is intact. */
export async function verifySnapshotFile(path: string, expected?: SnapshotFileInfo): Promise<void> {
  for await (const chunk of readSnapshotFile(path, expected === undefined ? {} : { expected })) void chunk;
}

/**
 * Serves SnapshotSource.readChunk from one snapshot file: synchronous positional reads of at most
 * the requested size (the core reads one chunk per message it sends, so each read is bounded).
 * A transfer that reads the file sequentially from offset 0 also has its checksum checked; on a
 * mismatch the last read throws StorageCorruptionError instead of handing damaged bytes on.
 */
export class SnapshotChunkReader {
  private fd: number | null = null;
  private sequentialOffset = -1;
  private sequentialChecksum = 0;

  constructor(
    readonly path: string,
    readonly info: SnapshotFileInfo,
  ) {}

  read(offset: number, maxBytes: number): SnapshotRead {
    const { dataBytes } = this.info;
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > dataBytes) {
      throw new RangeError(`snapshot offset ${offset} is outside 0..${dataBytes}`);
    }
    this.fd ??= openSync(this.path, 'r');
    // At least one byte per read, as SnapshotSource.readChunk promises, whatever maxBytes says.
    const data = new Uint8Array(Math.min(Math.max(1, maxBytes), dataBytes - offset));
    for (let filled = 0; filled < data.length;) {
      const bytesRead = readSync(this.fd, data, filled, data.length - filled, offset + filled);
      if (bytesRead === 0) throw new StorageCorruptionError(`snapshot file ${this.path}: ended at byte ${offset + filled}`, this.path);
      filled += bytesRead;
    }
    this.trackChecksum(offset, data);
    return { data, done: offset + data.length === dataBytes };
  }

  private trackChecksum(offset: number, data: Uint8Array): void {
    if (offset === 0) {
      this.sequentialOffset = 0;
      this.sequentialChecksum = 0;
    }
    if (offset !== this.sequentialOffset) {
      this.sequentialOffset = -1;
      return;
    }
    this.sequentialChecksum = crc32(data, this.sequentialChecksum);
    this.sequentialOffset += data.length;
    if (this.sequentialOffset === this.info.dataBytes && this.sequentialChecksum !== this.info.dataChecksum) {
      this.sequentialOffset = -1;
      throw new StorageCorruptionError(
        `snapshot file ${this.path}: data checksum mismatch while sending (expected ${hex(this.info.dataChecksum)}, ` +
          `read ${hex(this.sequentialChecksum)})`,
        this.path,
      );
    }
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

/**
 * The staging file for a snapshot arriving from the leader in chunks (Ready.snapshotChunks).
 * Synchronous: it runs on the storage worker, in the order of the other writes. Staging does not
 * survive a restart (the leader resends from offset 0), so start-up removes any leftover.
 */
export class SnapshotStaging {
  private fd: number | null = null;
  private meta: SnapshotMeta | null = null;
  private stagedBytes = 0;
  private checksum = 0;
  private complete = false;
  private unsynced = false;

  constructor(private readonly dir: string) {}

  /** Appends one chunk; offset 0 discards any partial staging first. */
  write(chunk: SnapshotChunk): void {
    if (chunk.offset === 0) this.startNew(chunk.snapshot);
    const meta = this.meta;
    if (this.fd === null || meta === null || meta.index !== chunk.snapshot.index || meta.term !== chunk.snapshot.term) {
      throw new Error(
        `snapshot chunk at offset ${chunk.offset} of snapshot ${chunk.snapshot.index}/${chunk.snapshot.term} ` +
          `does not continue the staged snapshot ${meta === null ? '(none)' : `${meta.index}/${meta.term}`}`,
      );
    }
    if (chunk.offset !== this.stagedBytes || this.complete) {
      throw new Error(
        `snapshot chunk at offset ${chunk.offset} of snapshot ${meta.index} out of order: ${this.stagedBytes} bytes staged` +
          (this.complete ? ' and complete' : ''),
      );
    }
    writeAllSync(this.fd, chunk.data);
    this.checksum = crc32(chunk.data, this.checksum);
    this.stagedBytes += chunk.data.length;
    this.complete = chunk.done;
    this.unsynced = true;
  }

  /** Makes every chunk written so far durable. */
  sync(): void {
    if (this.fd !== null && this.unsynced) fsyncSync(this.fd);
    this.unsynced = false;
  }

  /**
   * Seals the fully staged snapshot `meta` as a snapshot file (trailer, fsync, rename, directory
   * fsync) and returns what the database must record.
   */
  finalize(meta: SnapshotMeta): SnapshotFileInfo {
    const staged = this.meta;
    if (this.fd === null || staged === null || staged.index !== meta.index || staged.term !== meta.term || !this.complete) {
      throw new Error(
        `cannot install snapshot ${meta.index}/${meta.term}: staged ` +
          (staged === null
            ? 'nothing'
            : `${this.stagedBytes} bytes of ${staged.index}/${staged.term}${this.complete ? '' : ', incomplete'}`),
      );
    }
    writeAllSync(this.fd, encodeTrailer(this.stagedBytes, this.checksum));
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = null;
    const info: SnapshotFileInfo = {
      fileName: snapshotFileName(meta.index, meta.term),
      dataBytes: this.stagedBytes,
      dataChecksum: this.checksum,
    };
    renameSync(join(this.dir, STAGING_FILE_NAME), join(this.dir, info.fileName));
    fsyncDirectorySync(this.dir);
    this.meta = null;
    return info;
  }

  /** Closes and removes any staging file. */
  discard(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    this.meta = null;
    unlinkIfExists(join(this.dir, STAGING_FILE_NAME));
  }

  private startNew(meta: SnapshotMeta): void {
    this.discard();
    this.fd = openSync(join(this.dir, STAGING_FILE_NAME), 'w');
    this.meta = meta;
    this.stagedBytes = 0;
    this.checksum = 0;
    this.complete = false;
  }
}

function unlinkIfExists(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

export function removeSnapshotFiles(dir: string, fileNames: readonly string[]): void {
  for (const fileName of fileNames) unlinkIfExists(join(dir, fileName));
}

/** Snapshot files in `dir`, newest (highest index) first. */
export function listSnapshotFiles(dir: string): { fileName: string; index: number; term: number }[] {
  const found = [];
  for (const fileName of readdirSync(dir)) {
    const parsed = parseSnapshotFileName(fileName);
    if (parsed !== null) found.push({ fileName, ...parsed });
  }
  return found.sort((a, b) => b.index - a.index || b.term - a.term);
}

/**
 * Deletes snapshot files older than `latest`, keeping `previousKept` of them (so a transfer of
 * the previous snapshot in flight can finish). Files newer than `latest` are left alone: one may
 * be a snapshot being saved right now whose record has not reached the database yet.
 */
export function pruneSnapshotFiles(dir: string, latest: { index: number; fileName: string }, previousKept: number): string[] {
  const older = listSnapshotFiles(dir).filter((file) => file.index < latest.index && file.fileName !== latest.fileName);
  const removed = older.slice(previousKept).map((file) => file.fileName);
  removeSnapshotFiles(dir, removed);
  return removed;
}

/**
 * Start-up cleanup: removes the staging file, temporary files and every snapshot file except
 * `keepFileName` (the one the database records; null when it records none). Returns what it
 * removed, for the log.
 */
export function removeStaleSnapshotFiles(dir: string, keepFileName: string | null): string[] {
  const removed: string[] = [];
  for (const fileName of readdirSync(dir)) {
    const stale =
      fileName === STAGING_FILE_NAME ||
      (fileName.startsWith('snapshot-') && fileName.endsWith(TEMP_SUFFIX)) ||
      (parseSnapshotFileName(fileName) !== null && fileName !== keepFileName);
    if (stale) {
      unlinkIfExists(join(dir, fileName));
      removed.push(fileName);
    }
  }
  if (removed.length > 0) fsyncDirectorySync(dir);
  return removed;
}
