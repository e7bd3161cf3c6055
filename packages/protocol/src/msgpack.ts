import { Packr, Unpackr } from 'msgpackr';

/**
 * The one msgpack configuration every part of Arbor uses (frames, peer messages, snapshots),
 * so that packages which may not depend on msgpackr directly (the tree) still share it.
 * Plain maps and arrays only: no records/structures (a benchmark would have to show they
 * pay), no msgpackr extensions, so that a client in another language can speak the protocol.
 * Binary values decode as copies (copyBuffers), never as views of the input: a znode's data
 * must not keep a whole frame or snapshot buffer alive, nor change if the caller reuses it.
 */
const packr = new Packr({ useRecords: false, moreTypes: false, variableMapSize: true, int64AsType: 'number' });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number', copyBuffers: true });

/** Encodes one value. The result may share memory with an internal buffer only until the next call, so it is copied. */
export function packValue(value: unknown): Uint8Array {
  const out = packr.pack(value);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength).slice();
}

/** Decodes exactly one value; throws on malformed or trailing bytes (callers that face untrusted input wrap this). */
export function unpackValue(bytes: Uint8Array): unknown {
  return unpackr.unpack(bytes);
}

/** Decodes a concatenation of values (as written by several packValue calls). */
export function unpackValues(bytes: Uint8Array): unknown[] {
  return unpackr.unpackMultiple(bytes) as unknown[];
}
