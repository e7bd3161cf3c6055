import { createHash } from 'node:crypto';
import { existsSync, openSync, readdirSync, readSync, statSync, truncateSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { SnapshotMeta } from '@arbor/raft';
import { crc32, crc32Portable } from '../../src/io/storage/crc32.js';
import { StorageCorruptionError } from '../../src/io/storage/errors.js';
import {
  SNAPSHOT_TRAILER_BYTES,
  SnapshotChunkReader,
  SnapshotStaging,
  parseSnapshotFileName,
  readSnapshotFile,
  readSnapshotTrailerSync,
  snapshotFileName,
  verifySnapshotFile,
  writeSnapshotFile,
} from '../../src/io/storage/snapshot-files.js';
import { cleanUpTempDirs, tempDir } from './helpers.js';

afterEach(cleanUpTempDirs);

const MiB = 1024 * 1024;

/** A deterministic multi-MB snapshot produced chunk by chunk (never as one buffer). */
function* generated(totalBytes: number, chunkBytes: number, seed = 1): Generator<Uint8Array> {
  for (let offset = 0; offset < totalBytes; offset += chunkBytes) {
    const chunk = new Uint8Array(Math.min(chunkBytes, totalBytes - offset));
    for (let i = 0; i < chunk.length; i++) chunk[i] = ((offset + i) * 2654435761 + seed) >>> 24;
    yield chunk;
  }
}

function sha256Of(chunks: Iterable<Uint8Array>): string {
  const hash = createHash('sha256');
  for (const chunk of chunks) hash.update(chunk);
  return hash.digest('hex');
}

async function streamDigest(
  chunks: AsyncIterable<Uint8Array>,
  chunkBytesMax: number,
): Promise<{ sha256: string; bytes: number; chunks: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  let count = 0;
  for await (const chunk of chunks) {
    expect(chunk.length).toBeLessThanOrEqual(chunkBytesMax);
    hash.update(chunk);
    bytes += chunk.length;
    count++;
  }
  return { sha256: hash.digest('hex'), bytes, chunks: count };
}

function flipByte(path: string, position: number): void {
  const fd = openSync(path, 'r+');
  try {
    const one = new Uint8Array(1);
    readSync(fd, one, 0, 1, position);
    one[0] = one[0]! ^ 0x40;
    writeSync(fd, one, 0, 1, position);
  } finally {
    closeSync(fd);
  }
}

async function drain(chunks: AsyncIterable<Uint8Array>): Promise<number> {
  let n = 0;
  for await (const chunk of chunks) n += chunk.length;
  return n;
}

describe('crc32', () => {
  it('matches the standard check value and is incremental, natively and portably', () => {
    const text = new TextEncoder().encode('123456789');
    expect(crc32(text)).toBe(0xcbf43926);
    expect(crc32Portable(text)).toBe(0xcbf43926);
    expect(crc32(text.subarray(4), crc32(text.subarray(0, 4)))).toBe(0xcbf43926);
    const big = [...generated(100_000, 100_000)][0]!;
    expect(crc32Portable(big)).toBe(crc32(big));
  });
});

describe('snapshot files', () => {
  it('round-trips a multi-MB snapshot in bounded chunks', async () => {
    const dir = tempDir();
    const total = 6 * MiB + 12_345;
    const name = snapshotFileName(42, 3);
    const info = await writeSnapshotFile(dir, name, generated(total, 256 * 1024));
    expect(info).toMatchObject({ fileName: name, dataBytes: total });
    expect(statSync(join(dir, name)).size).toBe(total + SNAPSHOT_TRAILER_BYTES);
    expect(readdirSync(dir)).toEqual([name]); // no temporary file left behind
    const read = await streamDigest(readSnapshotFile(join(dir, name), { chunkBytes: MiB, expected: info }), MiB);
    expect(read).toEqual({ sha256: sha256Of(generated(total, 256 * 1024)), bytes: total, chunks: 7 });
    await verifySnapshotFile(join(dir, name), info);
    expect(parseSnapshotFileName(name)).toEqual({ index: 42, term: 3 });
  });

  it('writes from an async source and handles an empty snapshot', async () => {
    const dir = tempDir();
    async function* source(): AsyncGenerator<Uint8Array> {
      yield new Uint8Array([1, 2]);
      await Promise.resolve();
      yield new Uint8Array([3]);
    }
    const info = await writeSnapshotFile(dir, snapshotFileName(1, 1), source());
    expect(info.dataBytes).toBe(3);
    const empty = await writeSnapshotFile(dir, snapshotFileName(2, 1), []);
    expect(empty).toMatchObject({ dataBytes: 0, dataChecksum: 0 });
    expect(await drain(readSnapshotFile(join(dir, empty.fileName)))).toBe(0);
  });

  it('leaves no file when the source fails part way', async () => {
    const dir = tempDir();
    function* failing(): Generator<Uint8Array> {
      yield new Uint8Array(1000);
      throw new Error('tree serialization failed');
    }
    await expect(writeSnapshotFile(dir, snapshotFileName(5, 1), failing())).rejects.toThrow('tree serialization failed');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('reports a flipped data byte when the stream reaches the end, before the last chunk', async () => {
    const dir = tempDir();
    const info = await writeSnapshotFile(dir, snapshotFileName(7, 2), generated(3 * MiB, MiB));
    const path = join(dir, info.fileName);
    flipByte(path, MiB + 17);
    const seen: number[] = [];
    const reading = (async () => {
      for await (const chunk of readSnapshotFile(path, { chunkBytes: MiB })) seen.push(chunk.length);
    })();
    await expect(reading).rejects.toThrow(StorageCorruptionError);
    await expect(reading).rejects.toThrow(/data checksum mismatch.*the data is damaged/);
    expect(seen).toEqual([MiB, MiB]); // the damaged stream never delivers its last chunk
    await expect(verifySnapshotFile(path)).rejects.toThrow(/snapshot file .*snapshot-0000000000000007-2\.snap: data checksum mismatch/);
  });

  it('reports a truncated file and a damaged trailer before reading any data', async () => {
    const dir = tempDir();
    const info = await writeSnapshotFile(dir, snapshotFileName(8, 2), generated(100_000, 10_000));
    const path = join(dir, info.fileName);
    flipByte(path, 100_000 + 12); // inside the trailer's checksum field
    expect(() => readSnapshotTrailerSync(path)).toThrow(/trailer checksum mismatch/);
    await expect(drain(readSnapshotFile(path))).rejects.toThrow(/trailer checksum mismatch/);

    const other = await writeSnapshotFile(dir, snapshotFileName(9, 2), generated(100_000, 10_000));
    truncateSync(join(dir, other.fileName), 60_000);
    await expect(drain(readSnapshotFile(join(dir, other.fileName)))).rejects.toThrow(/no trailer at the end of the file \(truncated/);
    truncateSync(join(dir, other.fileName), 10);
    expect(() => readSnapshotTrailerSync(join(dir, other.fileName))).toThrow(/10 bytes is shorter than the 32-byte trailer/);
  });

  it('reports a file whose trailer disagrees with the database record', async () => {
    const dir = tempDir();
    const info = await writeSnapshotFile(dir, snapshotFileName(10, 2), generated(1000, 1000));
    const recorded = { ...info, dataChecksum: info.dataChecksum ^ 1 };
    expect(() => readSnapshotTrailerSync(join(dir, info.fileName), recorded)).toThrow(/but the database records/);
    await expect(drain(readSnapshotFile(join(dir, info.fileName), { expected: recorded }))).rejects.toThrow(StorageCorruptionError);
  });

  it('serves positional chunks synchronously and catches damage on a sequential transfer', async () => {
    const dir = tempDir();
    const info = await writeSnapshotFile(dir, snapshotFileName(11, 2), generated(10_000, 10_000));
    const expected = [...generated(10_000, 10_000)][0]!;
    const reader = new SnapshotChunkReader(join(dir, info.fileName), info);
    try {
      expect(reader.read(0, 4000)).toEqual({ data: expected.subarray(0, 4000), done: false });
      expect(reader.read(8000, 4000)).toEqual({ data: expected.subarray(8000), done: true });
      expect(reader.read(10_000, 4000)).toEqual({ data: new Uint8Array(0), done: true });
      expect(reader.read(5, 0).data).toHaveLength(1); // at least one byte
      expect(() => reader.read(10_001, 1)).toThrow(RangeError);
    } finally {
      reader.close();
    }
    flipByte(join(dir, info.fileName), 9000);
    const damaged = new SnapshotChunkReader(join(dir, info.fileName), info);
    try {
      expect(damaged.read(0, 4000).done).toBe(false);
      expect(damaged.read(4000, 4000).done).toBe(false);
      expect(() => damaged.read(8000, 4000)).toThrow(/data checksum mismatch while sending/);
    } finally {
      damaged.close();
    }
  });
});

describe('snapshot staging', () => {
  const meta: SnapshotMeta = { index: 20, term: 4, confState: { voters: [1], learners: [] } };

  it('stages chunks in order, restarts at offset 0 and seals a verifiable file', async () => {
    const dir = tempDir();
    const staging = new SnapshotStaging(dir);
    staging.write({ snapshot: meta, offset: 0, data: new Uint8Array([9, 9, 9]), done: false });
    staging.sync();
    const data = [...generated(3 * MiB, MiB)];
    data.forEach((chunk, i) => staging.write({ snapshot: meta, offset: i * MiB, data: chunk, done: i === data.length - 1 }));
    staging.sync();
    const info = staging.finalize(meta);
    expect(info).toEqual({
      fileName: snapshotFileName(20, 4),
      dataBytes: 3 * MiB,
      dataChecksum: data.reduce((crc, c) => crc32(c, crc), 0),
    });
    expect(readdirSync(dir)).toEqual([info.fileName]);
    const read = await streamDigest(readSnapshotFile(join(dir, info.fileName), { expected: info }), MiB);
    expect(read.sha256).toBe(sha256Of(data));
  });

  it('refuses chunks out of order, of another snapshot, and installing an incomplete one', () => {
    const dir = tempDir();
    const staging = new SnapshotStaging(dir);
    expect(() => staging.write({ snapshot: meta, offset: 5, data: new Uint8Array(1), done: false })).toThrow(
      /does not continue the staged snapshot \(none\)/,
    );
    staging.write({ snapshot: meta, offset: 0, data: new Uint8Array(10), done: false });
    expect(() => staging.write({ snapshot: meta, offset: 11, data: new Uint8Array(1), done: false })).toThrow(
      /out of order: 10 bytes staged/,
    );
    const other = { ...meta, index: 21 };
    expect(() => staging.write({ snapshot: other, offset: 10, data: new Uint8Array(1), done: false })).toThrow(/does not continue/);
    expect(() => staging.finalize(meta)).toThrow(/staged 10 bytes of 20\/4, incomplete/);
    staging.discard();
    expect(existsSync(join(dir, 'snapshot-staging.part'))).toBe(false);
  });
});
