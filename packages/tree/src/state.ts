import { OPEN_ACL_UNSAFE } from '@arbor/protocol';
import { AssertionError, assert } from './assert.js';
import { AclTable } from './acl-table.js';
import { ChildList } from './child-list.js';
import { DataStore } from './data-store.js';
import { Hasher, RESULT_TAG, finishA, finishB, hashResult, hex32, laneA, laneB, mixA, mixB, numA, numB } from './hash.js';
import type { Journal } from './journal.js';
import { F, I, I_STRIDE, NodeKind, NodeStore, ROOT_ID, STRIDE } from './node-store.js';
import { OVERFLOWED, PathIndex } from './path-index.js';
import { Shape, shapeOf } from './kept-results.js';
import type { Session } from './session.js';
import type { TxnResult } from './txn.js';

/**
 * The replicated state and the only code that changes it. Each primitive keeps every derived
 * structure in step — child lists, the parent's stat, the container/TTL indexes, the session's
 * ephemerals, ACL reference counts and the rolling digest — so handlers cannot forget one.
 * Given a Journal, a primitive also records its inverse (multi rollback).
 *
 * The digest (ZooKeeper DataTree's idea) is a sum, lane by lane mod 2^32, of one hash per
 * item: per node three terms keyed by its path (own stat fields, child-related fields, data
 * hash), per session two, per kept request result one. A change subtracts the old terms and
 * adds the new ones: O(1) in the size of the tree (O(bytes) for new data, whose hash is kept
 * per node so that replacing or deleting a value never hashes it again).
 */

const SEED_PATH = 0x70617468;
const TAG_OWN = 0x4f574e21;
const TAG_CHILDREN = 0x4b494453;
const TAG_DATA = 0x44415441;
const SESSION_BASE = new Hasher(0x73657373);
const RESULT_BASE = new Hasher(0x72657375);
const EVICTED_BASE = new Hasher(0x65766963);
const BYTES_BASE = new Hasher(0x62797465);

/** Hash state of a path; extend it to a child with `childPathHash`. */
export function pathHash(path: string): Hasher {
  return new Hasher(SEED_PATH).str(path);
}

/** The hash state of `parent + '/' + name` (no separator after the root): equal to pathHash of that path. */
export function childPathHash(parent: Hasher, parentIsRoot: boolean, name: string): Hasher {
  const h = parent.copy();
  if (!parentIsRoot) h.str('/');
  return h.str(name);
}

export interface NewNode {
  parentId: number;
  parentPath: string;
  parentHash: Hasher;
  name: string;
  path: string;
  pathHash: Hasher;
  data: Uint8Array | null;
  aclId: number;
  kind: NodeKind;
  owner: number;
  zxid: number;
  timeMs: number;
}

export interface NodeRef {
  id: number;
  parentId: number;
  parentPath: string;
  parentHash: Hasher;
  name: string;
  path: string;
  pathHash: Hasher;
}

/** Scratch state for digest terms: hashing never nests, so one suffices. */
const scratch = new Hasher();
const PATH_BASE = new Hasher(SEED_PATH);
const isSafe = Number.isSafeInteger;
/** The most rows a snapshot header may make a restore reserve up front (512 MiB of rows; untouched pages cost no memory). */
const EXPECTED_NODES_MAX = 1 << 22;

/**
 * The digest term of a kept result (session, request id, outcome), in `scratch`: hashResult's
 * value, which for the compact shapes (the result of almost every write) is written out here
 * rather than found by walking the object's fields.
 */
function resultHash(sessionId: number, requestId: number, result: TxnResult, shape: Shape): Hasher {
  if (isSafe(sessionId) && isSafe(requestId)) {
    // scratch.from(RESULT_BASE).num(sessionId).num(requestId), unrolled: 4 units
    scratch.a = numA(numA(laneA(RESULT_BASE), sessionId), requestId);
    scratch.b = numB(numB(laneB(RESULT_BASE), sessionId), requestId);
    scratch.n = RESULT_BASE.n + 4;
    scratch.carry = -1;
  } else {
    scratch.from(RESULT_BASE).num(sessionId).num(requestId);
  }
  if (shape === Shape.OBJECT) return hashResult(scratch, result);
  // hashResult of {err: 0[, path][, stat]}: its tag, field 1 (err) = 0, field 4 (path); stats are not hashed
  scratch.int(RESULT_TAG).int(1).num(0);
  if (shape !== Shape.CREATE) return scratch;
  const path = (result as { path: string }).path;
  return scratch.int(4).int(path.length).str(path);
}

export class TreeState {
  readonly nodes: NodeStore;
  readonly data = new DataStore();
  readonly acls = new AclTable();
  /** Every node but the root by its path's key: resolving a path is one probe, not a walk. */
  readonly index: PathIndex;
  readonly sessions = new Map<number, Session>();
  /** Container and TTL nodes by path: what dueForRemoval scans instead of the whole tree. */
  readonly containers = new Map<string, number>();
  readonly ttlNodes = new Map<string, number>();
  lastZxid = 0;
  /** Bumped by every applied entry, so that a snapshot being written notices a change. */
  changeCount = 0;
  private digestA = 0;
  private digestB = 0;

  /**
   * `expectedNodes` (a snapshot header's count) sizes the node rows and the path index at
   * once, sparing a restore their doublings; it is capped, as a header may lie.
   */
  constructor(
    readonly resultsPerSession: number,
    expectedNodes = 0,
  ) {
    const rows = Math.min(Math.max(expectedNodes, 1024), EXPECTED_NODES_MAX);
    this.nodes = new NodeStore(rows);
    let slots = 1024;
    while (slots < rows * 2) slots *= 2;
    this.index = new PathIndex(slots);
  }

  /** Makes the root as every tree starts: no data bytes (empty, not null), open ACL, zero stat. */
  initRoot(): void {
    const id = this.nodes.alloc();
    assert(id === ROOT_ID, 'root must be node 0');
    this.nodes.setInt(id, I.KIND, NodeKind.PERSISTENT);
    const aclId = this.acls.intern(OPEN_ACL_UNSAFE);
    this.acls.ref(aclId);
    this.nodes.setInt(id, I.ACL, aclId);
    this.nodes.setInt(id, I.DATA_LENGTH, 0);
    const h = pathHash('/');
    this.nodeTerms(h, id, 1);
  }

  digest(): string {
    return hex32(this.digestA) + hex32(this.digestB);
  }

  /** Node id of a valid path, or -1. */
  resolve(path: string): number {
    if (path === '/') return ROOT_ID;
    const id = this.index.find(scratch.from(PATH_BASE).str(path).finalA(), path, this.nodes);
    return id === OVERFLOWED ? this.walk(path) : id;
  }

  /** Node id of a valid path whose pathHash is `h` (computed anyway for the digest), or -1. */
  resolveHashed(path: string, h: Hasher): number {
    if (path === '/') return ROOT_ID;
    const id = this.index.find(h.finalA(), path, this.nodes);
    return id === OVERFLOWED ? this.walk(path) : id;
  }

  /** Node id of a valid path other than the root by its names, from the root down: what the index falls back to. */
  walk(path: string): number {
    const { nodes } = this;
    let id = ROOT_ID;
    for (let start = 1; start <= path.length;) {
      const slash = path.indexOf('/', start);
      const end = slash < 0 ? path.length : slash;
      const kids = nodes.kids(id);
      id = kids === null ? -1 : kids.get(path.slice(start, end));
      if (id < 0) return -1;
      start = end + 1;
    }
    return id;
  }

  dataOf(id: number): Uint8Array | null {
    const length = this.nodes.dataLength(id);
    if (length < 0) return null;
    if (length === 0) return new Uint8Array(0);
    return this.data.copy(this.nodes.get(id, F.DATA_REF), length);
  }

  /** Adds a node under an existing parent; returns its id. */
  createNode(n: NewNode, journal: Journal | null): number {
    const { nodes } = this;
    const pid = n.parentId;
    this.childTerm(n.parentHash, pid, -1);
    const id = nodes.alloc();
    nodes.setInt(id, I.KIND, n.kind);
    nodes.setInt(id, I.ACL, n.aclId);
    this.acls.ref(n.aclId);
    nodes.set(id, F.CZXID, n.zxid);
    nodes.set(id, F.MZXID, n.zxid);
    nodes.set(id, F.PZXID, n.zxid);
    nodes.set(id, F.CTIME, n.timeMs);
    nodes.set(id, F.MTIME, n.timeMs);
    nodes.set(id, F.OWNER, n.owner);
    this.storeData(id, n.data);
    nodes.link(id, pid, n.name);
    let kids = nodes.kids(pid);
    if (kids === null) nodes.setKids(pid, (kids = new ChildList()));
    kids.insert(n.name, id);
    kids.creations++;
    this.index.add(n.pathHash.finalA(), id);
    const cversion = nodes.get(pid, F.CVERSION);
    const pzxid = nodes.get(pid, F.PZXID);
    nodes.set(pid, F.CVERSION, cversion + 1);
    nodes.set(pid, F.PZXID, n.zxid);
    this.childTerm(n.parentHash, pid, 1);
    this.nodeTerms(n.pathHash, id, 1);
    this.indexAdd(id, n.path);
    journal?.onUndo(() => this.uncreate(n, id, cversion, pzxid));
    return id;
  }

  private uncreate(n: NewNode, id: number, cversion: number, pzxid: number): void {
    const { nodes } = this;
    const pid = n.parentId;
    this.childTerm(n.parentHash, pid, -1);
    this.nodeTerms(n.pathHash, id, -1);
    this.indexRemove(id, n.path);
    const kids = nodes.kids(pid)!;
    kids.remove(n.name);
    kids.creations--;
    this.index.remove(n.pathHash.finalA(), id);
    nodes.set(pid, F.CVERSION, cversion);
    nodes.set(pid, F.PZXID, pzxid);
    this.childTerm(n.parentHash, pid, 1);
    this.releaseNode(id);
  }

  /** Removes a childless node. */
  deleteNode(r: NodeRef, zxid: number, journal: Journal | null): void {
    const { nodes } = this;
    const pid = r.parentId;
    if (nodes.numChildren(r.id) !== 0) throw new AssertionError(`deleting ${r.path}, which has children`);
    this.childTerm(r.parentHash, pid, -1);
    this.nodeTerms(r.pathHash, r.id, -1);
    this.indexRemove(r.id, r.path);
    nodes.kids(pid)!.remove(r.name);
    this.index.remove(r.pathHash.finalA(), r.id);
    const cversion = nodes.get(pid, F.CVERSION);
    const pzxid = nodes.get(pid, F.PZXID);
    nodes.set(pid, F.CVERSION, cversion + 1);
    nodes.set(pid, F.PZXID, zxid);
    this.childTerm(r.parentHash, pid, 1);
    if (journal === null) {
      this.releaseNode(r.id);
      return;
    }
    journal.onCommit(() => this.releaseNode(r.id));
    journal.onUndo(() => this.undelete(r, cversion, pzxid));
  }

  private undelete(r: NodeRef, cversion: number, pzxid: number): void {
    const { nodes } = this;
    const pid = r.parentId;
    this.childTerm(r.parentHash, pid, -1);
    nodes.kids(pid)!.insert(r.name, r.id);
    this.index.add(r.pathHash.finalA(), r.id);
    nodes.set(pid, F.CVERSION, cversion);
    nodes.set(pid, F.PZXID, pzxid);
    this.childTerm(r.parentHash, pid, 1);
    this.nodeTerms(r.pathHash, r.id, 1);
    this.indexAdd(r.id, r.path);
  }

  /** Replaces a node's data: version + 1, mzxid and mtime of this change. */
  setData(id: number, ph: Hasher, data: Uint8Array | null, zxid: number, timeMs: number, journal: Journal | null): void {
    const { nodes } = this;
    this.ownTerm(ph, id, -1);
    this.dataTerm(ph, id, -1);
    const length = nodes.dataLength(id);
    const ref = nodes.get(id, F.DATA_REF);
    if (journal !== null) this.journalData(id, ph, journal);
    else if (length > 0) this.data.release(ref);
    this.storeData(id, data);
    nodes.set(id, F.VERSION, nodes.get(id, F.VERSION) + 1);
    nodes.set(id, F.MZXID, zxid);
    nodes.set(id, F.MTIME, timeMs);
    this.ownTerm(ph, id, 1);
    this.dataTerm(ph, id, 1);
  }

  /** Inside a multi: the old value is released at commit, or put back (with its stat fields) on rollback. */
  private journalData(id: number, ph: Hasher, journal: Journal): void {
    const { nodes } = this;
    const length = nodes.dataLength(id);
    const ref = nodes.get(id, F.DATA_REF);
    const hashA = nodes.u32[id * I_STRIDE + I.HASH_A]!;
    const hashB = nodes.u32[id * I_STRIDE + I.HASH_B]!;
    const version = nodes.get(id, F.VERSION);
    const mzxid = nodes.get(id, F.MZXID);
    const mtime = nodes.get(id, F.MTIME);
    if (length > 0) journal.onCommit(() => this.data.release(ref));
    journal.onUndo(() => {
      this.ownTerm(ph, id, -1);
      this.dataTerm(ph, id, -1);
      if (nodes.dataLength(id) > 0) this.data.release(nodes.get(id, F.DATA_REF));
      nodes.setInt(id, I.DATA_LENGTH, length);
      nodes.set(id, F.DATA_REF, ref);
      nodes.u32[id * I_STRIDE + I.HASH_A] = hashA;
      nodes.u32[id * I_STRIDE + I.HASH_B] = hashB;
      nodes.set(id, F.VERSION, version);
      nodes.set(id, F.MZXID, mzxid);
      nodes.set(id, F.MTIME, mtime);
      this.ownTerm(ph, id, 1);
      this.dataTerm(ph, id, 1);
    });
  }

  /** Replaces a node's ACL (an interned id): aversion + 1. Never part of a multi. */
  setAcl(id: number, ph: Hasher, aclId: number): void {
    const { nodes } = this;
    this.ownTerm(ph, id, -1);
    const old = nodes.aclOf(id);
    this.acls.ref(aclId);
    this.acls.unref(old);
    nodes.setInt(id, I.ACL, aclId);
    nodes.set(id, F.AVERSION, nodes.get(id, F.AVERSION) + 1);
    this.ownTerm(ph, id, 1);
  }

  addSession(s: Session): void {
    if (this.sessions.has(s.id)) throw new AssertionError(`session ${s.id} added twice`);
    this.sessions.set(s.id, s);
    this.sessionTerm(s, 1);
    this.evictedTerm(s, 1);
    const kept = s.results;
    for (let i = 0; i < kept.size; i++) this.addTerm(kept.termAAt(i), kept.termBAt(i), 1);
  }

  /** Forgets a session and its kept results; its ephemerals must be gone already. */
  removeSession(s: Session): void {
    if (s.ephemerals.size !== 0) throw new AssertionError(`session ${s.id} removed with ephemerals left`);
    const kept = s.results;
    for (let i = 0; i < kept.size; i++) this.addTerm(kept.termAAt(i), kept.termBAt(i), -1);
    this.sessionTerm(s, -1);
    this.evictedTerm(s, -1);
    this.sessions.delete(s.id);
  }

  /**
   * Keeps a write's result (of the given shape) for exactly-once replies, evicting the
   * session's oldest past the bound.
   */
  recordResult(s: Session, requestId: number, result: TxnResult, shape: Shape): void {
    const kept = s.results;
    this.keep(s, requestId, result, shape);
    if (kept.size <= this.resultsPerSession) return;
    const oldestId = kept.idAt(0);
    this.addTerm(kept.termAAt(0), kept.termBAt(0), -1);
    kept.dropOldest();
    this.raiseEvicted(s, oldestId);
  }

  /** Drops the kept results the client has acknowledged (ids up to `ackedRequestId`, oldest first). */
  trimResults(s: Session, ackedRequestId: number): void {
    const kept = s.results;
    while (kept.size > 0 && kept.idAt(0) <= ackedRequestId) {
      this.addTerm(kept.termAAt(0), kept.termBAt(0), -1);
      kept.dropOldest();
    }
    this.raiseEvicted(s, ackedRequestId);
  }

  private raiseEvicted(s: Session, requestId: number): void {
    if (requestId <= s.evictedUpTo) return;
    this.evictedTerm(s, -1);
    s.evictedUpTo = requestId;
    this.evictedTerm(s, 1);
  }

  /** Keeps a result under a request id the session does not keep yet, counting its digest term. */
  private keep(s: Session, requestId: number, result: TxnResult, shape: Shape): void {
    const h = resultHash(s.id, requestId, result, shape);
    const a = h.finalA();
    const b = h.finalB();
    s.results.push(requestId, shape, result, a, b);
    this.addTerm(a, b, 1);
  }

  /** For the snapshot reader: keeps a result of a session not added yet (addSession counts its term). */
  restoreResult(s: Session, requestId: number, result: TxnResult): void {
    const shape = shapeOf(result);
    const h = resultHash(s.id, requestId, result, shape);
    s.results.push(requestId, shape, result, h.finalA(), h.finalB());
  }

  /**
   * For the snapshot reader: links a node (whose pathHash is `ph`) under its parent (parents
   * come first, siblings in name order). False when the name does not sort after the previous
   * sibling's.
   */
  restoreLink(parentId: number, name: string, id: number, ph: Hasher): boolean {
    const { nodes } = this;
    let kids = nodes.kids(parentId);
    if (kids === null) nodes.setKids(parentId, (kids = new ChildList()));
    if (!kids.append(name, id)) return false;
    nodes.link(id, parentId, name);
    this.index.add(ph.finalA(), id);
    return true;
  }

  /** For the snapshot reader: sets a restored node's sequential counter (creating its child list). */
  restoreCreations(id: number, creations: number): void {
    let kids = this.nodes.kids(id);
    if (kids === null) this.nodes.setKids(id, (kids = new ChildList()));
    kids.creations = creations;
  }

  /** For the snapshot reader: adds a restored node's own and data terms (at once) and child term (once its children are in). */
  restoreTerms(id: number, ph: Hasher): void {
    this.ownTerm(ph, id, 1);
    this.dataTerm(ph, id, 1);
  }

  restoreChildTerm(id: number, ph: Hasher): void {
    this.childTerm(ph, id, 1);
  }

  /** Stores a copy of the bytes (with their hash) as the node's data, not touching the old value. */
  storeData(id: number, data: Uint8Array | null): void {
    const { nodes } = this;
    if (data === null || data.length === 0) {
      nodes.setInt(id, I.DATA_LENGTH, data === null ? -1 : 0);
      nodes.set(id, F.DATA_REF, 0);
      nodes.u32[id * I_STRIDE + I.HASH_A] = 0;
      nodes.u32[id * I_STRIDE + I.HASH_B] = 0;
      return;
    }
    nodes.setInt(id, I.DATA_LENGTH, data.length);
    nodes.set(id, F.DATA_REF, this.data.write(data));
    const h = scratch.from(BYTES_BASE).bytes(data);
    nodes.u32[id * I_STRIDE + I.HASH_A] = h.finalA();
    nodes.u32[id * I_STRIDE + I.HASH_B] = h.finalB();
  }

  private releaseNode(id: number): void {
    const { nodes } = this;
    if (nodes.dataLength(id) > 0) this.data.release(nodes.get(id, F.DATA_REF));
    this.acls.unref(nodes.aclOf(id));
    nodes.release(id);
  }

  /** Registers a node in the index its kind needs (its session's ephemerals, containers, TTL nodes). */
  indexAdd(id: number, path: string): void {
    const { nodes } = this;
    switch (nodes.kind(id)) {
      case NodeKind.EPHEMERAL: {
        const owner = this.sessions.get(nodes.get(id, F.OWNER));
        if (owner === undefined) throw new AssertionError(`ephemeral ${path} has no live owner`);
        owner.ephemerals.add(path);
        break;
      }
      case NodeKind.CONTAINER:
        this.containers.set(path, id);
        break;
      case NodeKind.TTL:
        this.ttlNodes.set(path, id);
        break;
    }
  }

  private indexRemove(id: number, path: string): void {
    const { nodes } = this;
    switch (nodes.kind(id)) {
      case NodeKind.EPHEMERAL:
        this.sessions.get(nodes.get(id, F.OWNER))?.ephemerals.delete(path);
        break;
      case NodeKind.CONTAINER:
        this.containers.delete(path);
        break;
      case NodeKind.TTL:
        this.ttlNodes.delete(path);
        break;
    }
  }

  private add(h: Hasher, sign: number): void {
    this.addTerm(h.finalA(), h.finalB(), sign);
  }

  private addTerm(a: number, b: number, sign: number): void {
    this.digestA = (this.digestA + sign * a) >>> 0;
    this.digestB = (this.digestB + sign * b) >>> 0;
  }

  /**
   * A node's terms. The stat is split in two so that a child create or delete, which changes
   * only the parent's child-related fields, rehashes just those.
   */
  private nodeTerms(ph: Hasher, id: number, sign: number): void {
    this.ownTerm(ph, id, sign);
    this.childTerm(ph, id, sign);
    this.dataTerm(ph, id, sign);
  }

  /** What the node's own ops change: zxids and times of creation and data, versions, kind, owner/TTL, ACL. */
  private ownTerm(ph: Hasher, id: number, sign: number): void {
    const { nodes } = this;
    const n = nodes.f64;
    const row = id * STRIDE;
    const czxid = n[row + F.CZXID]!;
    const mzxid = n[row + F.MZXID]!;
    const ctime = n[row + F.CTIME]!;
    const mtime = n[row + F.MTIME]!;
    const version = n[row + F.VERSION]!;
    const aversion = n[row + F.AVERSION]!;
    const owner = n[row + F.OWNER]!;
    const kind = nodes.kind(id);
    const aclId = nodes.aclOf(id);
    const aclA = this.acls.hashA(aclId);
    const aclB = this.acls.hashB(aclId);
    if (!(isSafe(czxid) && isSafe(mzxid) && isSafe(ctime) && isSafe(mtime) && isSafe(version) && isSafe(aversion) && isSafe(owner))) {
      const h = scratch.from(ph).int(TAG_OWN).num(czxid).num(mzxid).num(ctime).num(mtime).num(version).num(aversion).num(owner);
      this.add(h.int(kind).int(aclA).int(aclB), sign);
      return;
    }
    // scratch.from(ph).int(TAG_OWN).num(czxid)…num(owner).int(kind).int(aclA).int(aclB), unrolled: 18 units
    let a = mixA(laneA(ph), TAG_OWN);
    let b = mixB(laneB(ph), TAG_OWN);
    a = numA(numA(numA(numA(numA(numA(numA(a, czxid), mzxid), ctime), mtime), version), aversion), owner);
    b = numB(numB(numB(numB(numB(numB(numB(b, czxid), mzxid), ctime), mtime), version), aversion), owner);
    a = mixA(mixA(mixA(a, kind), aclA), aclB);
    b = mixB(mixB(mixB(b, kind), aclA), aclB);
    this.addTerm(finishA(a, ph.n + 18), finishB(b, ph.n + 18), sign);
  }

  /** What its children's creates and deletes change: pzxid, cversion, child count, sequential counter. */
  private childTerm(ph: Hasher, id: number, sign: number): void {
    const { nodes } = this;
    const row = id * STRIDE;
    const kids = nodes.kids(id);
    const pzxid = nodes.f64[row + F.PZXID]!;
    const cversion = nodes.f64[row + F.CVERSION]!;
    const size = kids?.size ?? 0;
    const creations = kids?.creations ?? 0;
    if (!(isSafe(pzxid) && isSafe(cversion) && isSafe(size) && isSafe(creations))) {
      this.add(scratch.from(ph).int(TAG_CHILDREN).num(pzxid).num(cversion).num(size).num(creations), sign);
      return;
    }
    // scratch.from(ph).int(TAG_CHILDREN).num(pzxid).num(cversion).num(size).num(creations), unrolled: 9 units
    const a = numA(numA(numA(numA(mixA(laneA(ph), TAG_CHILDREN), pzxid), cversion), size), creations);
    const b = numB(numB(numB(numB(mixB(laneB(ph), TAG_CHILDREN), pzxid), cversion), size), creations);
    this.addTerm(finishA(a, ph.n + 9), finishB(b, ph.n + 9), sign);
  }

  private dataTerm(ph: Hasher, id: number, sign: number): void {
    const length = this.nodes.dataLength(id);
    const w = id * I_STRIDE;
    const hashA = this.nodes.u32[w + I.HASH_A]!;
    const hashB = this.nodes.u32[w + I.HASH_B]!;
    // scratch.from(ph).int(TAG_DATA).int(length).int(hashA).int(hashB), unrolled: 4 units
    const a = mixA(mixA(mixA(mixA(laneA(ph), TAG_DATA), length), hashA), hashB);
    const b = mixB(mixB(mixB(mixB(laneB(ph), TAG_DATA), length), hashA), hashB);
    this.addTerm(finishA(a, ph.n + 4), finishB(b, ph.n + 4), sign);
  }

  private sessionTerm(s: Session, sign: number): void {
    const h = scratch.from(SESSION_BASE).num(s.id).num(s.timeoutMs).int(s.password.length).bytes(s.password);
    this.add(h, sign);
  }

  /** Separate from the session's term so that an eviction (every write, once the window is full) rehashes little. */
  private evictedTerm(s: Session, sign: number): void {
    if (s.evictedTermOf === s.evictedUpTo) {
      this.addTerm(s.evictedTermA, s.evictedTermB, sign);
      return;
    }
    if (!(isSafe(s.id) && isSafe(s.evictedUpTo))) {
      this.add(scratch.from(EVICTED_BASE).num(s.id).num(s.evictedUpTo), sign);
      return;
    }
    // scratch.from(EVICTED_BASE).num(s.id).num(s.evictedUpTo), unrolled: 4 units
    const a = numA(numA(laneA(EVICTED_BASE), s.id), s.evictedUpTo);
    const b = numB(numB(laneB(EVICTED_BASE), s.id), s.evictedUpTo);
    s.evictedTermOf = s.evictedUpTo;
    s.evictedTermA = finishA(a, EVICTED_BASE.n + 4);
    s.evictedTermB = finishB(b, EVICTED_BASE.n + 4);
    this.addTerm(s.evictedTermA, s.evictedTermB, sign);
  }
}
