import { describe, expect, it } from 'vitest';
import { decodeBatch, encodeBatch } from '../../src/io/storage/batch-codec.js';
import { entryChecksum } from '../../src/io/storage/checksums.js';
import type { WriteOp } from '../../src/io/storage/worker-protocol.js';
import { testEntry } from './helpers.js';

const meta = { index: 40, term: 3, confState: { voters: [1, 2, 3], learners: [4] } };

/** Every kind of write, with the awkward values each field can take. */
const everyKind: WriteOp[] = [
  { kind: 'append', entries: [testEntry(1, 1, 0), testEntry(2, 1, 200), testEntry(3, 2, 5, 'noop'), testEntry(4, 2, 9, 'confChange')] },
  { kind: 'hardState', state: { term: 2, vote: null, commit: 0 } },
  { kind: 'hardState', state: { term: 2 ** 40, vote: 3, commit: Number.MAX_SAFE_INTEGER } },
  { kind: 'compact', boundary: { index: 2, term: 1 } },
  { kind: 'resetLog', boundary: { index: 40, term: 3 } },
  { kind: 'stageChunk', chunk: { snapshot: meta, offset: 0, data: new Uint8Array([1, 2, 3]), done: false } },
  { kind: 'stageChunk', chunk: { snapshot: meta, offset: 3, data: new Uint8Array(0), done: true } },
  { kind: 'installStaged', meta },
  {
    kind: 'recordSnapshot',
    snapshot: { meta, fileName: 'snapshot-0000000000000040-3.snap', dataBytes: 3, dataChecksum: 0xfedcba98 },
  },
  { kind: 'append', entries: [] },
];

/** Plain values with Uint8Array data, for comparing what went in with what came out. */
function plain(ops: readonly WriteOp[]): unknown {
  return JSON.parse(JSON.stringify(ops, (_key, value: unknown) => (value instanceof Uint8Array ? [...value] : value)));
}

describe('batch codec', () => {
  it('decodes every kind of write as it was encoded, in order', () => {
    expect(plain(decodeBatch(encodeBatch(everyKind)))).toEqual(plain(everyKind));
  });

  it('copies only the bytes of a view into a larger buffer, into a buffer of its own', () => {
    const frame = new Uint8Array(1 << 16).fill(9);
    const data = frame.subarray(100, 110);
    data.set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const bytes = encodeBatch([{ kind: 'append', entries: [{ index: 7, term: 1, type: 'normal', data }] }]);
    // The whole buffer is the batch: transferring it hands over nothing else.
    expect(bytes.byteOffset).toBe(0);
    expect(bytes.buffer.byteLength).toBe(bytes.length);
    expect(bytes.length).toBeLessThan(64);
    const [op] = decodeBatch(bytes);
    expect(op).toMatchObject({ kind: 'append', entries: [{ index: 7, term: 1, type: 'normal' }] });
    expect([...(op as Extract<WriteOp, { kind: 'append' }>).entries[0]!.data]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('encodes nothing as an empty batch', () => {
    expect(encodeBatch([]).length).toBe(0);
    expect(decodeBatch(new Uint8Array(0))).toEqual([]);
  });

  it('refuses a batch cut short at any offset or with an unknown tag', () => {
    const bytes = encodeBatch(everyKind);
    let refused = 0;
    for (let cut = 1; cut < bytes.length; cut++) {
      // A cut that happens to fall between two records decodes as the records before it.
      try {
        const ops = decodeBatch(bytes.subarray(0, cut));
        expect(plain(ops)).toEqual(plain(everyKind.slice(0, ops.length)));
      } catch (error) {
        expect(String(error)).toMatch(/storage batch|JSON|encoded data/);
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(bytes.length / 2);
    expect(() => decodeBatch(new Uint8Array([0xee]))).toThrow(/unknown op tag 238/);
  });

  it('gives an empty entry decoded as a view into the batch the checksum that empty entries have on disk', () => {
    const [op] = decodeBatch(encodeBatch([{ kind: 'append', entries: [testEntry(5, 2, 0, 'noop'), testEntry(6, 2, 3)] }]));
    const empty = (op as Extract<WriteOp, { kind: 'append' }>).entries[0]!.data;
    expect(empty.length).toBe(0);
    // What a structured clone gave the worker, and what SQLite gives start-up: no memory behind it.
    const withoutMemory = new Uint8Array(new ArrayBuffer(0));
    expect(entryChecksum(5, 2, 1, empty)).toBe(entryChecksum(5, 2, 1, withoutMemory));
    expect(entryChecksum(5, 2, 1, new Uint8Array(8).subarray(8))).toBe(0);
  });
});
