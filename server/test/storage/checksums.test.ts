import { describe, expect, it } from 'vitest';
import { entryChecksum } from '../../src/io/storage/checksums.js';

describe('entryChecksum', () => {
  it('is 0 for an entry without data, however the empty buffer was made, as on disk', () => {
    // A structured clone and SQLite hand over empty buffers with no memory; an empty view has some.
    const withoutMemory = new Uint8Array(new ArrayBuffer(0));
    const emptyView = new Uint8Array(8).subarray(8);
    expect(entryChecksum(5, 2, 1, withoutMemory)).toBe(0);
    expect(entryChecksum(5, 2, 1, emptyView)).toBe(0);
    expect(entryChecksum(5, 2, 1, new Uint8Array(0))).toBe(0);
  });

  it('covers index, term and type when there is data', () => {
    const data = new Uint8Array([1, 2, 3]);
    const base = entryChecksum(5, 2, 0, data);
    expect(new Set([base, entryChecksum(6, 2, 0, data), entryChecksum(5, 3, 0, data), entryChecksum(5, 2, 1, data)]).size).toBe(4);
  });
});
