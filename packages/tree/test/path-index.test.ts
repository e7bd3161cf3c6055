import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CreateMode, OPEN_ACL_UNSAFE } from '@arbor/protocol';
import type { ACL } from '@arbor/protocol';
import { PathIndex } from '../src/path-index.js';
import type { PathCheck } from '../src/path-index.js';
import { ZnodeTree, restoreFromChunksSync, snapshotChunks } from '../src/index.js';
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
            expect(index.find(keyOf(id), `/${id}`, byId)).toBe(model.has(id) ? id : -1);
          }
        },
      ),
      { numRuns: 300 },
    );
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
