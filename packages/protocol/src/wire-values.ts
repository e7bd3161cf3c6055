/**
 * Prepares a message for msgpackr so that its bytes are portable msgpack that a client in any
 * language reads with its ordinary integer and map types:
 *
 * - integers outside the 32-bit range (zxids after 4 billion entries, times in ms, session ids)
 *   become BigInt, which msgpackr writes as int64; a plain number there would go out as a
 *   float64, which strict decoders refuse where they expect an integer;
 * - undefined properties are left out (msgpackr would write them as an extension type);
 * - only own enumerable properties of plain objects are copied; Uint8Array goes out as bin.
 *
 * Returns a copy; the input is not modified. Values Arbor never sends (functions, symbols,
 * Maps, Dates) are passed through and msgpackr decides; the encoders never produce them.
 */
export function toWire(value: unknown): unknown {
  switch (typeof value) {
    case 'number':
      return isWideInteger(value) ? BigInt(value) : value;
    case 'object':
      if (value === null || value instanceof Uint8Array) return value;
      if (Array.isArray(value)) return value.map(toWire);
      return objectToWire(value as Record<string, unknown>);
    default:
      return value;
  }
}

const INT32_MIN = -0x8000_0000;
const UINT32_MAX = 0xffff_ffff;

function isWideInteger(n: number): boolean {
  return (n > UINT32_MAX || n < INT32_MIN) && Number.isSafeInteger(n);
}

function objectToWire(object: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(object)) {
    const v = object[key];
    if (v !== undefined) out[key] = toWire(v);
  }
  return out;
}
