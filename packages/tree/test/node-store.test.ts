import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ChildList } from '../src/child-list.js';
import { F, I, I_STRIDE, NodeStore, ROOT_ID } from '../src/node-store.js';

describe('NodeStore rows', () => {
  it('keeps every field of every row through growth, whatever bits the 32-bit fields hold', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            zxid: fc.maxSafeNat(),
            time: fc.integer({ min: -(2 ** 52), max: 2 ** 52 }),
            // Lanes whose 64 bits read as a NaN pattern: growth must copy them bit for bit.
            hashA: fc.oneof(fc.constant(0xffffffff), fc.nat({ max: 0xffffffff })),
            hashB: fc.oneof(fc.constant(0xfff80001), fc.nat({ max: 0xffffffff })),
            length: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
          }),
          { minLength: 1, maxLength: 80 },
        ),
        (rows) => {
          const store = new NodeStore(2);
          const ids = rows.map((r) => {
            const id = store.alloc();
            store.set(id, F.CZXID, r.zxid);
            store.set(id, F.MTIME, r.time);
            store.setInt(id, I.DATA_LENGTH, r.length);
            store.u32[id * I_STRIDE + I.HASH_A] = r.hashA;
            store.u32[id * I_STRIDE + I.HASH_B] = r.hashB;
            store.link(id, id === 0 ? 0 : id - 1, `n${id}`);
            return id;
          });
          rows.forEach((r, k) => {
            const id = ids[k]!;
            expect(store.get(id, F.CZXID)).toBe(r.zxid);
            expect(store.get(id, F.MTIME)).toBe(r.time);
            expect(store.dataLength(id)).toBe(r.length);
            expect(store.u32[id * I_STRIDE + I.HASH_A]).toBe(r.hashA);
            expect(store.u32[id * I_STRIDE + I.HASH_B]).toBe(r.hashB);
            expect(store.parentOf(id)).toBe(id === 0 ? 0 : id - 1);
            expect(store.name(id)).toBe(`n${id}`);
          });
        },
      ),
      { numRuns: 200 },
    );
  });

  it('gives a reused id a zeroed row and no links', () => {
    const store = new NodeStore(4);
    const root = store.alloc();
    const id = store.alloc();
    store.set(id, F.VERSION, 7);
    store.setInt(id, I.ACL, 3);
    store.link(id, root, 'a');
    store.setKids(id, new ChildList());
    store.release(id);
    expect(store.isLive(id)).toBe(false);
    expect(store.alloc()).toBe(id);
    expect(store.get(id, F.VERSION)).toBe(0);
    expect(store.aclOf(id)).toBe(0);
    expect(store.kids(id)).toBeNull();
    expect(store.name(id)).toBe('');
  });

  it('gives a fresh id a zeroed row without zeroing it, before and after growth', () => {
    const store = new NodeStore(2);
    for (let k = 0; k < 9; k++) {
      const id = store.alloc();
      for (let w = id * I_STRIDE; w < (id + 1) * I_STRIDE; w++) expect(store.i32[w], `id ${id} word ${w - id * I_STRIDE}`).toBe(0);
      // fill the whole row, so that a later row reading anything but zero would show
      for (let w = id * I_STRIDE; w < (id + 1) * I_STRIDE; w++) store.i32[w] = -1;
      store.setInt(id, I.KIND, 0);
    }
  });

  it('confirms a path only when every name up to the root matches', () => {
    const store = new NodeStore(4);
    expect(store.alloc()).toBe(ROOT_ID);
    const a = store.alloc();
    const b = store.alloc();
    store.link(a, ROOT_ID, 'a');
    store.link(b, a, 'bc');
    expect(store.isAt(a, '/a')).toBe(true);
    expect(store.isAt(b, '/a/bc')).toBe(true);
    for (const wrong of ['/bc', '/a/c', '/x/bc', '/aa/bc', 'a/bc', '/a/bc/bc', '//bc', '/a']) {
      expect(store.isAt(b, wrong), wrong).toBe(false);
    }
  });
});
