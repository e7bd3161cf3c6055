import type { Stat } from '@arbor/protocol';
import { AssertionError } from './assert.js';
import type { ChildList } from './child-list.js';
import type { PathCheck } from './path-index.js';

/**
 * Znodes as rows of one typed buffer, addressed by a numeric id: no object per node, so a
 * million nodes cost the garbage collector nothing to trace and a few dozen bytes each
 * (docs/benchmarks.md gives the measured figure). A row holds every numeric field of a node
 * side by side (ROW_BYTES), so the fields an op reads and writes arrive in two or three cache
 * lines instead of one miss per column; a node's two object references (child list, name)
 * sit side by side in `links` likewise. Ids of deleted nodes are reused; an id is only
 * meaningful while its node exists.
 */

/** Offsets of the 64-bit fields in a row, in Float64 units from `id * STRIDE`. */
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
/** Row length in Float64 units: the fields of F, then the 32-bit fields of I. */
export const STRIDE = 13;
export const ROW_BYTES = STRIDE * 8;

/** Offsets of the 32-bit fields in a row, in 32-bit units from `id * STRIDE * 2`. */
export const I = {
  /** Data length in bytes; -1 for null data. */
  DATA_LENGTH: 20,
  /** AclTable id. */
  ACL: 21,
  /** Hash of the data bytes, two lanes (read through `u32`): a digest update never rehashes a value it replaces. */
  HASH_A: 22,
  HASH_B: 23,
  /** Parent's id (the root's is 0): with the name, what confirms a path index hit. */
  PARENT: 24,
  KIND: 25,
} as const;
export const I_STRIDE = STRIDE * 2;

/** How a node is removed: with its session, as an empty container, after its TTL, or never. */
export const NodeKind = { PERSISTENT: 0, EPHEMERAL: 1, CONTAINER: 2, TTL: 3 } as const;
export type NodeKind = (typeof NodeKind)[keyof typeof NodeKind];
const FREE_KIND = 255;

export const ROOT_ID = 0;

export class NodeStore implements PathCheck {
  /** The rows as 64-bit fields (offsets F). Replaced when the store grows: do not keep across alloc(). */
  f64: Float64Array;
  /** The same rows as 32-bit fields (offsets I). */
  i32: Int32Array;
  /** The same rows as unsigned 32-bit fields (the hash lanes). */
  u32: Uint32Array;
  /**
   * Per node two slots: [2 id] its children (created on first child: leaves carry no list),
   * [2 id + 1] its name under its parent (the string its parent's child list holds; '' for
   * the root and free ids).
   */
  private readonly links: (ChildList | string | null)[] = [];
  /** Live nodes. A new id's numeric fields are all 0. */
  count = 0;
  private capacity: number;
  private used = 0;
  private readonly free: number[] = [];

  constructor(initialCapacity = 1024) {
    this.capacity = initialCapacity;
    const buffer = new ArrayBuffer(initialCapacity * ROW_BYTES);
    this.f64 = new Float64Array(buffer);
    this.i32 = new Int32Array(buffer);
    this.u32 = new Uint32Array(buffer);
  }

  alloc(): number {
    let id = this.free.pop();
    if (id === undefined) {
      // Rows past `used` were never written (a new buffer is zeroed, grow copies only the old rows' bytes):
      // zeroing them again would be the first touch of fresh memory, twice.
      if (this.used === this.capacity) this.grow();
      id = this.used++;
      this.links.push(null, '');
    } else {
      this.f64.fill(0, id * STRIDE, (id + 1) * STRIDE);
    }
    this.count++;
    return id;
  }

  release(id: number): void {
    if (!this.isLive(id)) throw new AssertionError(`node id ${id} released twice`);
    this.i32[id * I_STRIDE + I.KIND] = FREE_KIND;
    this.links[id * 2] = null;
    this.links[id * 2 + 1] = '';
    this.free.push(id);
    this.count--;
  }

  isLive(id: number): boolean {
    return id >= 0 && id < this.used && this.i32[id * I_STRIDE + I.KIND] !== FREE_KIND;
  }

  get(id: number, field: number): number {
    return this.f64[id * STRIDE + field]!;
  }

  set(id: number, field: number, value: number): void {
    this.f64[id * STRIDE + field] = value;
  }

  getInt(id: number, field: number): number {
    return this.i32[id * I_STRIDE + field]!;
  }

  setInt(id: number, field: number, value: number): void {
    this.i32[id * I_STRIDE + field] = value;
  }

  kind(id: number): number {
    return this.i32[id * I_STRIDE + I.KIND]!;
  }

  aclOf(id: number): number {
    return this.i32[id * I_STRIDE + I.ACL]!;
  }

  dataLength(id: number): number {
    return this.i32[id * I_STRIDE + I.DATA_LENGTH]!;
  }

  parentOf(id: number): number {
    return this.i32[id * I_STRIDE + I.PARENT]!;
  }

  kids(id: number): ChildList | null {
    return this.links[id * 2] as ChildList | null;
  }

  setKids(id: number, kids: ChildList): void {
    this.links[id * 2] = kids;
  }

  name(id: number): string {
    return this.links[id * 2 + 1] as string;
  }

  /** Places a node under its parent (the name its parent's child list holds). */
  link(id: number, parentId: number, name: string): void {
    this.i32[id * I_STRIDE + I.PARENT] = parentId;
    this.links[id * 2 + 1] = name;
  }

  /** Is node `id` the node at `path` (a valid path, not the root)? Compares names from the leaf up. */
  isAt(id: number, path: string): boolean {
    const { links, i32 } = this;
    let end = path.length;
    while (id !== ROOT_ID) {
      const name = links[id * 2 + 1] as string;
      const start = end - name.length;
      if (start < 1 || path.charCodeAt(start - 1) !== 0x2f || !path.startsWith(name, start)) return false;
      end = start - 1;
      id = i32[id * I_STRIDE + I.PARENT]!;
    }
    return end === 0;
  }

  numChildren(id: number): number {
    return (this.links[id * 2] as ChildList | null)?.size ?? 0;
  }

  /** A fresh Stat: callers may keep or change it. */
  stat(id: number): Stat {
    const n = this.f64;
    const b = id * STRIDE;
    const w = id * I_STRIDE;
    const len = this.i32[w + I.DATA_LENGTH]!;
    return {
      czxid: n[b]!,
      mzxid: n[b + 1]!,
      pzxid: n[b + 2]!,
      ctime: n[b + 3]!,
      mtime: n[b + 4]!,
      version: n[b + 5]!,
      cversion: n[b + 6]!,
      aversion: n[b + 7]!,
      ephemeralOwner: this.i32[w + I.KIND] === NodeKind.EPHEMERAL ? n[b + 8]! : 0,
      dataLength: len < 0 ? 0 : len,
      numChildren: this.numChildren(id),
    };
  }

  /** Bytes held by the rows (the data and child lists are counted elsewhere). */
  columnBytes(): number {
    return this.f64.byteLength;
  }

  private grow(): void {
    const capacity = this.capacity * 2;
    const buffer = new ArrayBuffer(capacity * ROW_BYTES);
    // Copied as 32-bit units: the rows hold integers that need not be valid doubles.
    const i32 = new Int32Array(buffer);
    i32.set(this.i32);
    this.i32 = i32;
    this.f64 = new Float64Array(buffer);
    this.u32 = new Uint32Array(buffer);
    this.capacity = capacity;
  }
}
