/**
 * A 64-bit (two independent 32-bit lanes) streaming hash for the state digest and the snapshot
 * checksum. Not cryptographic: it detects divergence and damage, not tampering.
 *
 * Lane A is MurmurHash3's block mix, lane B an xxHash32 round; both consume the same units, so a
 * collision must defeat two unrelated mixers at once. Strings are fed as a stream of UTF-16 code
 * units, two per mix, an odd one carried to the next call, so that hashing '/a' and then '/b'
 * leaves exactly the state of hashing '/a/b': a snapshot reader extends its parent's path state
 * with a child's name instead of building path strings.
 * Everything is defined on integers, so every platform computes the same value.
 */

const TWO_32 = 4294967296;
/** Marks a string's last code unit mixed on its own (odd length), so it differs from a unit pair. */
const CARRY_MARK = 0x5a5a0000;

export function mixA(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

export function mixB(h: number, k: number): number {
  h = (h + Math.imul(k, 0x85ebca77)) | 0;
  h = (h << 13) | (h >>> 19);
  return Math.imul(h, 0x9e3779b1);
}

export function finishA(h: number, n: number): number {
  h ^= n;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function finishB(h: number, n: number): number {
  h ^= Math.imul(n, 0x27d4eb2f);
  h ^= h >>> 15;
  h = Math.imul(h, 0x85ebca77);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae3d);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A hash state that can be copied and extended: the prefix property described above. */
export class Hasher {
  a: number;
  b: number;
  /** Units consumed, mixed in at the end so that prefixes of zeros differ. */
  n: number;
  /** A string's last code unit waiting for its pair, or -1. */
  carry: number;

  constructor(seed = 0) {
    this.a = seed | 0;
    this.b = (seed ^ 0x165667b1) | 0;
    this.n = 0;
    this.carry = -1;
  }

  /** Takes another hasher's state (reuse instead of copy on hot paths). */
  from(other: Hasher): this {
    this.a = other.a;
    this.b = other.b;
    this.n = other.n;
    this.carry = other.carry;
    return this;
  }

  copy(): Hasher {
    return new Hasher().from(this);
  }

  /** Mixes a carried code unit on its own, before anything that is not string. */
  private flush(): void {
    if (this.carry < 0) return;
    const k = this.carry | CARRY_MARK;
    this.a = mixA(this.a, k);
    this.b = mixB(this.b, k);
    this.carry = -1;
  }

  /** Feeds a 32-bit unit. */
  int(k: number): this {
    this.flush();
    this.a = mixA(this.a, k);
    this.b = mixB(this.b, k);
    this.n++;
    return this;
  }

  /** Feeds any number exactly: safe integers as two 32-bit halves, anything else by its text. */
  num(x: number): this {
    if (Number.isSafeInteger(x)) {
      const lo = x >>> 0; // x mod 2^32, also for negative x
      return this.int(lo).int((x - lo) / TWO_32);
    }
    return this.int(0x7ff80001).str(String(x));
  }

  str(s: string): this {
    const length = s.length;
    if (length === 0) return this;
    let a = this.a;
    let b = this.b;
    let i = 0;
    if (this.carry >= 0) {
      const k = this.carry | (s.charCodeAt(0) << 16);
      a = mixA(a, k);
      b = mixB(b, k);
      this.carry = -1;
      i = 1;
    }
    for (; i + 1 < length; i += 2) {
      const k = s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16);
      a = mixA(a, k);
      b = mixB(b, k);
    }
    if (i < length) this.carry = s.charCodeAt(i);
    this.a = a;
    this.b = b;
    this.n += length;
    return this;
  }

  /** Feeds bytes four at a time (little-endian assembly, independent of the platform). */
  bytes(u8: Uint8Array, offset = 0, length = u8.length - offset): this {
    this.flush();
    let a = this.a;
    let b = this.b;
    const end = offset + length;
    const whole = offset + (length & ~3);
    let i = offset;
    for (; i < whole; i += 4) {
      const k = u8[i]! | (u8[i + 1]! << 8) | (u8[i + 2]! << 16) | (u8[i + 3]! << 24);
      a = mixA(a, k);
      b = mixB(b, k);
    }
    if (i < end) {
      let k = 0;
      for (let shift = 0; i < end; i++, shift += 8) k |= u8[i]! << shift;
      a = mixA(a, k ^ 0x5bd1e995);
      b = mixB(b, k ^ 0x5bd1e995);
    }
    this.a = a;
    this.b = b;
    this.n += length;
    return this;
  }

  /** Lane A of the result, an unsigned 32-bit integer. Leaves the state as it is. */
  finalA(): number {
    const a = this.carry < 0 ? this.a : mixA(this.a, this.carry | CARRY_MARK);
    return finishA(a, this.n);
  }

  finalB(): number {
    const b = this.carry < 0 ? this.b : mixB(this.b, this.carry | CARRY_MARK);
    return finishB(b, this.n);
  }

  hex(): string {
    return hex32(this.finalA()) + hex32(this.finalB());
  }
}

/*
 * The same function unrolled for hot paths (the digest's terms on every apply): lanes held in
 * locals instead of a Hasher's fields, which method chains write back at every step. A caller
 * takes both lanes of a state with laneA/laneB (its carried unit mixed in, as the next int()
 * would), mixes units with mixA/mixB and safe integers with numA/numB, counts the units it fed
 * on top of the state's `n`, and finishes with finishA/finishB: the values of finalA()/finalB()
 * of the equivalent chain.
 */

/** Lane A of `h` as int() would find it after flushing the carried code unit. */
export function laneA(h: Hasher): number {
  return h.carry < 0 ? h.a : mixA(h.a, h.carry | CARRY_MARK);
}

export function laneB(h: Hasher): number {
  return h.carry < 0 ? h.b : mixB(h.b, h.carry | CARRY_MARK);
}

/** num(x) on lane A for a safe integer x: two units. */
export function numA(a: number, x: number): number {
  const lo = x >>> 0;
  return mixA(mixA(a, lo), (x - lo) / TWO_32);
}

export function numB(b: number, x: number): number {
  const lo = x >>> 0;
  return mixB(mixB(b, lo), (x - lo) / TWO_32);
}

export function hex32(x: number): string {
  return (x >>> 0).toString(16).padStart(8, '0');
}

/**
 * A structural hash of a plain value (results kept for exactly-once replies): null, booleans,
 * numbers, strings, Uint8Arrays, arrays and objects with keys in their own order (which a
 * msgpack round trip preserves). `undefined` properties are skipped, like msgpack drops them.
 */
export function hashValue(h: Hasher, v: unknown): Hasher {
  if (v === null || v === undefined) return h.int(0x6e756c6c);
  switch (typeof v) {
    case 'boolean':
      return h.int(v ? 0x74727565 : 0x66616c73);
    case 'number':
      return h.int(0x6e756d21).num(v);
    case 'string':
      return h.int(0x73747221).int(v.length).str(v);
    case 'object':
      break;
    default:
      return h.int(0x3f3f3f3f).str(String(v));
  }
  if (v instanceof Uint8Array) return h.int(0x62696e21).int(v.length).bytes(v);
  if (Array.isArray(v)) {
    h.int(0x61727221).int(v.length);
    for (const item of v) hashValue(h, item);
    return h;
  }
  h.int(0x6f626a21);
  for (const key of Object.keys(v)) {
    const item = (v as Record<string, unknown>)[key];
    if (item === undefined) continue;
    h.int(key.length).str(key);
    hashValue(h, item);
  }
  return h.int(0x656e6421);
}

/** The unit that opens a result's hash (TreeState writes out the common cases, so it shares the constant). */
export const RESULT_TAG = 0x72657321;

/**
 * The digest's hash of a kept txn result. It runs on every write that carries a request id,
 * so it covers what identifies an outcome — err, op, message, the created path, reap's
 * removed flag and, for a multi, each op's — and not the stats, which follow from the nodes
 * (the snapshot checksum still covers kept results in full).
 */
export function hashResult(h: Hasher, r: unknown): Hasher {
  if (typeof r !== 'object' || r === null) return hashValue(h, r);
  const o = r as Record<string, unknown>;
  h.int(RESULT_TAG);
  field(h, 1, o['err']);
  field(h, 2, o['op']);
  field(h, 3, o['message']);
  field(h, 4, o['path']);
  field(h, 5, o['removed']);
  const results = o['results'];
  if (Array.isArray(results)) {
    h.int(6).int(results.length);
    for (const item of results) hashResult(h, item);
  } else field(h, 6, results);
  return h;
}

function field(h: Hasher, tag: number, v: unknown): void {
  if (v === undefined) return;
  h.int(tag);
  if (typeof v === 'number') h.num(v);
  else if (typeof v === 'string') h.int(v.length).str(v);
  else hashValue(h, v);
}
