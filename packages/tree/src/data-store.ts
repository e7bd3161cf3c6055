import { AssertionError, assert } from './assert.js';
import type { Hasher } from './hash.js';

/**
 * Node data, kept in large shared slabs instead of one Uint8Array per value: a small
 * Uint8Array costs ~180 bytes of V8 heap plus a separately allocated backing store, more than
 * a typical value itself. Values up to SLAB_VALUE_BYTES_MAX go to fixed-size slots of
 * size classes spaced ~1.25x apart (at most ~25% slack); larger ones keep their own array.
 *
 * A reference is `slot * 64 + class` (class LARGE for an own array). Freed slots are reused
 * by the next value of the same class. Slabs are not returned to the system when a class
 * empties (as in memcached); the high-water mark of small values stays allocated.
 * Allocation never affects what a reader sees, so it need not be the same on every member.
 */

export const SLAB_VALUE_BYTES_MAX = 4096;
const SLAB_BYTES = 256 * 1024;
const LARGE = 63;
const CLASS_BITS = 64;

const CLASS_SIZES: number[] = [];
for (let size = 8; size < SLAB_VALUE_BYTES_MAX; size = Math.ceil((size * 1.25) / 8) * 8) CLASS_SIZES.push(size);
CLASS_SIZES.push(SLAB_VALUE_BYTES_MAX);
assert(CLASS_SIZES.length < LARGE, 'too many size classes');

/** Index of the smallest class that holds `length` bytes (built once: lengths up to 4 KiB). */
const CLASS_OF_LENGTH = new Uint8Array(SLAB_VALUE_BYTES_MAX + 1);
for (let length = 0, c = 0; length <= SLAB_VALUE_BYTES_MAX; length++) {
  while (CLASS_SIZES[c]! < length) c++;
  CLASS_OF_LENGTH[length] = c;
}

class SizeClass {
  readonly slabs: Uint8Array[] = [];
  readonly free: number[] = [];
  readonly slotsPerSlab: number;
  next = 0;
  constructor(readonly size: number) {
    this.slotsPerSlab = Math.max(1, Math.floor(SLAB_BYTES / size));
  }
}

export class DataStore {
  private readonly classes = CLASS_SIZES.map((size) => new SizeClass(size));
  private readonly large: (Uint8Array | null)[] = [];
  private readonly largeFree: number[] = [];

  /** Stores a copy of bytes (length > 0) and returns its reference. */
  write(bytes: Uint8Array): number {
    const length = bytes.length;
    assert(length > 0, 'empty data is not stored');
    if (length > SLAB_VALUE_BYTES_MAX) {
      const copy = bytes.slice();
      let slot = this.largeFree.pop();
      if (slot === undefined) {
        slot = this.large.length;
        this.large.push(copy);
      } else {
        this.large[slot] = copy;
      }
      return slot * CLASS_BITS + LARGE;
    }
    const c = CLASS_OF_LENGTH[length]!;
    const sc = this.classes[c]!;
    let slot = sc.free.pop();
    if (slot === undefined) {
      slot = sc.next++;
      if (slot >= sc.slabs.length * sc.slotsPerSlab) sc.slabs.push(new Uint8Array(sc.slotsPerSlab * sc.size));
    }
    const slab = sc.slabs[Math.floor(slot / sc.slotsPerSlab)]!;
    slab.set(bytes, (slot % sc.slotsPerSlab) * sc.size);
    return slot * CLASS_BITS + c;
  }

  /**
   * A view of stored bytes. It aliases storage that is reused once the value is released:
   * use it at once (hashing, encoding), never hand it out; `copy` is for callers.
   */
  view(ref: number, length: number): Uint8Array {
    const c = ref % CLASS_BITS;
    const slot = (ref - c) / CLASS_BITS;
    if (c === LARGE) return this.large[slot]!;
    const sc = this.classes[c]!;
    const offset = (slot % sc.slotsPerSlab) * sc.size;
    return sc.slabs[Math.floor(slot / sc.slotsPerSlab)]!.subarray(offset, offset + length);
  }

  /** Feeds stored bytes to a hasher without making a view. */
  hashInto(h: Hasher, ref: number, length: number): void {
    const c = ref % CLASS_BITS;
    const slot = (ref - c) / CLASS_BITS;
    if (c === LARGE) {
      h.bytes(this.large[slot]!, 0, length);
      return;
    }
    const sc = this.classes[c]!;
    h.bytes(sc.slabs[Math.floor(slot / sc.slotsPerSlab)]!, (slot % sc.slotsPerSlab) * sc.size, length);
  }

  /** A copy of stored bytes, made straight from the slab (a view first would be one more object per read). */
  copy(ref: number, length: number): Uint8Array {
    const c = ref % CLASS_BITS;
    const slot = (ref - c) / CLASS_BITS;
    if (c === LARGE) return this.large[slot]!.slice();
    const sc = this.classes[c]!;
    const offset = (slot % sc.slotsPerSlab) * sc.size;
    return sc.slabs[Math.floor(slot / sc.slotsPerSlab)]!.slice(offset, offset + length);
  }

  release(ref: number): void {
    const c = ref % CLASS_BITS;
    const slot = (ref - c) / CLASS_BITS;
    if (c === LARGE) {
      if (this.large[slot] === null) throw new AssertionError(`large value ${slot} released twice`);
      this.large[slot] = null;
      this.largeFree.push(slot);
      return;
    }
    this.classes[c]!.free.push(slot);
  }

  /** Bytes reserved: slabs in full plus large values. */
  reservedBytes(): number {
    let total = 0;
    for (const sc of this.classes) for (const slab of sc.slabs) total += slab.byteLength;
    for (const v of this.large) total += v?.byteLength ?? 0;
    return total;
  }
}
