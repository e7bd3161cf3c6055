import { STAT_FIELDS, type Stat } from '@arbor/protocol';
import { assert } from './assert.js';
import type { TxnResult } from './txn.js';

/**
 * A session's kept write results (exactly-once replies), oldest first, as a ring of typed
 * arrays instead of a Map of result objects: every write that carries a request id keeps one
 * and, once the window is full, drops one, so objects here would all die old — after a
 * thousand applies — which is what a generational collector handles worst.
 *
 * An entry is its request id, the two lanes of its digest term and a payload. The results of
 * almost every write have one of three fixed shapes, stored without an object: OK ({err: 0}),
 * STAT ({err: 0, stat}: setData, setACL) and CREATE ({err: 0, path, stat}); the stat's eleven
 * numbers go in a Float64Array, the created path in `refs`. Anything else (errors, multis,
 * reaps) keeps its frozen result object in `refs`. `get` rebuilds a compact entry as an equal,
 * frozen object with the same keys in the same order, so a retry, the snapshot writer and the
 * digest see exactly what apply returned the first time.
 *
 * Lookup by request id goes through a small open-addressing table of ring slots (linear
 * probing, backward-shift deletion); removal is always of the oldest entry.
 */

export const Shape = { OK: 0, STAT: 1, CREATE: 2, OBJECT: 3 } as const;
export type Shape = (typeof Shape)[keyof typeof Shape];

/** Numbers per kept stat: Stat's fields (protocol's STAT_FIELDS order, as NodeStore.stat() makes them). */
const STAT_COUNT = STAT_FIELDS.length;

const INITIAL_CAPACITY = 8;

export class KeptResults {
  /** Live entries. */
  size = 0;
  private capacity = 0;
  /** Ring slot of the oldest entry. */
  private head = 0;
  private ids = new Float64Array(0);
  /** Digest term lanes, [2 slot] A and [2 slot + 1] B. */
  private terms = new Uint32Array(0);
  private shapes = new Uint8Array(0);
  /** STAT_COUNT numbers per slot; allocated on the first entry that has a stat. */
  private stats: Float64Array | null = null;
  /** The created path (CREATE) or the result (OBJECT) per slot, else null. */
  private refs: (string | TxnResult | null)[] = [];
  /** Ring slot + 1 per table slot (0 = empty); a power of two of at least twice the capacity. */
  private table = new Int32Array(0);
  private tableMask = 0;

  /** Ring slot of the entry kept under `requestId`, or -1. */
  find(requestId: number): number {
    if (this.size === 0) return -1;
    const { table, tableMask, ids } = this;
    for (let i = slotHash(requestId) & tableMask; ; i = (i + 1) & tableMask) {
      const stored = table[i]!;
      if (stored === 0) return -1;
      if (ids[stored - 1] === requestId) return stored - 1;
    }
  }

  has(requestId: number): boolean {
    return this.find(requestId) >= 0;
  }

  /** The result kept under `requestId` (frozen), or undefined. */
  get(requestId: number): TxnResult | undefined {
    const slot = this.find(requestId);
    return slot < 0 ? undefined : this.resultAtSlot(slot);
  }

  /**
   * Keeps a result under a request id not kept yet, with its digest term. `shape` must describe
   * `result` exactly (the caller knows which handler made it; `shapeOf` finds out otherwise).
   */
  push(requestId: number, shape: Shape, result: TxnResult, termA: number, termB: number): void {
    if (this.size === this.capacity) this.grow();
    const slot = (this.head + this.size) % this.capacity;
    this.ids[slot] = requestId;
    this.terms[slot * 2] = termA;
    this.terms[slot * 2 + 1] = termB;
    this.shapes[slot] = shape;
    if (shape === Shape.STAT || shape === Shape.CREATE) {
      const stat = (result as { stat: Stat }).stat;
      const stats = (this.stats ??= new Float64Array(this.capacity * STAT_COUNT));
      const o = slot * STAT_COUNT;
      stats[o] = stat.czxid;
      stats[o + 1] = stat.mzxid;
      stats[o + 2] = stat.pzxid;
      stats[o + 3] = stat.ctime;
      stats[o + 4] = stat.mtime;
      stats[o + 5] = stat.version;
      stats[o + 6] = stat.cversion;
      stats[o + 7] = stat.aversion;
      stats[o + 8] = stat.ephemeralOwner;
      stats[o + 9] = stat.dataLength;
      stats[o + 10] = stat.numChildren;
      this.refs[slot] = shape === Shape.CREATE ? (result as { path: string }).path : null;
    } else {
      this.refs[slot] = shape === Shape.OBJECT ? result : null;
    }
    this.size++;
    this.tableInsert(slot);
  }

  /** Request id of the entry `i` places after the oldest (0 = oldest); i < size. */
  idAt(i: number): number {
    return this.ids[this.slotAt(i)]!;
  }

  termAAt(i: number): number {
    return this.terms[this.slotAt(i) * 2]!;
  }

  termBAt(i: number): number {
    return this.terms[this.slotAt(i) * 2 + 1]!;
  }

  resultAt(i: number): TxnResult {
    return this.resultAtSlot(this.slotAt(i));
  }

  /** Drops the oldest entry (there must be one). */
  dropOldest(): void {
    assert(this.size > 0, 'no kept result to drop');
    const slot = this.head;
    this.tableRemove(slot);
    this.refs[slot] = null;
    this.head = (slot + 1) % this.capacity;
    this.size--;
  }

  private slotAt(i: number): number {
    return (this.head + i) % this.capacity;
  }

  private resultAtSlot(slot: number): TxnResult {
    const shape = this.shapes[slot] as Shape;
    if (shape === Shape.OBJECT) return this.refs[slot] as TxnResult;
    if (shape === Shape.OK) return Object.freeze({ err: 0 as const });
    const s = this.stats!;
    const o = slot * STAT_COUNT;
    const stat: Stat = Object.freeze({
      czxid: s[o]!,
      mzxid: s[o + 1]!,
      pzxid: s[o + 2]!,
      ctime: s[o + 3]!,
      mtime: s[o + 4]!,
      version: s[o + 5]!,
      cversion: s[o + 6]!,
      aversion: s[o + 7]!,
      ephemeralOwner: s[o + 8]!,
      dataLength: s[o + 9]!,
      numChildren: s[o + 10]!,
    });
    if (shape === Shape.STAT) return Object.freeze({ err: 0 as const, stat });
    return Object.freeze({ err: 0 as const, path: this.refs[slot] as string, stat });
  }

  private tableInsert(slot: number): void {
    const { table, tableMask } = this;
    let i = slotHash(this.ids[slot]!) & tableMask;
    while (table[i] !== 0) i = (i + 1) & tableMask;
    table[i] = slot + 1;
  }

  private tableRemove(slot: number): void {
    const { table, tableMask, ids } = this;
    let i = slotHash(ids[slot]!) & tableMask;
    while (table[i] !== slot + 1) {
      assert(table[i] !== 0, 'a kept result is missing from its table');
      i = (i + 1) & tableMask;
    }
    // Backward shift: move later entries of the run into the hole when their home slot allows.
    let hole = i;
    for (let j = (hole + 1) & tableMask; table[j] !== 0; j = (j + 1) & tableMask) {
      const home = slotHash(ids[table[j]! - 1]!) & tableMask;
      // j may fill the hole unless its home lies cyclically in (hole, j]
      if (hole <= j ? home > hole && home <= j : home > hole || home <= j) continue;
      table[hole] = table[j]!;
      hole = j;
    }
    table[hole] = 0;
  }

  /** Doubles the ring, oldest entry to slot 0, and rebuilds the table. */
  private grow(): void {
    const capacity = Math.max(INITIAL_CAPACITY, this.capacity * 2);
    const ids = new Float64Array(capacity);
    const terms = new Uint32Array(capacity * 2);
    const shapes = new Uint8Array(capacity);
    const stats = this.stats === null ? null : new Float64Array(capacity * STAT_COUNT);
    const refs: (string | TxnResult | null)[] = new Array<string | TxnResult | null>(capacity).fill(null);
    for (let i = 0; i < this.size; i++) {
      const from = this.slotAt(i);
      ids[i] = this.ids[from]!;
      terms[i * 2] = this.terms[from * 2]!;
      terms[i * 2 + 1] = this.terms[from * 2 + 1]!;
      shapes[i] = this.shapes[from]!;
      stats?.set(this.stats!.subarray(from * STAT_COUNT, (from + 1) * STAT_COUNT), i * STAT_COUNT);
      refs[i] = this.refs[from]!;
    }
    this.ids = ids;
    this.terms = terms;
    this.shapes = shapes;
    this.stats = stats;
    this.refs = refs;
    this.capacity = capacity;
    this.head = 0;
    this.table = new Int32Array(capacity * 2);
    this.tableMask = capacity * 2 - 1;
    for (let slot = 0; slot < this.size; slot++) this.tableInsert(slot);
  }
}

/** A table home for a request id (a safe integer, possibly above 2^32). */
function slotHash(requestId: number): number {
  const lo = requestId >>> 0;
  const hi = ((requestId - lo) / 4294967296) | 0;
  const h = Math.imul(lo ^ Math.imul(hi, 0x85ebca6b), 0x9e3779b1);
  return h ^ (h >>> 15);
}

/**
 * The shape of a result of unknown origin (a snapshot's): compact only when it is exactly what
 * a handler makes — the same keys in the same order, numbers where a stat has them — so that
 * rebuilding it gives back the same value, byte for byte once encoded.
 */
export function shapeOf(result: TxnResult): Shape {
  const o = result as unknown as Record<string, unknown>;
  if (o['err'] !== 0) return Shape.OBJECT;
  const keys = Object.keys(o);
  if (keys[0] !== 'err') return Shape.OBJECT;
  if (keys.length === 1) return Shape.OK;
  if (keys.length === 2 && keys[1] === 'stat' && isPlainStat(o['stat'])) return Shape.STAT;
  if (keys.length === 3 && keys[1] === 'path' && keys[2] === 'stat' && typeof o['path'] === 'string' && isPlainStat(o['stat'])) {
    return Shape.CREATE;
  }
  return Shape.OBJECT;
}

function isPlainStat(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return false;
  const keys = Object.keys(v);
  if (keys.length !== STAT_COUNT) return false;
  for (let i = 0; i < STAT_COUNT; i++) {
    const value = (v as Record<string, unknown>)[STAT_FIELDS[i]!];
    if (keys[i] !== STAT_FIELDS[i] || typeof value !== 'number') return false;
  }
  return true;
}
