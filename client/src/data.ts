/**
 * Znode data is bytes (Uint8Array). Writes also take a string (stored as UTF-8); these helpers
 * convert both ways and carry JSON. `null` data and empty data are different values.
 */

/** What a write accepts: bytes, a string (UTF-8), or null (no data, distinct from empty). */
export type ZnodeData = Uint8Array | string | null;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 bytes of a string. */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** The string UTF-8 bytes hold; throws TypeError on invalid UTF-8. */
export function fromUtf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

/** Bytes for a write: strings become UTF-8, bytes and null pass through. */
export function toBytes(data: ZnodeData | undefined): Uint8Array | null {
  if (data === undefined || data === null) return null;
  return typeof data === 'string' ? utf8(data) : data;
}

/** JSON text of a value, as UTF-8 bytes. */
export function encodeJSON(value: unknown): Uint8Array {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError(`cannot encode ${typeof value} as JSON`);
  return utf8(text);
}

/** Parses UTF-8 JSON bytes. */
export function decodeJSON<T = unknown>(bytes: Uint8Array): T {
  return JSON.parse(fromUtf8(bytes)) as T;
}
