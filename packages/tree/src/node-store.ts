import type { Stat } from '@arbor/protocol';
import { AssertionError } from './assert.js';
import type { ChildList } from './child-list.js';
import type { PathCheck } from './path-index.js';

/**
 * Znodes as rows of columns, addressed by a numeric id: no object per node, so a million nodes
 * cost the garbage collector nothing to trace and a few dozen bytes each (docs/semantics.md
 * gives the measured figure). Ids of deleted nodes are reused; an id is only meaningful while
 * its node exists.
 */

/** Field offsets inside a node's row of `num`. */
export const F = {
  CZXID: 0,
  MZXID: 1,
  PZXID: 2,
  CTIME: 3,
  MTIME: 4,
  VERSION: 5,
  CVERSION: 6,
  AVERSION: 7,
  /** Owning session for an ephemeral, the TTL in ms for a TTL node, else 0. */
  OWNER: 8,
  /** DataStore reference of the bytes when dataLength > 0. */
  DATA_REF: 9,
} as const;
export const STRIDE = 10;

/** How a node is removed: with its session, as an empty container, after its TTL, or never. */
export const NodeKind = { PERSISTENT: 0, EPHEMERAL: 1, CONTAINER: 2, TTL: 3 } as const;
export type NodeKind = (typeof NodeKind)[keyof typeof NodeKind];
const FREE_KIND = 255;

export const ROOT_ID = 0;

export class NodeStore implements PathCheck {
  /** Numeric fields, STRIDE per node (row-major: one node's stat is one cache-friendly run). */
  num: Float64Array;
  /** Data length in bytes; -1 for null data. */
  dataLength: Int32Array;
  /** AclTable id. */
  acl: Int32Array;
  /** Hash of the data bytes, two lanes per node: a digest update never rehashes a value it replaces. */
  dataHash: Uint32Array;
  kind: Uint8Array;
  /** Parent's id (the root's is its own): with `names`, what confirms a path index hit. */
  parent: Int32Array;
  /** Children, created on first child: leaves carry no list. */
  children: (ChildList | null)[] = [];
  /** The node's name under its parent (the same string its parent's child list holds); '' for the root and free ids. */
  names: string[] = [];
  /** Live nodes. A new id's numeric fields are all 0. */
  count = 0;
  private capacity: number;
  private used = 0;
  private readonly free: number[] = [];

  constructor(initialCapacity = 1024) {
    this.capacity = initialCapacity;
    this.num = new Float64Array(initialCapacity * STRIDE);
    this.dataLength = new Int32Array(initialCapacity);
    this.acl = new Int32Array(initialCapacity);
    this.dataHash = new Uint32Array(initialCapacity * 2);
    this.kind = new Uint8Array(initialCapacity).fill(FREE_KIND);
    this.parent = new Int32Array(initialCapacity);
  }

  alloc(): number {
    let id = this.free.pop();
    if (id === undefined) {
      if (this.used === this.capacity) this.grow();
      id = this.used++;
      this.children.push(null);
      this.names.push('');
    }
    const row = id * STRIDE;
    for (let f = 0; f < STRIDE; f++) this.num[row + f] = 0;
    this.count++;
    return id;
  }

  release(id: number): void {
    if (!this.isLive(id)) throw new AssertionError(`node id ${id} released twice`);
    this.kind[id] = FREE_KIND;
    this.children[id] = null;
    this.names[id] = '';
    this.free.push(id);
    this.count--;
  }

  isLive(id: number): boolean {
    return id >= 0 && id < this.used && this.kind[id] !== FREE_KIND;
  }

  get(id: number, field: number): number {
    return this.num[id * STRIDE + field]!;
  }

  set(id: number, field: number, value: number): void {
    this.num[id * STRIDE + field] = value;
  }

  /** Is node `id` the node at `path` (a valid path, not the root)? Compares names from the leaf up. */
  isAt(id: number, path: string): boolean {
    const { names, parent } = this;
    let end = path.length;
    while (id !== ROOT_ID) {
      const name = names[id]!;
      const start = end - name.length;
      if (start < 1 || path.charCodeAt(start - 1) !== 0x2f || !path.startsWith(name, start)) return false;
      end = start - 1;
      id = parent[id]!;
    }
    return end === 0;
  }

  numChildren(id: number): number {
    return this.children[id]?.size ?? 0;
  }

  /** A fresh Stat: callers may keep or change it. */
  stat(id: number): Stat {
    const n = this.num;
    const b = id * STRIDE;
    const len = this.dataLength[id]!;
    return {
      czxid: n[b]!,
      mzxid: n[b + 1]!,
      pzxid: n[b + 2]!,
      ctime: n[b + 3]!,
      mtime: n[b + 4]!,
      version: n[b + 5]!,
      cversion: n[b + 6]!,
      aversion: n[b + 7]!,
      ephemeralOwner: this.kind[id] === NodeKind.EPHEMERAL ? n[b + 8]! : 0,
      dataLength: len < 0 ? 0 : len,
      numChildren: this.numChildren(id),
    };
  }

  /** Bytes held by the columns (the data and child lists are counted elsewhere). */
  columnBytes(): number {
    return (
      this.num.byteLength +
      this.dataLength.byteLength +
      this.acl.byteLength +
      this.dataHash.byteLength +
      this.kind.byteLength +
      this.parent.byteLength
    );
  }

  private grow(): void {
    const capacity = this.capacity * 2;
    const num = new Float64Array(capacity * STRIDE);
    num.set(this.num);
    this.num = num;
    const dataLength = new Int32Array(capacity);
    dataLength.set(this.dataLength);
    this.dataLength = dataLength;
    const acl = new Int32Array(capacity);
    acl.set(this.acl);
    this.acl = acl;
    const dataHash = new Uint32Array(capacity * 2);
    dataHash.set(this.dataHash);
    this.dataHash = dataHash;
    const kind = new Uint8Array(capacity).fill(FREE_KIND);
    kind.set(this.kind);
    this.kind = kind;
    const parent = new Int32Array(capacity);
    parent.set(this.parent);
    this.parent = parent;
    this.capacity = capacity;
  }
}
