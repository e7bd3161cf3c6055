/**
 * A structural check of untrusted msgpack bytes, run before they are unpacked, so that the
 * unpacker only ever sees input whose work and memory are bounded by the frame's size:
 *
 * - exactly one value and nothing after it;
 * - every declared length (str, bin, array, map) fits in the bytes that are left, so a header
 *   claiming 4 GB in a 20-byte frame is refused before anything is allocated: an array or map
 *   of n items needs at least n bytes more (an item is at least one byte);
 * - nesting no deeper than `nestingDepthMax` (the unpacker is recursive);
 * - only the types this protocol uses: nil, booleans, integers, floats, str, bin, array, map
 *   with string keys; no extension types (0xc7–0xc9, 0xd4–0xd8) and never 0xc1.
 *
 * The walk is iterative, one pass, and allocates a stack of at most `nestingDepthMax` entries.
 * It returns why the bytes are refused, naming the byte offset, or undefined when they pass.
 */
export function msgpackProblem(bytes: Uint8Array, nestingDepthMax: number): string | undefined {
  const end = bytes.length;
  // Items still to read in each open container; index 0 holds the one top-level value.
  const left: number[] = [1];
  // Whether each open container is a map (its even-numbered items are keys).
  const isMap: boolean[] = [false];
  let pos = 0;
  while (left.length > 0) {
    const top = left.length - 1;
    const remaining = left[top] as number;
    if (remaining === 0) {
      left.pop();
      isMap.pop();
      continue;
    }
    const isKey = (isMap[top] as boolean) && remaining % 2 === 0;
    left[top] = remaining - 1;
    const start = pos;
    if (pos >= end) return `truncated: a value is missing at byte ${pos}`;
    const b = bytes[pos++] as number;
    let skip = 0;
    let items = -1;
    let map = false;
    let isString = false;
    if (b <= 0x7f || b >= 0xe0) {
      // positive or negative fixint
    } else if (b >= 0xa0 && b <= 0xbf) {
      isString = true;
      skip = b & 0x1f;
    } else if (b >= 0x90 && b <= 0x9f) {
      items = b & 0x0f;
    } else if (b >= 0x80 && b <= 0x8f) {
      items = (b & 0x0f) * 2;
      map = true;
    } else {
      const width = LENGTH_WIDTH[b - 0xc0] ?? 0;
      if (width < 0) return `type byte 0x${b.toString(16)} at byte ${start} is not used by this protocol (msgpack extension or reserved)`;
      if (width > end - pos) return `truncated: the header at byte ${start} needs ${width} more bytes`;
      if (b === 0xc0 || b === 0xc2 || b === 0xc3) {
        // nil, false, true
      } else if (b >= 0xca && b <= 0xd3) {
        skip = width; // fixed-width number: `width` is its size
      } else {
        const n = readLength(bytes, pos, width);
        pos += width;
        if (b >= 0xc4 && b <= 0xc6) skip = n;
        else if (b >= 0xd9 && b <= 0xdb) {
          skip = n;
          isString = true;
        } else if (b === 0xdc || b === 0xdd) items = n;
        else {
          items = n * 2;
          map = true;
        }
      }
    }
    if (isKey && !isString) return `map key at byte ${start} is not a string (this protocol's maps have string keys)`;
    if (skip > end - pos) return `truncated: the value at byte ${start} declares ${skip} bytes but ${end - pos} are left`;
    pos += skip;
    if (items >= 0) {
      if (left.length > nestingDepthMax) return `nesting deeper than ${nestingDepthMax} at byte ${start}`;
      if (items > end - pos) {
        const what = map ? `map of ${items / 2} entries` : `array of ${items} items`;
        return `truncated: the ${what} at byte ${start} cannot fit in the ${end - pos} bytes left`;
      }
      left.push(items);
      isMap.push(map);
    }
  }
  if (pos !== end) return `${end - pos} bytes after the end of the value (a frame holds exactly one msgpack value)`;
  return undefined;
}

/**
 * For type bytes 0xc0..0xdf: the width of the length field that follows (str/bin/array/map),
 * or of the value itself (numbers); 0 for nil/bool; -1 for types this protocol refuses.
 */
const LENGTH_WIDTH: readonly number[] = [
  0, // c0 nil
  -1, // c1 never used
  0, // c2 false
  0, // c3 true
  1, // c4 bin8
  2, // c5 bin16
  4, // c6 bin32
  -1, // c7 ext8
  -1, // c8 ext16
  -1, // c9 ext32
  4, // ca float32
  8, // cb float64
  1, // cc uint8
  2, // cd uint16
  4, // ce uint32
  8, // cf uint64
  1, // d0 int8
  2, // d1 int16
  4, // d2 int32
  8, // d3 int64
  -1, // d4 fixext1
  -1, // d5 fixext2
  -1, // d6 fixext4
  -1, // d7 fixext8
  -1, // d8 fixext16
  1, // d9 str8
  2, // da str16
  4, // db str32
  2, // dc array16
  4, // dd array32
  2, // de map16
  4, // df map32
];

function readLength(bytes: Uint8Array, pos: number, width: number): number {
  let n = 0;
  for (let i = 0; i < width; i++) n = n * 256 + (bytes[pos + i] as number);
  return n;
}

/**
 * Reads an integer-valued first entry of a top-level map without unpacking anything else, when
 * its key is `key` (Arbor's encoders write `xid` first, so a member can still answer a frame it
 * refuses whole, such as an oversized one). Undefined when the bytes do not start that way.
 */
export function peekFirstInteger(bytes: Uint8Array, key: string): number | undefined {
  let pos = 0;
  const b = bytes[pos++];
  if (b === undefined) return undefined;
  if (b >= 0x81 && b <= 0x8f) {
    // fixmap with at least one entry
  } else if (b === 0xde || b === 0xdf) {
    pos += b === 0xde ? 2 : 4;
  } else return undefined;
  if (bytes[pos] !== (0xa0 | key.length) || key.length > 31) return undefined;
  pos++;
  for (let i = 0; i < key.length; i++) if (bytes[pos++] !== key.charCodeAt(i)) return undefined;
  return readInteger(bytes, pos);
}

function readInteger(bytes: Uint8Array, pos: number): number | undefined {
  const b = bytes[pos];
  if (b === undefined) return undefined;
  if (b <= 0x7f) return b;
  if (b >= 0xe0) return b - 0x100;
  const width = b >= 0xcc && b <= 0xd3 ? (LENGTH_WIDTH[b - 0xc0] as number) : 0;
  if (width === 0 || pos + 1 + width > bytes.length) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset + pos + 1, width);
  switch (b) {
    case 0xcc:
      return view.getUint8(0);
    case 0xcd:
      return view.getUint16(0);
    case 0xce:
      return view.getUint32(0);
    case 0xcf:
      return safe(Number(view.getBigUint64(0)));
    case 0xd0:
      return view.getInt8(0);
    case 0xd1:
      return view.getInt16(0);
    case 0xd2:
      return view.getInt32(0);
    default:
      return safe(Number(view.getBigInt64(0)));
  }
}

function safe(n: number): number | undefined {
  return Number.isSafeInteger(n) ? n : undefined;
}
