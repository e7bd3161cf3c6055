// The history format: what clients asked, when, and what they were told. It is the input of the
// checker and the file a failing fault run leaves behind for replay, so it is plain JSON and
// validated field by field on load (a hand-edited or truncated file must fail loudly, not check
// "ok" by accident).

/** Znode data as the checker sees it. null (no data) and '' (empty data) are different values. */
export type Value = string | null;
export type ClientId = string | number;

/** What each kind of operation takes. `expectedVersion` -1 matches any version, as in ZooKeeper. */
export interface OpInput {
  /** getData. */
  read: { path: string };
  /** setData(path, value, -1). */
  write: { path: string; value: Value };
  /** setData(path, value, expectedVersion). */
  cas: { path: string; expectedVersion: number; value: Value };
  /** create(path, value) in a non-sequential mode; value defaults to null. */
  create: { path: string; value?: Value };
  /** create(prefix, value) in a sequential mode: the name is prefix + a 10-digit counter. */
  createSequential: { prefix: string; value?: Value };
  /** delete(path, expectedVersion); expectedVersion defaults to -1. */
  delete: { path: string; expectedVersion?: number };
}

/** A read's answer. `version` (Stat.version) is optional: recording it makes the check stronger. */
export type ReadOutput = { exists: false } | { exists: true; value: Value; version?: number };

/** What each kind of operation answered when it completed. Error names are ZooKeeper's. */
export interface OpOutput {
  read: ReadOutput;
  write: 'ok' | 'NONODE';
  cas: 'ok' | 'BADVERSION' | 'NONODE';
  /** NONODE: the parent is missing (so this node is absent too). */
  create: 'ok' | 'NODEEXISTS' | 'NONODE';
  /** `path` is the name actually created. NODEEXISTS: the generated name was taken. */
  createSequential: { path: string } | 'NONODE' | 'NODEEXISTS';
  /** NOTEMPTY carries no information about this node beyond "it exists and the version matched". */
  delete: 'ok' | 'NONODE' | 'BADVERSION' | 'NOTEMPTY';
}

export type OpKind = keyof OpInput;
export const OP_KINDS: readonly OpKind[] = ['read', 'write', 'cas', 'create', 'createSequential', 'delete'];

/**
 * How an operation ended:
 * - `ok`: it completed and `output` is what the server answered; it took effect at one instant
 *   between `callMs` and `returnMs`.
 * - `failed`: it definitely did not take effect (for example rejected before it was sent). The
 *   checker ignores it; it stays in the file for people reading it.
 * - `unknown`: timed out, lost its connection, or was still pending when the history was taken.
 *   It may have taken effect at any instant after `callMs`, or never: its return time is +∞ and
 *   its output unknown.
 */
export type Outcome = 'ok' | 'failed' | 'unknown';

interface EntryOf<K extends OpKind> {
  /** Unique within a history; the order of invocation. */
  readonly id: number;
  readonly clientId: ClientId;
  readonly op: K;
  readonly input: OpInput[K];
  /** Monotonic milliseconds, taken before the request left the client. */
  readonly callMs: number;
  /** Monotonic milliseconds, taken after the answer arrived; absent unless the outcome is ok or failed. */
  readonly returnMs?: number;
  readonly outcome: Outcome;
  /** Present exactly when the outcome is ok. */
  readonly output?: OpOutput[K];
}

export type HistoryEntry = { [K in OpKind]: EntryOf<K> }[OpKind];

/** Znodes that existed before the first entry; every other path starts absent. */
export type InitialZnodes = Record<string, { value: Value; version: number }>;

export const HISTORY_FORMAT = 'arbor-history';
export const HISTORY_FORMAT_VERSION = 1;

export interface History {
  readonly format: typeof HISTORY_FORMAT;
  readonly formatVersion: typeof HISTORY_FORMAT_VERSION;
  readonly initial?: InitialZnodes;
  readonly entries: readonly HistoryEntry[];
}

/** A malformed history (not a violation of linearizability: the input itself is wrong). */
export class HistoryFormatError extends Error {
  override readonly name = 'HistoryFormatError';
}

export function makeHistory(entries: readonly HistoryEntry[], initial?: InitialZnodes): History {
  const history: History = { format: HISTORY_FORMAT, formatVersion: HISTORY_FORMAT_VERSION, entries };
  return initial === undefined ? history : { ...history, initial };
}

/** The input of the entry, with defaults filled in: the path (or prefix) it is about. */
export function entryPath(entry: HistoryEntry): string {
  return entry.op === 'createSequential' ? entry.input.prefix : entry.input.path;
}

/**
 * Validates untrusted JSON (a parsed file) into a History. Accepts a bare array of entries too.
 * Throws HistoryFormatError naming the first bad entry and field.
 */
export function parseHistory(json: unknown): History {
  const raw: unknown = Array.isArray(json) ? { format: HISTORY_FORMAT, formatVersion: HISTORY_FORMAT_VERSION, entries: json } : json;
  if (!isRecord(raw)) throw new HistoryFormatError('history: expected an object or an array of entries');
  if (raw['format'] !== HISTORY_FORMAT) throw new HistoryFormatError(`history: format must be '${HISTORY_FORMAT}'`);
  if (raw['formatVersion'] !== HISTORY_FORMAT_VERSION) {
    throw new HistoryFormatError(`history: formatVersion ${String(raw['formatVersion'])} is not ${HISTORY_FORMAT_VERSION}`);
  }
  const entriesRaw = raw['entries'];
  if (!Array.isArray(entriesRaw)) throw new HistoryFormatError('history: entries must be an array');
  const ids = new Set<number>();
  const entries = entriesRaw.map((e: unknown, i) => {
    const entry = parseEntry(e, `entries[${i}]`);
    if (ids.has(entry.id)) throw new HistoryFormatError(`entries[${i}]: duplicate id ${entry.id}`);
    ids.add(entry.id);
    return entry;
  });
  const initial = raw['initial'] === undefined ? undefined : parseInitial(raw['initial']);
  return makeHistory(entries, initial);
}

function parseInitial(raw: unknown): InitialZnodes {
  if (!isRecord(raw)) throw new HistoryFormatError('initial: expected an object of path → {value, version}');
  const out: InitialZnodes = {};
  for (const [path, node] of Object.entries(raw)) {
    const where = `initial[${JSON.stringify(path)}]`;
    if (!isRecord(node)) throw new HistoryFormatError(`${where}: expected {value, version}`);
    out[path] = { value: valueField(node, 'value', where), version: intField(node, 'version', where, 0) };
  }
  return out;
}

function parseEntry(raw: unknown, where: string): HistoryEntry {
  if (!isRecord(raw)) throw new HistoryFormatError(`${where}: expected an object`);
  const id = intField(raw, 'id', where, 0);
  const clientId = raw['clientId'];
  if (typeof clientId !== 'string' && !(typeof clientId === 'number' && Number.isFinite(clientId))) {
    throw new HistoryFormatError(`${where}.clientId: expected a string or a number`);
  }
  const op = raw['op'];
  if (typeof op !== 'string' || !(OP_KINDS as readonly string[]).includes(op)) {
    throw new HistoryFormatError(`${where}.op: expected one of ${OP_KINDS.join(', ')}`);
  }
  const callMs = finiteField(raw, 'callMs', where);
  const outcome = raw['outcome'];
  if (outcome !== 'ok' && outcome !== 'failed' && outcome !== 'unknown') {
    throw new HistoryFormatError(`${where}.outcome: expected ok, failed or unknown`);
  }
  let returnMs: number | undefined;
  if (outcome === 'unknown') {
    if (raw['returnMs'] !== undefined && raw['returnMs'] !== null) {
      throw new HistoryFormatError(`${where}.returnMs: an unknown outcome has no return time`);
    }
  } else {
    returnMs = finiteField(raw, 'returnMs', where);
    if (returnMs < callMs) throw new HistoryFormatError(`${where}.returnMs: ${returnMs} is before callMs ${callMs}`);
  }
  const kind = op as OpKind;
  const input = parseInput(kind, raw['input'], `${where}.input`);
  if (outcome !== 'ok') {
    if (raw['output'] !== undefined && raw['output'] !== null) {
      throw new HistoryFormatError(`${where}.output: only an ok outcome has an output`);
    }
    return { id, clientId, op: kind, input, callMs, returnMs, outcome } as HistoryEntry;
  }
  const output = parseOutput(kind, raw['output'], `${where}.output`);
  return { id, clientId, op: kind, input, callMs, returnMs, outcome, output } as HistoryEntry;
}

function parseInput(op: OpKind, raw: unknown, where: string): OpInput[OpKind] {
  if (!isRecord(raw)) throw new HistoryFormatError(`${where}: expected an object`);
  switch (op) {
    case 'read':
      return { path: pathField(raw, 'path', where) };
    case 'write':
      return { path: pathField(raw, 'path', where), value: valueField(raw, 'value', where) };
    case 'cas':
      return {
        path: pathField(raw, 'path', where),
        expectedVersion: intField(raw, 'expectedVersion', where, Number.MIN_SAFE_INTEGER),
        value: valueField(raw, 'value', where),
      };
    case 'create':
      return { path: pathField(raw, 'path', where), value: raw['value'] === undefined ? null : valueField(raw, 'value', where) };
    case 'createSequential':
      return { prefix: pathField(raw, 'prefix', where), value: raw['value'] === undefined ? null : valueField(raw, 'value', where) };
    case 'delete':
      return {
        path: pathField(raw, 'path', where),
        expectedVersion: raw['expectedVersion'] === undefined ? -1 : intField(raw, 'expectedVersion', where, Number.MIN_SAFE_INTEGER),
      };
  }
}

const CODE_OUTPUTS: Record<Exclude<OpKind, 'read' | 'createSequential'>, readonly string[]> = {
  write: ['ok', 'NONODE'],
  cas: ['ok', 'BADVERSION', 'NONODE'],
  create: ['ok', 'NODEEXISTS', 'NONODE'],
  delete: ['ok', 'NONODE', 'BADVERSION', 'NOTEMPTY'],
};

function parseOutput(op: OpKind, raw: unknown, where: string): OpOutput[OpKind] {
  if (op === 'read') {
    if (!isRecord(raw) || typeof raw['exists'] !== 'boolean') throw new HistoryFormatError(`${where}: expected {exists, value?, version?}`);
    if (!raw['exists']) return { exists: false };
    const value = valueField(raw, 'value', where);
    return raw['version'] === undefined ? { exists: true, value } : { exists: true, value, version: intField(raw, 'version', where, 0) };
  }
  if (op === 'createSequential') {
    if (raw === 'NONODE' || raw === 'NODEEXISTS') return raw;
    if (!isRecord(raw)) throw new HistoryFormatError(`${where}: expected {path}, NONODE or NODEEXISTS`);
    return { path: pathField(raw, 'path', where) };
  }
  const allowed = CODE_OUTPUTS[op];
  if (typeof raw !== 'string' || !allowed.includes(raw)) throw new HistoryFormatError(`${where}: expected one of ${allowed.join(', ')}`);
  return raw as OpOutput[typeof op];
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function pathField(raw: Record<string, unknown>, field: string, where: string): string {
  const v = raw[field];
  if (typeof v !== 'string' || !v.startsWith('/')) throw new HistoryFormatError(`${where}.${field}: expected an absolute path`);
  return v;
}

function valueField(raw: Record<string, unknown>, field: string, where: string): Value {
  const v = raw[field];
  if (v !== null && typeof v !== 'string') throw new HistoryFormatError(`${where}.${field}: expected a string or null`);
  return v;
}

function intField(raw: Record<string, unknown>, field: string, where: string, min: number): number {
  const v = raw[field];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
    throw new HistoryFormatError(`${where}.${field}: expected an integer ≥ ${min}`);
  }
  return v;
}

function finiteField(raw: Record<string, unknown>, field: string, where: string): number {
  const v = raw[field];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new HistoryFormatError(`${where}.${field}: expected a finite number`);
  return v;
}
