// Benchmark of @arbor/tree: heap per znode, applies per second, snapshot and restore, paging.
// The apply rows of sections 1, 2 and 4 time the loop as a caller would run it: building each
// txn (path string, op and txn objects, for setData a fresh value) and applying it. Section 6
// builds the txns beforehand (outside the timer, in batches) and times tree.apply alone.
// Run: npx tsc -b test && node --expose-gc test/dist/bench/tree.js [--nodes 1000000]
// (or `npm run bench -- tree`). Prints a table and one JSON line for docs/benchmarks.md.
import { cpus, platform, release } from 'node:os';
import { performance } from 'node:perf_hooks';
import { OPEN_ACL_UNSAFE, CreateMode } from '@arbor/protocol';
import type { ACL } from '@arbor/protocol';
import { ZnodeTree, restoreFromChunksSync, snapshotChunks } from '@arbor/tree';
import type { Txn, TxnOp } from '@arbor/tree';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const NODES = flag('nodes', 1_000_000);
const FANOUT = 1000;
const VALUE_BYTES = 100;
const SESSION = 1;
const acl = OPEN_ACL_UNSAFE as ACL[];

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  console.error('run with --expose-gc (npm run bench does)');
  process.exit(2);
}
function settle(): NodeJS.MemoryUsage {
  for (let i = 0; i < 4; i++) gc!();
  return process.memoryUsage();
}

let zxid = 0;
let requestId = 0;
function txn(op: TxnOp, withRequestId = true): Txn {
  zxid++;
  return {
    zxid,
    timeMs: 1_700_000_000_000 + zxid,
    sessionId: SESSION,
    requestId: withRequestId ? ++requestId : undefined,
    identities: [],
    op,
  };
}
function applyOk(tree: ZnodeTree, t: Txn): void {
  const { result } = tree.apply(t);
  if (result.err !== 0) throw new Error(`txn ${t.zxid} failed: ${JSON.stringify(result)}`);
}
function value(i: number): Uint8Array {
  const v = new Uint8Array(VALUE_BYTES);
  for (let k = 0; k < VALUE_BYTES; k += 4) v[k] = (i + k) & 0xff;
  return v;
}
const parentPath = (p: number): string => `/p${String(p).padStart(4, '0')}`;
const childPath = (i: number): string => `${parentPath(Math.floor(i / FANOUT))}/node-${String(i % FANOUT).padStart(6, '0')}`;

function newTree(): ZnodeTree {
  const tree = new ZnodeTree();
  applyOk(tree, txn({ type: 'createSession', sessionId: SESSION, password: new Uint8Array(16), timeoutMs: 30_000 }, false));
  return tree;
}
/** Builds `count` txns with `make` in batches (untimed) and applies them (timed); returns the ms spent applying. */
function timedApplies(target: ZnodeTree, count: number, make: (i: number) => Txn): number {
  // Small batches: txns built far ahead would outlive young-generation collections and cost more than building them.
  const BATCH = 1024;
  const batch: Txn[] = [];
  let applyMs = 0;
  for (let start = 0; start < count; start += BATCH) {
    batch.length = 0;
    for (let i = start; i < Math.min(count, start + BATCH); i++) batch.push(make(i));
    const t = performance.now();
    for (const x of batch) applyOk(target, x);
    applyMs += performance.now() - t;
  }
  return applyMs;
}
/** Values made once, cycled: the tree copies what it keeps, so reusing them changes nothing it stores. */
const VALUE_POOL = Array.from({ length: 1024 }, (_, i) => value(i));

function rate(count: number, ms: number): number {
  return Math.round((count / ms) * 1000);
}

const rows: [string, string][] = [];
const figures: Record<string, number> = {};
function report(name: string, v: number, unit: string): void {
  figures[name] = v;
  rows.push([name, `${v.toLocaleString('en-US')} ${unit}`]);
}

// 1. Memory and create rate: NODES znodes of VALUE_BYTES under NODES/FANOUT parents.
const shared = new Uint8Array(VALUE_BYTES); // one array reused: the tree copies what it keeps
const before = settle();
const tree = newTree();
for (let p = 0; p < NODES / FANOUT; p++)
  applyOk(tree, txn({ type: 'create', path: parentPath(p), data: null, acl, mode: CreateMode.PERSISTENT }));
let t0 = performance.now();
for (let i = 0; i < NODES; i++) {
  shared[0] = i & 0xff;
  applyOk(tree, txn({ type: 'create', path: childPath(i), data: shared, acl, mode: CreateMode.PERSISTENT }));
}
let ms = performance.now() - t0;
report('create applies/s', rate(NODES, ms), '/s');
const after = settle();
const count = tree.nodeCount;
report('heap bytes/znode', Math.round((after.heapUsed - before.heapUsed) / count), 'B');
report('array-buffer bytes/znode', Math.round((after.arrayBuffers - before.arrayBuffers) / count), 'B');
report(
  'total bytes/znode (incl. 100 B value)',
  Math.round((after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers) / count),
  'B',
);
report('rss bytes/znode', Math.round((after.rss - before.rss) / count), 'B');

// 2. setData, multi, reads on the full tree.
t0 = performance.now();
for (let i = 0; i < NODES; i++) applyOk(tree, txn({ type: 'setData', path: childPath((i * 7919) % NODES), data: value(i), version: -1 }));
ms = performance.now() - t0;
report('setData applies/s', rate(NODES, ms), '/s');
t0 = performance.now();
for (let i = 0; i < NODES; i++)
  applyOk(tree, txn({ type: 'setData', path: childPath((i * 7919) % NODES), data: VALUE_POOL[i & 1023]!, version: -1 }));
ms = performance.now() - t0;
report('setData applies/s, values made beforehand', rate(NODES, ms), '/s');

const MULTIS = Math.min(200_000, NODES / 5);
t0 = performance.now();
for (let m = 0; m < MULTIS; m++) {
  const base = (m * 5 * 7919) % NODES;
  const ops: TxnOp[] = [];
  ops.push({ type: 'check', path: childPath(base), version: -1 });
  for (let k = 1; k < 5; k++) ops.push({ type: 'setData', path: childPath((base + k) % NODES), data: shared, version: -1 });
  applyOk(tree, txn({ type: 'multi', ops: ops as never }));
}
ms = performance.now() - t0;
report('multi(5 ops) applies/s', rate(MULTIS, ms), '/s');
report('multi ops/s', rate(MULTIS * 5, ms), '/s');

t0 = performance.now();
for (let i = 0; i < NODES; i++) tree.getData(childPath((i * 104729) % NODES), []);
ms = performance.now() - t0;
report('getData reads/s', rate(NODES, ms), '/s');

// 3. Snapshot and restore of the whole tree.
const digest = tree.digest();
t0 = performance.now();
const chunks = [...snapshotChunks(tree)];
ms = performance.now() - t0;
const snapshotBytes = chunks.reduce((n, c) => n + c.length, 0);
report('snapshot ms', Math.round(ms), 'ms');
report('snapshot MB', Math.round(snapshotBytes / 1e6), 'MB');
t0 = performance.now();
const restored = restoreFromChunksSync(chunks);
ms = performance.now() - t0;
report('restore ms', Math.round(ms), 'ms');
if (restored.digest() !== digest || restored.nodeCount !== tree.nodeCount) throw new Error('restored tree differs');
chunks.length = 0;

// 4. delete every node.
t0 = performance.now();
for (let i = 0; i < NODES; i++) applyOk(tree, txn({ type: 'delete', path: childPath(i), version: -1 }));
ms = performance.now() - t0;
report('delete applies/s', rate(NODES, ms), '/s');

// 5. One parent with NODES children: filling it (random-order names) and paging through the middle.
const flat = newTree();
applyOk(flat, txn({ type: 'create', path: '/flat', data: null, acl, mode: CreateMode.PERSISTENT }));
t0 = performance.now();
for (let i = 0; i < NODES; i++) {
  const name = `k${String((i * 7919) % NODES).padStart(8, '0')}`;
  applyOk(flat, txn({ type: 'create', path: `/flat/${name}`, data: null, acl, mode: CreateMode.PERSISTENT }));
}
ms = performance.now() - t0;
report(`fill one parent with ${NODES} children (random order), creates/s`, rate(NODES, ms), '/s');
const PAGES = 1000;
t0 = performance.now();
for (let p = 0; p < PAGES; p++) {
  const after = `k${String(Math.floor((p * NODES) / PAGES)).padStart(8, '0')}`;
  const page = flat.getChildren('/flat', [], { after, limit: 1000 });
  if (page.children.length !== 1000 && !(page.children.length > 0 && !page.more)) throw new Error('short page');
}
ms = performance.now() - t0;
report('getChildren page of 1000 from 1M children, µs', Math.round((ms * 1000) / PAGES), 'µs');

// 6. apply alone: the same creates, setData, multis and deletes on a fresh tree, txns built beforehand.
const pre = newTree();
for (let p = 0; p < NODES / FANOUT; p++)
  applyOk(pre, txn({ type: 'create', path: parentPath(p), data: null, acl, mode: CreateMode.PERSISTENT }));
ms = timedApplies(pre, NODES, (i) =>
  txn({ type: 'create', path: childPath(i), data: VALUE_POOL[i & 1023]!, acl, mode: CreateMode.PERSISTENT }),
);
report('create applies/s, txns built beforehand', rate(NODES, ms), '/s');
ms = timedApplies(pre, NODES, (i) =>
  txn({ type: 'setData', path: childPath((i * 7919) % NODES), data: VALUE_POOL[i & 1023]!, version: -1 }),
);
report('setData applies/s, txns built beforehand', rate(NODES, ms), '/s');
ms = timedApplies(pre, MULTIS, (m) => {
  const base = (m * 5 * 7919) % NODES;
  const ops: TxnOp[] = [{ type: 'check', path: childPath(base), version: -1 }];
  for (let k = 1; k < 5; k++) ops.push({ type: 'setData', path: childPath((base + k) % NODES), data: shared, version: -1 });
  return txn({ type: 'multi', ops: ops as never });
});
report('multi(5 ops) applies/s, txns built beforehand', rate(MULTIS, ms), '/s');
ms = timedApplies(pre, NODES, (i) => txn({ type: 'delete', path: childPath(i), version: -1 }));
report('delete applies/s, txns built beforehand', rate(NODES, ms), '/s');

const cpu = cpus()[0]?.model ?? 'unknown cpu';
const machine = `${cpu}, ${cpus().length} cores, ${platform()} ${release()}, node ${process.version}`;
console.log(`tree benchmark — ${NODES.toLocaleString('en-US')} znodes, ${VALUE_BYTES}-byte values, ${FANOUT} children per parent`);
console.log(`machine: ${machine}`);
console.log(`command: node --expose-gc test/dist/bench/tree.js${args.length ? ' ' + args.join(' ') : ''}`);
const width = Math.max(...rows.map(([k]) => k.length));
for (const [k, v] of rows) console.log(`  ${k.padEnd(width)}  ${v}`);
console.log(JSON.stringify({ bench: 'tree', machine, nodes: NODES, valueBytes: VALUE_BYTES, figures }));
