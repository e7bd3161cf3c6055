import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CreateMode, ErrorCode, OPEN_ACL_UNSAFE } from '@arbor/protocol';
import type { ACL } from '@arbor/protocol';
import { OVERFLOWED, PROBE_SLOTS_MAX, PathIndex } from '../src/path-index.js';
import type { PathCheck } from '../src/path-index.js';
import { ZnodeTree, restoreFromChunksSync, snapshotChunks } from '../src/index.js';
import { pathHash } from '../src/state.js';
import type { Txn, TxnOp } from '../src/index.js';

/** Ids stand for paths `/<id>`: the check confirms exactly that, as the node store's names would. */
const byId: PathCheck = { isAt: (id, path) => path === `/${id}` };

type Step = { add: boolean; id: number };

describe('PathIndex', () => {
  it('agrees with a Map under adds and removes, keys colliding on purpose', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ add: fc.boolean(), id: fc.integer({ min: 0, max: 300 }) }), { maxLength: 600 }),
        fc.integer({ min: 1, max: 40 }),
        (steps: Step[], keySpace) => {
          const index = new PathIndex(2);
          const model = new Map<number, number>();
          // Few distinct keys, some negative: long probe runs, wrap-around and backward shifts.
          const keyOf = (id: number): number => ((id % keySpace) * 0x9e3779b1) | 0;
          for (const { add, id } of steps) {
            if (add && !model.has(id)) {
              index.add(keyOf(id), id);
              model.set(id, keyOf(id));
            } else if (!add && model.has(id)) {
              index.remove(keyOf(id), id);
              model.delete(id);
            }
            expect(index.size).toBe(model.size);
          }
          for (let id = 0; id <= 300; id++) {
            const got = index.find(keyOf(id), `/${id}`, byId);
            // a key space this small overflows the probe cap: there the index may not know, and says so
            if (got === OVERFLOWED) expect(index.overflowCount).toBeGreaterThan(0);
            else expect(got).toBe(model.has(id) ? id : -1);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('probes at most PROBE_SLOTS_MAX slots however many keys collide, and answers OVERFLOWED only where entries were left out', () => {
    const index = new PathIndex(1024);
    let checks = 0;
    const counting: PathCheck = { isAt: (id, path) => (checks++, byId.isAt(id, path)) };
    // 200 ids under one key (one home slot), and one id with a key of its own
    for (let id = 0; id < 200; id++) index.add(42, id);
    index.add(999, 500);
    expect(index.size).toBe(201);
    expect(index.overflowCount).toBe(200 - PROBE_SLOTS_MAX);
    for (let id = 0; id < 210; id++) {
      checks = 0;
      const got = index.find(42, `/${id}`, counting);
      expect(checks).toBeLessThanOrEqual(PROBE_SLOTS_MAX);
      expect(got).toBe(id < PROBE_SLOTS_MAX ? id : OVERFLOWED);
    }
    expect(index.find(999, '/500', byId)).toBe(500);
    expect(index.find(998, '/501', byId)).toBe(-1);
    // removing the left-out entries clears the marker; removing table entries shifts the rest back
    for (let id = 199; id >= PROBE_SLOTS_MAX; id--) index.remove(42, id);
    expect(index.overflowCount).toBe(0);
    expect(index.find(42, '/150', byId)).toBe(-1);
    for (let id = 0; id < 10; id++) index.remove(42, id);
    expect(index.find(42, '/10', byId)).toBe(10);
    expect(index.find(42, '/5', byId)).toBe(-1);
    expect(index.size).toBe(PROBE_SLOTS_MAX - 10 + 1);
    // growth re-places every entry, left-out ones too
    for (let id = 1000; id < 1600; id++) index.add(42, id);
    expect(index.size).toBe(PROBE_SLOTS_MAX - 10 + 1 + 600);
    for (let id = 1000; id < 1600; id++) expect([id, OVERFLOWED]).toContain(index.find(42, `/${id}`, byId));
    expect(() => index.remove(42, 7)).toThrow(/not in the path index/);
  });

  it('refuses a candidate whose key matches but whose path does not', () => {
    const index = new PathIndex(4);
    index.add(7, 1);
    index.add(7, 2);
    expect(index.find(7, '/2', byId)).toBe(2);
    expect(index.find(7, '/3', byId)).toBe(-1);
    index.remove(7, 1);
    expect(index.find(7, '/2', byId)).toBe(2);
    expect(index.find(7, '/1', byId)).toBe(-1);
  });
});

const acl = OPEN_ACL_UNSAFE as ACL[];

describe('the tree resolves paths through the index', () => {
  it('finds exactly the live nodes after creates, deletes, multis rolled back and a restore', () => {
    const names = ['a', 'b', 'ab', 'a b', 'é', '0000000001'];
    const pathArb = fc.array(fc.constantFrom(...names), { minLength: 1, maxLength: 3 }).map((parts) => `/${parts.join('/')}`);
    const opArb = fc.oneof(
      pathArb.map((path): TxnOp => ({ type: 'create', path, data: null, acl, mode: CreateMode.PERSISTENT })),
      pathArb.map((path): TxnOp => ({ type: 'delete', path, version: -1 })),
      fc.tuple(pathArb, pathArb).map(([p, q]): TxnOp => ({
        type: 'multi',
        ops: [
          { type: 'create', path: p, data: null, acl, mode: CreateMode.PERSISTENT },
          { type: 'delete', path: q, version: -1 },
          { type: 'check', path: p, version: 5 },
        ],
      })),
    );
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => {
        const tree = new ZnodeTree();
        const live = new Set<string>(['/']);
        let zxid = 0;
        const apply = (op: TxnOp): void => {
          const txn: Txn = { zxid: ++zxid, timeMs: zxid, sessionId: 1, identities: [], op };
          const { result } = tree.apply(txn);
          if (result.err !== 0) return;
          if (op.type === 'create') live.add(op.path);
          if (op.type === 'delete') live.delete(op.path);
        };
        apply({ type: 'createSession', sessionId: 1, password: new Uint8Array(4), timeoutMs: 1000 });
        for (const op of ops) apply(op);
        const candidates = new Set<string>();
        for (const a of names) {
          candidates.add(`/${a}`);
          for (const b of names) {
            candidates.add(`/${a}/${b}`);
            for (const c of names) candidates.add(`/${a}/${b}/${c}`);
          }
        }
        const restored = restoreFromChunksSync([...snapshotChunks(tree)]);
        for (const path of candidates) {
          expect(tree.exists(path) !== null, path).toBe(live.has(path));
          expect(restored.exists(path) !== null, path).toBe(live.has(path));
        }
        expect(tree.state.index.size).toBe(live.size - 1);
        expect(restored.state.index.size).toBe(live.size - 1);
      }),
      { numRuns: 200 },
    );
  });
});

describe('a flood of paths whose hashes collide', () => {
  it('resolves every path by walking the child lists, with the same results, digest and snapshot as always', () => {
    // Names under /f whose path hashes share the low 10 bits (one home slot of the initial 1024-slot table):
    // what a client trying to slow the index down would send. The tree stays small, so the table never grows.
    const colliding: string[] = [];
    const home = pathHash('/f/n0').finalA() & 1023;
    for (let i = 0; colliding.length < 150; i++) if ((pathHash(`/f/n${i}`).finalA() & 1023) === home) colliding.push(`/f/n${i}`);
    const tree = new ZnodeTree();
    let zxid = 0;
    const apply = (op: TxnOp): number => tree.apply({ zxid: ++zxid, timeMs: zxid, sessionId: 1, identities: [], op }).result.err;
    apply({ type: 'createSession', sessionId: 1, password: new Uint8Array(4), timeoutMs: 1000 });
    expect(apply({ type: 'create', path: '/f', data: null, acl, mode: CreateMode.PERSISTENT })).toBe(0);
    for (const path of colliding) expect(apply({ type: 'create', path, data: null, acl, mode: CreateMode.PERSISTENT }), path).toBe(0);
    expect(tree.state.index.overflowCount).toBeGreaterThan(0);
    for (const path of colliding) {
      expect(apply({ type: 'create', path, data: null, acl, mode: CreateMode.PERSISTENT })).toBe(ErrorCode.NODEEXISTS);
      expect(apply({ type: 'setData', path, data: new Uint8Array([1]), version: 0 })).toBe(0);
      expect(tree.exists(path)?.version).toBe(1);
      expect(tree.exists(`${path}x`)).toBeNull();
    }
    const restored = restoreFromChunksSync([...snapshotChunks(tree)]);
    expect(restored.digest()).toBe(tree.digest());
    for (const path of colliding) expect(restored.exists(path)?.version).toBe(1);
    // every other one goes, left-out entries and table entries alike; the rest stay findable
    colliding.forEach((path, i) => {
      if (i % 2 === 0) expect(apply({ type: 'delete', path, version: -1 })).toBe(0);
    });
    colliding.forEach((path, i) => expect(tree.exists(path) !== null, path).toBe(i % 2 === 1));
    expect(tree.state.index.size).toBe(1 + colliding.length / 2);
  });
});
