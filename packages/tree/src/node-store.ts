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
 * sit side by side in `links` likewise. A short name is also copied into the row (I.NAME), and
 * the row says whether there is a child list, so that confirming a path index hit on a leaf
 * reads its row and its parents' rows only. Ids of deleted nodes are reused; an id is only
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
export const STRIDE = 16;
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
  /**
   * Bits 0–7: the length of the name inlined at NAME_OFFSET, or NAME_NOT_INLINE; bit 8
   * (HAS_KIDS): the node has a child list. Both spare a lookup the row alone can answer a
   * trip to `links` and to the name string: two cache misses of every path resolution.
   */
  NAME: 26,
} as const;
/** Byte offset in a row of the inlined name: one byte per code unit, names of at most NAME_INLINE_MAX units below 256. */
export const NAME_OFFSET = 108;
export const NAME_INLINE_MAX = ROW_BYTES - NAME_OFFSET;
const NAME_NOT_INLINE = 0xff;
const NAME_LENGTH_BITS = 0xff;
const HAS_KIDS = 0x100;
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
  /** The same rows as bytes (inlined names). */
  u8: Uint8Array;
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
    this.u8 = new Uint8Array(buffer);
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
    if ((this.i32[id * I_STRIDE + I.NAME]! & HAS_KIDS) === 0) return null;
    return this.links[id * 2] as ChildList;
  }

  setKids(id: number, kids: ChildList): void {
    this.links[id * 2] = kids;
    const w = id * I_STRIDE + I.NAME;
    this.i32[w] = this.i32[w]! | HAS_KIDS;
  }

  name(id: number): string {
    return this.links[id * 2 + 1] as string;
  }

  /** Places a node under its parent (the name its parent's child list holds). */
  link(id: number, parentId: number, name: string): void {
    const w = id * I_STRIDE;
    this.i32[w + I.PARENT] = parentId;
    this.links[id * 2 + 1] = name;
    const length = name.length;
    let inline = length <= NAME_INLINE_MAX;
    for (let k = 0; inline && k < length; k++) inline = name.charCodeAt(k) < 0x100;
    if (inline) {
      const b = id * ROW_BYTES + NAME_OFFSET;
      for (let k = 0; k < length; k++) this.u8[b + k] = name.charCodeAt(k);
    }
    this.i32[w + I.NAME] = (this.i32[w + I.NAME]! & ~NAME_LENGTH_BITS) | (inline ? length : NAME_NOT_INLINE);
  }

  /** Is node `id` the node at `path` (a valid path, not the root)? Compares names from the leaf up. */
  isAt(id: number, path: string): boolean {
    const { links, i32, u8 } = this;
    let end = path.length;
    while (id !== ROOT_ID) {
      const w = id * I_STRIDE;
      const length = i32[w + I.NAME]! & NAME_LENGTH_BITS;
      if (length !== NAME_NOT_INLINE) {
        const start = end - length;
        if (start < 1 || path.charCodeAt(start - 1) !== 0x2f) return false;
        // from the end: sibling names tend to differ there (counters, numbered names)
        const b = id * ROW_BYTES + NAME_OFFSET - start;
        for (let k = end - 1; k >= start; k--) if (u8[b + k] !== path.charCodeAt(k)) return false;
        end = start - 1;
      } else {
        const name = links[id * 2 + 1] as string;
        const start = end - name.length;
        if (start < 1 || path.charCodeAt(start - 1) !== 0x2f || !path.startsWith(name, start)) return false;
        end = start - 1;
      }
      id = i32[w + I.PARENT]!;
    }
    return end === 0;
  }

  numChildren(id: number): number {
    return this.kids(id)?.size ?? 0;
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
    this.u8 = new Uint8Array(buffer);
    this.capacity = capacity;
  }
}
