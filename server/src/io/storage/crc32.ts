import zlib from 'node:zlib';

// CRC-32 (ISO-HDLC, the zlib/PNG polynomial 0xEDB88320), incremental: crc32(b, crc32(a)) equals
// crc32(a ‖ b). Node >= 20.15 ships a native zlib.crc32 with these semantics; older Node 20
// releases fall back to the table-driven version below, which computes the same values (the
// test suite checks that they agree).

const TABLE = buildTable();

function buildTable(): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

/** The portable implementation; exported for the test that compares it with the native one. */
export function crc32Portable(data: Uint8Array, previous = 0): number {
  let crc = (previous ^ 0xffffffff) >>> 0;
  for (let i = 0; i < data.length; i++) crc = TABLE[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

const native = typeof zlib.crc32 === 'function' ? zlib.crc32 : null;

/**
 * CRC-32 of `data`, continuing from `previous` (the CRC of the bytes before it). Zero-length
 * input returns `previous`, as the definition says and the portable version does: native
 * zlib.crc32 returns 0 instead for a zero-length buffer with no memory behind it (a zero-length
 * ArrayBuffer, as a structured clone, TextEncoder and SQLite hand out), which in the middle of an
 * incremental chain would drop everything summed before it. Non-empty input goes to native as is,
 * so no checksum of non-empty data changes.
 */
export function crc32(data: Uint8Array, previous = 0): number {
  if (data.length === 0) return previous >>> 0;
  return native === null ? crc32Portable(data, previous) : native(data, previous) >>> 0;
}
