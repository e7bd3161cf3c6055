import { AssertionError, assert } from './assert.js';

/**
 * Path → node id in O(1): an open-addressing hash table (linear probing, backward-shift
 * deletion) keyed by lane A of the node's digest path hash, which every op computes anyway.
 * ZooKeeper's DataTree keeps a hash map of paths for the same reason: resolving a path by
 * walking its components costs a binary search over name strings per level, and on a large
 * tree every comparison is a cache miss.
 *
 * The table stores no strings: a slot is [key, id + 1] (0 = empty) in one Int32Array, 8 bytes
 * a slot at a load of at most 1/2. Equal keys do not prove equal paths, so a lookup confirms
 * each candidate with `isAt` (its name and its parents' names against the path). Like the
 * data slabs, the layout never affects what a reader sees, so it need not match across members.
 */

/** Confirms that node `id` is the node at `path` (the owner walks names and parents). */
export interface PathCheck {
  isAt(id: number, path: string): boolean;
}

const EMPTY = 0;

export class PathIndex {
  /** Pairs [key, id + 1]; a power of two of pairs. */
  private slots: Int32Array;
  private mask: number;
  size = 0;

  constructor(initialSlots = 1024) {
    assert((initialSlots & (initialSlots - 1)) === 0 && initialSlots >= 2, 'slots must be a power of two');
    this.slots = new Int32Array(initialSlots * 2);
    this.mask = initialSlots - 1;
  }

  /** The id stored under `key` that `check` confirms for `path`, or -1. */
  find(key: number, path: string, check: PathCheck): number {
    const slots = this.slots;
    const mask = this.mask;
    const k = key | 0;
    for (let i = k & mask; ; i = (i + 1) & mask) {
      const stored = slots[i * 2 + 1]!;
      if (stored === EMPTY) return -1;
      if (slots[i * 2] === k && check.isAt(stored - 1, path)) return stored - 1;
    }
  }

  /** Adds an id (not present) under its path's key. */
  add(key: number, id: number): void {
    if ((this.size + 1) * 2 > this.mask + 1) this.grow();
    this.put(key | 0, id + 1);
    this.size++;
  }

  /** Removes an id that is present under `key`. */
  remove(key: number, id: number): void {
    const slots = this.slots;
    const mask = this.mask;
    const k = key | 0;
    let i = k & mask;
    for (;;) {
      const stored = slots[i * 2 + 1]!;
      if (stored === EMPTY) throw new AssertionError(`node ${id} is not in the path index`);
      if (stored === id + 1 && slots[i * 2] === k) break;
      i = (i + 1) & mask;
    }
    // Backward shift: move later entries of the run into the hole when their home slot allows.
    let hole = i;
    for (let j = (hole + 1) & mask; slots[j * 2 + 1] !== EMPTY; j = (j + 1) & mask) {
      const home = slots[j * 2]! & mask;
      // j may fill the hole unless its home lies cyclically in (hole, j]
      if (hole <= j ? home > hole && home <= j : home > hole || home <= j) continue;
      slots[hole * 2] = slots[j * 2]!;
      slots[hole * 2 + 1] = slots[j * 2 + 1]!;
      hole = j;
    }
    slots[hole * 2] = 0;
    slots[hole * 2 + 1] = EMPTY;
    this.size--;
  }

  /** Bytes held by the table. */
  byteLength(): number {
    return this.slots.byteLength;
  }

  private put(k: number, stored: number): void {
    const slots = this.slots;
    const mask = this.mask;
    let i = k & mask;
    while (slots[i * 2 + 1] !== EMPTY) i = (i + 1) & mask;
    slots[i * 2] = k;
    slots[i * 2 + 1] = stored;
  }

  private grow(): void {
    const old = this.slots;
    this.slots = new Int32Array(old.length * 2);
    this.mask = old.length - 1;
    for (let i = 0; i < old.length; i += 2) if (old[i + 1] !== EMPTY) this.put(old[i]!, old[i + 1]!);
  }
}
