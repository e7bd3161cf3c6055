import type { EntryType } from '@arbor/raft';
import { crc32 } from './crc32.js';

// Checksums of what the storage writes into SQLite. SQLite protects against torn writes (its
// journal) but not against a flipped bit in a page that was written correctly, so every row
// carries a CRC-32 of its content, checked when the row is loaded at start-up.

/** Entry types as stored in the `type` column. The numbers are part of the on-disk format. */
const ENTRY_TYPE_CODES: Readonly<Record<EntryType, number>> = { normal: 0, noop: 1, confChange: 2 };
const ENTRY_TYPES: readonly EntryType[] = ['normal', 'noop', 'confChange'];

export function entryTypeCode(type: EntryType): number {
  return ENTRY_TYPE_CODES[type];
}

/** The entry type stored as `code`, or undefined for a code this format does not define. */
export function entryTypeFromCode(code: number): EntryType | undefined {
  return ENTRY_TYPES[code];
}

const scratch = new DataView(new ArrayBuffer(17));
const scratchBytes = new Uint8Array(scratch.buffer);

function putUint64(offset: number, value: number): void {
  scratch.setUint32(offset, value % 0x1_0000_0000, true);
  scratch.setUint32(offset + 4, Math.floor(value / 0x1_0000_0000), true);
}

/**
 * CRC-32 over index (u64 LE) ‖ term (u64 LE) ‖ type code (u8) ‖ data; 0 for an entry without
 * data. That 0 is the format as written so far: native zlib.crc32 returned 0 instead of the running
 * CRC for an empty buffer that has no memory behind it, which is what a structured clone handed
 * the worker and what SQLite hands back for an empty blob. crc32() no longer has that quirk (it
 * continues the running CRC for any empty input), so the rule is kept here, explicitly.
 */
export function entryChecksum(index: number, term: number, typeCode: number, data: Uint8Array): number {
  if (data.length === 0) return 0;
  putUint64(0, index);
  putUint64(8, term);
  scratch.setUint8(16, typeCode);
  return crc32(data, crc32(scratchBytes));
}

const textEncoder = new TextEncoder();

/**
 * CRC-32 of a row of scalar fields (hard state, log boundary, snapshot record). Each field is
 * tagged with its kind so that, e.g., (null, 1) and (1, null) differ.
 */
export function rowChecksum(fields: readonly (number | string | null)[]): number {
  let crc = 0;
  const cell = new DataView(new ArrayBuffer(9));
  const cellBytes = new Uint8Array(cell.buffer);
  for (const field of fields) {
    if (field === null) {
      cell.setUint8(0, 0);
      crc = crc32(cellBytes.subarray(0, 1), crc);
    } else if (typeof field === 'number') {
      cell.setUint8(0, 1);
      cell.setFloat64(1, field, true);
      crc = crc32(cellBytes, crc);
    } else {
      const text = textEncoder.encode(field);
      cell.setUint8(0, 2);
      cell.setFloat64(1, text.length, true);
      crc = crc32(text, crc32(cellBytes, crc));
    }
  }
  return crc;
}
