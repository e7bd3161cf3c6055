import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { SnapshotMeta } from '@arbor/raft';
import { entryChecksum, rowChecksum } from '../../src/io/storage/checksums.js';
import { crc32, crc32Portable } from '../../src/io/storage/crc32.js';
import { boundaryRowChecksum, hardStateRowChecksum, rejoinGuardChecksum, snapshotRowChecksum } from '../../src/io/storage/schema.js';
import { SnapshotStaging, verifySnapshotFile, writeSnapshotFile } from '../../src/io/storage/snapshot-files.js';
import { cleanUpTempDirs, tempDir } from './helpers.js';

afterEach(cleanUpTempDirs);

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

/**
 * Zero-length buffers made every way the storage meets them. Native zlib.crc32 treats the ones
 * with no memory behind them (a zero-length ArrayBuffer: a structured clone, TextEncoder's empty
 * result, SQLite's empty blob) as "start over" and returns 0, not the running CRC.
 */
function empties(): [string, Uint8Array][] {
  const real = Buffer.from('hello world');
  return [
    ['new Uint8Array(0)', new Uint8Array(0)],
    ['Buffer.alloc(0)', Buffer.alloc(0)],
    ['Buffer.from("")', Buffer.from('')],
    ['subarray(0, 0) of a real buffer', real.subarray(0, 0)],
    ['an empty view at the end of a real buffer', new Uint8Array(8).subarray(8)],
    ['over a zero-length ArrayBuffer', new Uint8Array(new ArrayBuffer(0))],
    ['TextEncoder of ""', bytes('')],
    ['structured clone of an empty array', structuredClone(new Uint8Array(0))],
  ];
}

describe('crc32 of zero-length input', () => {
  it.each(empties())('%s: continues the running CRC unchanged, natively and portably', (_how, empty) => {
    const previous = crc32(bytes('abc'));
    expect(crc32Portable(empty, previous)).toBe(previous);
    expect(crc32(empty, previous)).toBe(previous);
    expect(crc32(empty)).toBe(0);
    expect(crc32Portable(empty)).toBe(0);
  });

  it.each(empties())('%s: in the middle of an incremental chain changes nothing', (_how, empty) => {
    const whole = crc32(bytes('123456789'));
    expect(whole).toBe(0xcbf43926);
    expect(crc32(bytes('6789'), crc32(empty, crc32(bytes('12345'))))).toBe(whole);
    expect(crc32Portable(bytes('6789'), crc32Portable(empty, crc32Portable(bytes('12345'))))).toBe(whole);
  });
});

describe('checksums on disk', () => {
  it('keep their values for the rows and entries the storage writes', () => {
    // Pinned from the format as written before the zero-length fix: none of these has an empty input.
    expect(hardStateRowChecksum(3, 1, 7)).toBe(2260962025);
    expect(hardStateRowChecksum(3, null, 7)).toBe(3341070311);
    expect(boundaryRowChecksum(10, 2)).toBe(3239773620);
    expect(rejoinGuardChecksum(3, 1)).toBe(782886100);
    expect(
      snapshotRowChecksum({
        index: 9,
        term: 2,
        confStateJson: '{"voters":[1,2,3]}',
        fileName: 'snap-9-2',
        dataBytes: 100,
        dataChecksum: 12345,
      }),
    ).toBe(4042073806);
    expect(entryChecksum(5, 2, 0, new Uint8Array([1, 2, 3]))).toBe(1654230018);
    // An entry without data keeps its rule: checksum 0.
    for (const [, empty] of empties()) expect(entryChecksum(5, 2, 1, empty)).toBe(0);
  });

  it('a row checksum covers the fields before an empty string', () => {
    expect(rowChecksum(['a', '', 1])).not.toBe(rowChecksum(['b', '', 1]));
    expect(rowChecksum(['a', '', 1])).not.toBe(rowChecksum(['a', '', 2]));
  });

  it('a snapshot file written with an empty chunk in the middle verifies', async () => {
    const dir = tempDir();
    const chunks = [bytes('first part, '), structuredClone(new Uint8Array(0)), new Uint8Array(new ArrayBuffer(0)), bytes('second part')];
    const info = await writeSnapshotFile(dir, 'snap-with-empty', chunks);
    expect(info.dataChecksum).toBe(crc32(bytes('first part, second part')));
    await verifySnapshotFile(join(dir, 'snap-with-empty'), info);
  });

  it('a staged snapshot whose last chunk is empty (as a structured clone hands it over) verifies', async () => {
    const meta: SnapshotMeta = { index: 20, term: 4, confState: { voters: [1], learners: [] } };
    const dir = tempDir();
    const staging = new SnapshotStaging(dir);
    const data = bytes('the whole snapshot');
    staging.write({ snapshot: meta, offset: 0, data, done: false });
    staging.write({ snapshot: meta, offset: data.length, data: structuredClone(new Uint8Array(0)), done: true });
    const info = staging.finalize(meta);
    expect(info.dataChecksum).toBe(crc32(data));
    await verifySnapshotFile(join(dir, info.fileName), info);
  });
});
