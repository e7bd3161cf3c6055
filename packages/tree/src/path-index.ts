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

/**
 * How far an entry may sit from its home slot. Paths are chosen by clients, and the key is a
 * hash with a fixed seed, so a client can make many paths share a home (only the low bits
 * count) and turn every probe into a walk of that run: a hash-flooding attack. An entry that
 * does not fit within this many slots of its home is left out of the table and its home is
 * marked overflowed; a lookup there that finds nothing within the cap answers OVERFLOWED,
 * and the caller resolves the path by walking child lists (O(depth · log fanout), whatever
 * the keys). Honest keys never come close: at a load of 1/2 the expected run is ~2.5 slots.
 */
export const PROBE_SLOTS_MAX = 64;

/** find's answer when the path may be among the entries left out: resolve it another way. */
export const OVERFLOWED = -2;

export class PathIndex {
  /** Pairs [key, id + 1]; a power of two of pairs. */
  private slots: Int32Array;
  private mask: number;
  /** Entries left out of the table: id → key (ids are ours, not chosen by clients). */
  private readonly overflow = new Map<number, number>();
  /** Home slot → how many left-out entries it has: the overflow markers (none in an honest tree, so a miss costs nothing more). */
  private readonly overflowCounts = new Map<number, number>();
  /** Entries, in the table or left out. */
  size = 0;

  constructor(initialSlots = 1024) {
    assert((initialSlots & (initialSlots - 1)) === 0 && initialSlots >= 2, 'slots must be a power of two');
    this.slots = new Int32Array(initialSlots * 2);
    this.mask = initialSlots - 1;
  }

  /** The id stored under `key` that `check` confirms for `path`, -1 if none, or OVERFLOWED (unknown: look elsewhere). */
  find(key: number, path: string, check: PathCheck): number {
    const slots = this.slots;
    const mask = this.mask;
    const k = key | 0;
    const home = k & mask;
    for (let i = home, probes = 0; probes < PROBE_SLOTS_MAX; i = (i + 1) & mask, probes++) {
      const stored = slots[i * 2 + 1]!;
      if (stored === EMPTY) break;
      if (slots[i * 2] === k && check.isAt(stored - 1, path)) return stored - 1;
    }
    return this.overflow.size === 0 || !this.overflowCounts.has(home) ? -1 : OVERFLOWED;
  }

  /** Adds an id (not present) under its path's key. */
  add(key: number, id: number): void {
    if ((this.size + 1) * 2 > this.mask + 1) this.grow();
    this.put(key | 0, id);
    this.size++;
  }

  /** Removes an id that is present under `key`. */
  remove(key: number, id: number): void {
    const slots = this.slots;
    const mask = this.mask;
    const k = key | 0;
    let i = k & mask;
    for (let probes = 0; ; i = (i + 1) & mask, probes++) {
      const stored = slots[i * 2 + 1]!;
      if (stored === EMPTY || probes === PROBE_SLOTS_MAX) {
        this.removeLeftOut(k, id);
        return;
      }
      if (stored === id + 1 && slots[i * 2] === k) break;
    }
    // Backward shift: move later entries of the run into the hole when their home slot allows
    // (an entry only ever moves nearer its home, so none ends up past the cap).
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

  /** Entries left out of the table (probing past the cap); lookups of their homes walk instead. */
  get overflowCount(): number {
    return this.overflow.size;
  }

  /** Bytes held by the table. */
  byteLength(): number {
    return this.slots.byteLength;
  }

  private removeLeftOut(k: number, id: number): void {
    if (this.overflow.get(id) !== k) throw new AssertionError(`node ${id} is not in the path index`);
    this.overflow.delete(id);
    const home = k & this.mask;
    const count = this.overflowCounts.get(home)! - 1;
    if (count === 0) this.overflowCounts.delete(home);
    else this.overflowCounts.set(home, count);
    this.size--;
  }

  /** Places an entry within the cap of its home, or leaves it out and marks its home. */
  private put(k: number, id: number): void {
    const slots = this.slots;
    const mask = this.mask;
    let i = k & mask;
    for (let probes = 0; slots[i * 2 + 1] !== EMPTY; i = (i + 1) & mask) {
      if (++probes === PROBE_SLOTS_MAX) {
        const home = k & mask;
        this.overflow.set(id, k);
        this.overflowCounts.set(home, (this.overflowCounts.get(home) ?? 0) + 1);
        return;
      }
    }
    slots[i * 2] = k;
    slots[i * 2 + 1] = id + 1;
  }

  private grow(): void {
    const old = this.slots;
    const leftOut = [...this.overflow];
    this.slots = new Int32Array(old.length * 2);
    this.mask = old.length - 1;
    this.overflow.clear();
    this.overflowCounts.clear();
    for (let i = 0; i < old.length; i += 2) if (old[i + 1] !== EMPTY) this.put(old[i]!, old[i + 1]! - 1);
    for (const [id, k] of leftOut) this.put(k, id);
  }
}
