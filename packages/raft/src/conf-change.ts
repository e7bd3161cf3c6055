// Single-server membership changes (thesis §4.1): the change itself, its wire form inside a
// confChange entry, and how it transforms a ConfState.
//
// Decision: a configuration takes effect on a member as soon as its entry is appended to that
// member's log, committed or not (thesis §4.1: "a server always uses the latest configuration
// in its log"). If the entry is later removed by a conflicting append, the member reverts to the
// previous configuration in its log (ConfigHistory). Single-server changes are safe under this
// rule because any two majorities of adjacent configurations overlap; the leader enforces that
// at most one change is uncommitted at a time, and that it has committed an entry of its own term
// before starting one (the fix to the single-server change bug, Ongaro 2015).

import { assert } from './assert.js';
import type { ConfChange, ConfChangeType, ConfState, Entry, HardState, NodeId } from './types.js';

const CONF_CHANGE_VERSION = 1;
const TYPE_CODES: Record<ConfChangeType, number> = { addVoter: 1, addLearner: 2, removeMember: 3 };
const CODE_TYPES: readonly (ConfChangeType | undefined)[] = [undefined, 'addVoter', 'addLearner', 'removeMember'];

/** version(1) type(1) memberId(varint) contextLength(varint) context. */
export function encodeConfChange(change: ConfChange): Uint8Array {
  assertNodeId(change.memberId);
  const out: number[] = [CONF_CHANGE_VERSION, TYPE_CODES[change.type]];
  writeVarint(out, change.memberId);
  writeVarint(out, change.context.length);
  const bytes = new Uint8Array(out.length + change.context.length);
  bytes.set(out, 0);
  bytes.set(change.context, out.length);
  return bytes;
}

/** Inverse of encodeConfChange; throws RangeError on malformed input. */
export function decodeConfChange(data: Uint8Array): ConfChange {
  if (data[0] !== CONF_CHANGE_VERSION) throw new RangeError(`unknown conf change version ${data[0]}`);
  const type = CODE_TYPES[data[1] ?? 0];
  if (type === undefined) throw new RangeError(`unknown conf change type ${data[1]}`);
  const cursor = { at: 2 };
  const memberId = readVarint(data, cursor);
  const contextLength = readVarint(data, cursor);
  if (cursor.at + contextLength !== data.length) throw new RangeError('conf change length mismatch');
  return { type, memberId, context: data.slice(cursor.at) };
}

function writeVarint(out: number[], value: number): void {
  assert(Number.isSafeInteger(value) && value >= 0, `varint out of range: ${value}`);
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}

function readVarint(data: Uint8Array, cursor: { at: number }): number {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 8; i++) {
    const byte = data[cursor.at++];
    if (byte === undefined) throw new RangeError('truncated varint');
    value += (byte & 0x7f) * scale;
    if ((byte & 0x80) === 0) return value;
    scale *= 0x80;
  }
  throw new RangeError('varint too long');
}

export function assertNodeId(id: NodeId): void {
  if (!Number.isSafeInteger(id) || id <= 0) throw new RangeError(`member id must be a positive integer, got ${id}`);
}

/**
 * Applies `change` to `conf`, or explains why it is not a valid single-server change. Pure;
 * used both to validate a proposal on the leader and to act on an appended entry everywhere.
 */
export function applyConfChange(conf: ConfState, change: ConfChange): ConfState | string {
  const id = change.memberId;
  const isVoter = conf.voters.includes(id);
  const isLearner = conf.learners.includes(id);
  const voters = conf.voters.filter((v) => v !== id);
  const learners = conf.learners.filter((l) => l !== id);
  switch (change.type) {
    case 'addVoter':
      if (isVoter) return `member ${id} is already a voter`;
      voters.push(id);
      break;
    case 'addLearner':
      if (isLearner) return `member ${id} is already a learner`;
      if (isVoter && voters.length === 0) return `cannot demote the last voter ${id}`;
      learners.push(id);
      break;
    case 'removeMember':
      if (!isVoter && !isLearner) return `member ${id} is not a member`;
      if (isVoter && voters.length === 0) return `cannot remove the last voter ${id}`;
      break;
  }
  return { voters: voters.sort(byNumber), learners: learners.sort(byNumber) };
}

const byNumber = (a: number, b: number): number => a - b;

export function confStatesEqual(a: ConfState, b: ConfState): boolean {
  return sameList(a.voters, b.voters) && sameList(a.learners, b.learners);
}

function sameList(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

export function formatConfState(conf: ConfState): string {
  const learners = conf.learners.length > 0 ? ` learners=${conf.learners.join(',')}` : '';
  return `voters=${conf.voters.join(',')}${learners}`;
}

/**
 * The first writes of a brand-new ensemble, identical on every founding member: one addVoter
 * entry per voter at indices 1..n in term 1, already committed. The host appends `entries` and
 * saves `hardState` before creating its first RawNode. A member joining later starts with empty
 * storage instead; it learns every configuration from the leader's log (or a snapshot).
 */
export function bootstrapEntries(voters: readonly NodeId[]): { entries: Entry[]; hardState: HardState } {
  assert(voters.length > 0, 'bootstrap needs at least one voter');
  const sorted = [...voters].sort(byNumber);
  assert(
    sorted.every((v, i) => i === 0 || v !== sorted[i - 1]),
    'bootstrap voters must be distinct',
  );
  const entries = sorted.map((memberId, i): Entry => ({
    index: i + 1,
    term: 1,
    type: 'confChange',
    data: encodeConfChange({ type: 'addVoter', memberId, context: new Uint8Array(0) }),
  }));
  return { entries, hardState: { term: 1, vote: null, commit: entries.length } };
}
