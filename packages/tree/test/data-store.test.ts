import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DataStore, SLAB_VALUE_BYTES_MAX } from '../src/data-store.js';
import { sameBytes } from './harness.js';

describe('DataStore', () => {
  it('returns what was written while slots are freed and reused', () => {
    const sizes = fc.oneof(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: SLAB_VALUE_BYTES_MAX + 200 }));
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), sizes, fc.nat(255)), { maxLength: 300 }), (steps) => {
        const store = new DataStore();
        const live: { ref: number; bytes: Uint8Array }[] = [];
        for (const [write, size, seed] of steps) {
          if (write || live.length === 0) {
            const bytes = new Uint8Array(size).map((_, i) => (seed + i * 13) & 0xff);
            live.push({ ref: store.write(bytes), bytes });
          } else {
            const { ref } = live.splice(seed % live.length, 1)[0]!;
            store.release(ref);
          }
          for (const v of live) expect(sameBytes(store.copy(v.ref, v.bytes.length), v.bytes)).toBe(true);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('hands out copies, not views of its slabs', () => {
    const store = new DataStore();
    const ref = store.write(new Uint8Array([1, 2, 3]));
    const copy = store.copy(ref, 3);
    copy[0] = 9;
    expect(store.copy(ref, 3)).toEqual(new Uint8Array([1, 2, 3]));
  });
});
