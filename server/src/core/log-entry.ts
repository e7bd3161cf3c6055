import { packValue, unpackValue } from '@arbor/protocol';
import type { Txn } from '@arbor/tree';

/**
 * The member's log entry format: one stamped Txn per normal Raft entry, without its zxid (the
 * zxid is the entry's log index, so it is never stored twice and cannot disagree). Every state
 * change goes through here (ARCHITECTURE.md): session open/close/expire, znode writes, reaps.
 * The leader stamps time, session, request id and identities before proposing, so that applying
 * is a pure function of the tree and the entry on every member.
 */
export const LOG_ENTRY_VERSION = 1;

/** A Txn as proposed: everything but the zxid. */
export type StampedTxn = Omit<Txn, 'zxid'>;

interface WireEntry {
  v: number;
  t: number;
  s: number;
  r?: number;
  a?: number;
  i: Txn['identities'];
  o: Txn['op'];
}

export function encodeLogEntry(txn: StampedTxn): Uint8Array {
  const wire: WireEntry = { v: LOG_ENTRY_VERSION, t: txn.timeMs, s: txn.sessionId, i: txn.identities, o: txn.op };
  if (txn.requestId !== undefined) wire.r = txn.requestId;
  if (txn.ackedRequestId !== undefined) wire.a = txn.ackedRequestId;
  return packValue(wire);
}

/** Thrown for an entry this build cannot read: the log is not ours or is damaged; the member must stop. */
export class LogEntryError extends Error {
  override name = 'LogEntryError';
}

/**
 * Decodes the entry at log index `zxid`. Field-level checks of the op are the tree's (it turns
 * bad ops into error results); this checks only the envelope needed to build a Txn.
 */
export function decodeLogEntry(zxid: number, data: Uint8Array): Txn {
  let value: unknown;
  try {
    value = unpackValue(data);
  } catch (e) {
    throw new LogEntryError(`log entry ${zxid} is not msgpack: ${(e as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new LogEntryError(`log entry ${zxid} is not a map`);
  const w = value as Partial<WireEntry>;
  if (w.v !== LOG_ENTRY_VERSION)
    throw new LogEntryError(`log entry ${zxid} has format version ${String(w.v)}, expected ${LOG_ENTRY_VERSION}`);
  if (typeof w.t !== 'number' || typeof w.s !== 'number' || !Array.isArray(w.i) || typeof w.o !== 'object' || w.o === null) {
    throw new LogEntryError(`log entry ${zxid} lacks time, session, identities or op`);
  }
  const txn: Txn = { zxid, timeMs: w.t, sessionId: w.s, identities: w.i, op: w.o };
  if (w.r !== undefined) txn.requestId = w.r;
  if (w.a !== undefined) txn.ackedRequestId = w.a;
  return txn;
}
