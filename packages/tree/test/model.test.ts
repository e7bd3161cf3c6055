import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CreateMode, Perms } from '@arbor/protocol';
import type { ACL, Id } from '@arbor/protocol';
import { ZnodeTree, restoreFromChunksSync, snapshotChunks } from '@arbor/tree';
import type { MultiMemberOp, Txn, TxnOp } from '@arbor/tree';
import { acl, alice, bob, enc, ip } from './harness.js';
import { allPaths, sameReads } from './observe.js';
import { ReferenceModel } from './reference-model.js';

/**
 * Model-based test: random sequences of entries — several sessions, every mode, multi, ACLs
 * and identities, expiries, reaps, retried request ids — applied to the tree and to the naive
 * ReferenceModel. Results, stats, triggers and every read must agree; a second tree fed the
 * same entries must have the same digest after each one; a snapshot of the end state must
 * restore to an identical tree.
 */

const PATHS = ['/a', '/b', '/a/x', '/a/y', '/b/x', '/a/x/z', '/c', '/a/'];
const SEQ_PATHS = ['/a/s-', '/q-', '/b/x/'];
const IDENTITIES: Id[][] = [[], [alice], [bob], [ip('10.0.0.7')], [alice, ip('10.0.0.7')]];
const ACLS: ACL[][] = [
  [acl(Perms.ALL, 'world', 'anyone')],
  [acl(Perms.READ, 'world', 'anyone')],
  [acl(Perms.ALL, 'digest', alice.id), acl(Perms.READ, 'world', 'anyone')],
  [acl(Perms.ALL, 'auth', '')],
  [acl(Perms.ALL, 'ip', '10.0.0.0/8')],
  [acl(Perms.CREATE | Perms.DELETE | Perms.READ, 'world', 'anyone')],
  [acl(Perms.ADMIN, 'digest', bob.id), acl(Perms.WRITE | Perms.CREATE, 'world', 'anyone')],
];
const DATA = [null, new Uint8Array(0), enc('x'), enc('hello world')];
const VERSIONS = [-1, -1, 0, 1, 2, -2];
const PER_SESSION = 4;

/** An entry to make, with references resolved against the state when it runs. */
type Cmd =
  | { kind: 'node'; session: number; who: number; retry: boolean; op: OpSpec }
  | { kind: 'multi'; session: number; who: number; retry: boolean; ops: OpSpec[] }
  | { kind: 'session'; id: number; open: boolean; expire: boolean }
  | { kind: 'advance'; ms: number }
  | { kind: 'reap'; pick: number };

type OpSpec =
  | { type: 'create'; path: number; seq: boolean; mode: number; ttl: number; data: number; acl: number }
  | { type: 'delete' | 'setData' | 'check' | 'setACL'; path: number; version: number; data: number; acl: number };

const opSpec = fc.oneof(
  fc.record({
    type: fc.constant('create' as const),
    path: fc.nat(),
    seq: fc.boolean(),
    mode: fc.integer({ min: 0, max: 6 }),
    ttl: fc.constantFrom(0, 1, 15, 40),
    data: fc.nat(DATA.length - 1),
    acl: fc.nat(ACLS.length - 1),
  }),
  fc.record({
    type: fc.constantFrom('delete' as const, 'setData' as const, 'check' as const, 'setACL' as const),
    path: fc.nat(),
    version: fc.nat(VERSIONS.length - 1),
    data: fc.nat(DATA.length - 1),
    acl: fc.nat(ACLS.length - 1),
  }),
);

const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.record({
      kind: fc.constant('node' as const),
      session: fc.integer({ min: 1, max: 3 }),
      who: fc.nat(IDENTITIES.length - 1),
      retry: fc.nat(4).map((n) => n === 0),
      op: opSpec,
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('multi' as const),
      session: fc.integer({ min: 1, max: 3 }),
      who: fc.nat(IDENTITIES.length - 1),
      retry: fc.nat(4).map((n) => n === 0),
      ops: fc.array(
        opSpec.filter((o) => o.type !== 'setACL'),
        { maxLength: 4 },
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('session' as const),
      id: fc.integer({ min: 1, max: 3 }),
      open: fc.nat(2).map((n) => n > 0),
      expire: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 30 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('reap' as const), pick: fc.nat() }) },
);

/** Outcomes seen over the whole property run: the generator must reach every interesting one. */
const tally = new Map<string, number>();
/** Runs the commands; returns the trees for end-of-run checks. */
function run(cmds: Cmd[]): { tree: ZnodeTree; nowMs: number } {
  const tree = new ZnodeTree({ requestResultsPerSession: PER_SESSION });
  const twin = new ZnodeTree({ requestResultsPerSession: PER_SESSION });
  const model = new ReferenceModel(PER_SESSION);
  let zxid = 0;
  let nowMs = 1_000;
  const requestIds = new Map<number, number>();
  const sent: { sessionId: number; requestId: number; op: TxnOp; who: Id[] }[] = [];

  /** Mostly an existing node (so that deletes and sets mostly find one), sometimes a fixed path. */
  const pathOf = (ref: number): string => {
    const existing = [...model.nodes.keys()].sort();
    return ref % 4 === 0 ? PATHS[(ref >> 2) % PATHS.length]! : existing[(ref >> 2) % existing.length]!;
  };
  /** A fixed path, or a child of an existing node (so that the tree grows deeper). */
  const newPathOf = (ref: number): string => {
    if (ref % 2 === 0) return PATHS[(ref >> 1) % PATHS.length]!;
    const parent = pathOf(ref >> 1);
    return `${parent === '/' ? '' : parent}/${'kl'[ref % 3 === 0 ? 0 : 1]}`;
  };
  const member = (s: OpSpec): TxnOp => {
    if (s.type === 'create') {
      const mode = s.mode as CreateMode;
      const ttlMode = mode === CreateMode.PERSISTENT_WITH_TTL || mode === CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL;
      const sequential =
        mode === CreateMode.PERSISTENT_SEQUENTIAL ||
        mode === CreateMode.EPHEMERAL_SEQUENTIAL ||
        mode === CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL;
      const path = sequential && s.seq ? SEQ_PATHS[s.path % SEQ_PATHS.length]! : newPathOf(s.path).replace(/\/$/, '') || '/a';
      // mostly a TTL where the mode has one, sometimes a mismatch (BADARGUMENTS)
      const ttlMs = ttlMode ? (s.ttl === 0 ? 10 : s.ttl) : s.ttl === 40 ? 40 : undefined;
      return { type: 'create', path, data: DATA[s.data]!, acl: ACLS[s.acl]!, mode, ...(ttlMs === undefined ? {} : { ttlMs }) };
    }
    const path = pathOf(s.path).replace(/\/$/, '') || '/';
    const version = VERSIONS[s.version]!;
    if (s.type === 'setData') return { type: 'setData', path, data: DATA[s.data]!, version };
    if (s.type === 'setACL') return { type: 'setACL', path, acl: ACLS[s.acl]!, version };
    return { type: s.type, path, version };
  };

  const step = (sessionId: number, op: TxnOp, who: Id[], requestId?: number) => {
    zxid++;
    const txn: Txn = { zxid, timeMs: nowMs, sessionId, identities: who, op, ...(requestId === undefined ? {} : { requestId }) };
    const want = model.apply(txn);
    const got = tree.apply(txn);
    const label = `zxid ${zxid}: ${JSON.stringify(op, (_k, v) => (v instanceof Uint8Array ? `bytes(${v.length})` : v))}`;
    expect(strip(got.result), label).toEqual(strip(want.result));
    expect(got.triggers, label).toEqual(want.triggers);
    expect(got.duplicate, label).toBe(want.duplicate);
    const key = `${op.type}:${got.duplicate ? 'dup' : got.result.err}${(got.result as { removed?: boolean }).removed ? ':removed' : ''}`;
    tally.set(key, (tally.get(key) ?? 0) + 1);
    twin.apply(txn);
    expect(twin.digest(), label).toBe(tree.digest());
  };

  for (const id of [1, 2, 3]) step(0, { type: 'createSession', sessionId: id, password: enc(`p${id}`), timeoutMs: 5000 }, []);
  for (const c of cmds) {
    switch (c.kind) {
      case 'advance':
        nowMs += c.ms;
        break;
      case 'reap': {
        const due = tree.dueForRemoval(nowMs);
        expect(due).toEqual(model.dueForRemoval(nowMs));
        const path = due.length > 0 && c.pick % 2 === 0 ? due[c.pick % due.length]! : pathOf(c.pick);
        step(0, { type: 'reap', path }, []);
        break;
      }
      case 'session':
        if (c.open) step(0, { type: 'createSession', sessionId: c.id, password: enc(`p${c.id}`), timeoutMs: 1000 * c.id }, []);
        else step(c.expire ? 0 : c.id, { type: 'closeSession', sessionId: c.id, reason: c.expire ? 'expire' : 'close' }, []);
        break;
      default: {
        const previous = sent.filter((s) => s.sessionId === c.session);
        if (c.retry && previous.length > 0) {
          const again = previous[previous.length - 1 - (zxid % Math.min(previous.length, PER_SESSION + 2))]!;
          step(again.sessionId, again.op, again.who, again.requestId);
          break;
        }
        const op: TxnOp = c.kind === 'node' ? member(c.op) : { type: 'multi', ops: c.ops.map(member) as MultiMemberOp[] };
        const requestId = (requestIds.get(c.session) ?? 0) + 1;
        requestIds.set(c.session, requestId);
        const who = IDENTITIES[c.who]!;
        sent.push({ sessionId: c.session, requestId, op, who });
        step(c.session, op, who, zxid % 5 === 0 ? undefined : requestId);
      }
    }
  }
  compareReads(tree, model, nowMs);
  return { tree, nowMs };
}

function strip(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(strip);
  if (v instanceof Uint8Array || typeof v !== 'object' || v === null) return v;
  return Object.fromEntries(
    Object.entries(v)
      .filter(([k]) => k !== 'message')
      .map(([k, x]) => [k, strip(x)]),
  );
}

function attempt<T>(read: () => T): T | { error: number } {
  try {
    return read();
  } catch (e) {
    return { error: (e as { code: number }).code };
  }
}

function compareReads(tree: ZnodeTree, model: ReferenceModel, nowMs: number): void {
  expect(allPaths(tree)).toEqual(['/', ...[...model.nodes.keys()].filter((p) => p !== '/').sort()].sort(preorder));
  for (const path of model.nodes.keys()) {
    expect(tree.exists(path), path).toEqual(model.stat(path));
    for (const who of IDENTITIES) {
      const canRead = model.allows(path, Perms.READ, who);
      const data = attempt(() => tree.getData(path, who));
      expect(data, path).toEqual(canRead ? { data: model.nodes.get(path)!.data, stat: model.stat(path) } : { error: -102 });
      const kids = attempt(() => tree.getChildren(path, who));
      expect(kids, path).toEqual(canRead ? { children: model.children(path), more: false, stat: model.stat(path) } : { error: -102 });
    }
  }
  for (const id of [1, 2, 3]) {
    const s = model.sessions.get(id);
    expect(tree.getSession(id) === undefined, `session ${id}`).toBe(s === undefined);
    if (s) expect(tree.getEphemerals(id, '/')).toEqual(model.ephemeralsOf(id));
  }
  expect(tree.dueForRemoval(nowMs)).toEqual(model.dueForRemoval(nowMs));
  for (const path of model.nodes.keys()) {
    const descendants = [...model.nodes.keys()].filter((p) => p !== path && (path === '/' || p.startsWith(`${path}/`))).length;
    const canRead = model.allows(path, Perms.READ, []);
    expect(attempt(() => tree.getAllChildrenNumber(path, []))).toEqual(canRead ? descendants : { error: -102 });
  }
}

/** Pre-order of a tree walk with siblings by name: compare segment by segment. */
function preorder(a: string, b: string): number {
  const sa = a === '/' ? [] : a.slice(1).split('/');
  const sb = b === '/' ? [] : b.slice(1).split('/');
  for (let i = 0; i < Math.min(sa.length, sb.length); i++) if (sa[i] !== sb[i]) return sa[i]! < sb[i]! ? -1 : 1;
  return sa.length - sb.length;
}

describe('the tree against a naive model', () => {
  it('agrees on results, stats, triggers and reads; twins share digests; snapshots restore identically', () => {
    fc.assert(
      fc.property(fc.array(cmd, { minLength: 1, maxLength: 120, size: 'max' }), (cmds) => {
        const { tree, nowMs } = run(cmds);
        const restored = restoreFromChunksSync(snapshotChunks(tree, 512));
        expect(restored.digest()).toBe(tree.digest());
        sameReads(tree, restored, nowMs);
      }),
      // TREE_MODEL_RUNS=5000 (and TREE_MODEL_SEED=random) for a long hunt. CI runs a fixed seed:
      // with a random one, 100 runs now and then generated no delete of a non-empty node, and the
      // coverage check below failed on luck rather than on the tree.
      {
        numRuns: Number(process.env['TREE_MODEL_RUNS'] ?? 100),
        ...(process.env['TREE_MODEL_SEED'] === 'random' ? {} : { seed: Number(process.env['TREE_MODEL_SEED'] ?? 20261207) }),
      },
    );
    const wanted = [
      'create:0',
      'delete:0',
      'setData:0',
      'setACL:0',
      'check:0',
      'multi:0',
      'multi:-101',
      'reap:0:removed',
      'closeSession:0',
    ];
    const dup = ['create', 'delete', 'setData', 'multi'].map((t) => `${t}:dup`);
    for (const outcome of [...wanted, ...dup, 'create:-102', 'create:-108', 'create:-114', 'delete:-111']) {
      expect(tally.get(outcome) ?? 0, `outcome ${outcome} never generated`).toBeGreaterThan(0);
    }
  });
});
