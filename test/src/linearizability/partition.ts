// Splitting a history into independent keys (P-compositionality: Horn & Kroening, "Faster
// linearizability checking via P-compositionality", FORTE 2015). Linearizability is local
// (Herlihy & Wing 1990): a history of operations that each touch one object is linearizable iff
// each object's sub-history is. So each znode path is checked alone against a register model.
//
// One operation touches two keys: a sequential create both takes a number from its parent's
// counter and creates a node. It is projected into both partitions (the counter partition and the
// created path's partition). Checking the projections separately is necessary but not sufficient
// for the whole: it never reports a violation the history does not have, and it may miss one that
// needs both keys at once to see. The same holds for the counter partition leaving out
// non-sequential creates, which also advance the counter (so gaps in the numbers are accepted).
import { entryPath } from './history.js';
import type { History, HistoryEntry, Value } from './history.js';
import { ABSENT, SequenceModel, ZnodeModel } from './models.js';
import type { ExplainedModel, SequenceOp, SequenceState, ZnodeOp, ZnodeState } from './models.js';
import type { SearchOp } from './search.js';

export interface Partition<S, O> {
  readonly key: string;
  readonly kind: 'znode' | 'sequence';
  readonly model: ExplainedModel<S, O>;
  readonly ops: readonly SearchOp<O>[];
  /** The history entry each op came from (same index as ops). */
  readonly entries: readonly HistoryEntry[];
  /** Outputs that are wrong in themselves, whatever the order (a sequential name without the prefix). */
  readonly malformed: readonly { readonly entry: HistoryEntry; readonly message: string }[];
}

export type AnyPartition = Partition<ZnodeState, ZnodeOp> | Partition<SequenceState, SequenceOp>;

const SEQUENCE_SUFFIX = /^\d{10}$/;

/** The parent whose counter a sequential create under `prefix` uses ('/q/lock-' → '/q'). */
export function sequenceParent(prefix: string): string {
  const slash = prefix.lastIndexOf('/');
  return slash <= 0 ? '/' : prefix.slice(0, slash);
}

/** The counter in a name created from `prefix`, or undefined when the name is not prefix + 10 digits. */
export function sequenceCounter(prefix: string, name: string): number | undefined {
  if (!name.startsWith(prefix)) return undefined;
  const suffix = name.slice(prefix.length);
  return SEQUENCE_SUFFIX.test(suffix) ? Number(suffix) : undefined;
}

class ZnodeBuilder {
  readonly values: Value[] = [];
  private readonly valueIds = new Map<Value, number>();
  readonly ops: SearchOp<ZnodeOp>[] = [];
  readonly entries: HistoryEntry[] = [];

  constructor(readonly path: string) {}

  valueId(v: Value): number {
    let id = this.valueIds.get(v);
    if (id === undefined) {
      id = this.values.length;
      this.values.push(v);
      this.valueIds.set(v, id);
    }
    return id;
  }

  add(entry: HistoryEntry, op: ZnodeOp): void {
    this.ops.push({ op, callMs: entry.callMs, returnMs: entry.outcome === 'ok' ? entry.returnMs : undefined });
    this.entries.push(entry);
  }
}

class SequenceBuilder {
  readonly ops: SearchOp<SequenceOp>[] = [];
  readonly entries: HistoryEntry[] = [];
  readonly malformed: { entry: HistoryEntry; message: string }[] = [];
}

export function partitionHistory(history: History): AnyPartition[] {
  const znodes = new Map<string, ZnodeBuilder>();
  const sequences = new Map<string, SequenceBuilder>();
  const znode = (path: string): ZnodeBuilder => getOrAdd(znodes, path, () => new ZnodeBuilder(path));
  const sequence = (parent: string): SequenceBuilder => getOrAdd(sequences, parent, () => new SequenceBuilder());
  const pendingSequential: HistoryEntry[] = [];

  for (const entry of history.entries) {
    // A definite failure did not happen; a read with no answer constrains nothing.
    if (entry.outcome === 'failed' || (entry.outcome === 'unknown' && entry.op === 'read')) continue;
    if (entry.op === 'createSequential') {
      addSequential(entry, znode, sequence, pendingSequential);
      continue;
    }
    const b = znode(entryPath(entry));
    b.add(entry, toZnodeOp(entry, b));
  }

  // A possibly-applied sequential create may have made any name of the right shape; its name is
  // unknown, so it is offered (as a possibly-applied create) to every such path the history uses.
  for (const entry of pendingSequential) {
    if (entry.op !== 'createSequential') continue;
    for (const [path, b] of znodes) {
      if (sequenceCounter(entry.input.prefix, path) === undefined) continue;
      b.add(entry, { kind: 'create', valueId: b.valueId(entry.input.value ?? null), result: undefined });
    }
  }

  const partitions: AnyPartition[] = [];
  for (const [path, b] of znodes) {
    const start = history.initial?.[path];
    const tracksVersion = b.ops.some(({ op }) => observesVersion(op));
    const init: ZnodeState =
      start === undefined ? ABSENT : { exists: true, valueId: b.valueId(start.value), version: tracksVersion ? start.version : 0 };
    partitions.push({
      key: path,
      kind: 'znode',
      model: new ZnodeModel(init, b.values, tracksVersion),
      ops: b.ops,
      entries: b.entries,
      malformed: [],
    });
  }
  for (const [parent, b] of sequences) {
    partitions.push({
      key: `sequence counter of ${parent}`,
      kind: 'sequence',
      model: new SequenceModel(),
      ops: b.ops,
      entries: b.entries,
      malformed: b.malformed,
    });
  }
  return partitions;
}

function addSequential(
  entry: HistoryEntry & { op: 'createSequential' },
  znode: (path: string) => ZnodeBuilder,
  sequence: (parent: string) => SequenceBuilder,
  pendingSequential: HistoryEntry[],
): void {
  const { prefix } = entry.input;
  if (entry.outcome === 'unknown') {
    // Its number is unknown, and the counter accepts gaps, so it constrains no counter.
    pendingSequential.push(entry);
    return;
  }
  const output = entry.output;
  if (output === undefined || typeof output === 'string') return; // NONODE / NODEEXISTS: nothing created, counter untouched
  const seq = sequence(sequenceParent(prefix));
  const counter = sequenceCounter(prefix, output.path);
  if (counter === undefined) {
    seq.malformed.push({
      entry,
      message: `created name ${JSON.stringify(output.path)} is not ${JSON.stringify(prefix)} followed by 10 digits`,
    });
    return;
  }
  seq.ops.push({ op: { counter }, callMs: entry.callMs, returnMs: entry.returnMs });
  seq.entries.push(entry);
  const b = znode(output.path);
  b.add(entry, { kind: 'create', valueId: b.valueId(entry.input.value ?? null), result: 'ok' });
}

function observesVersion(op: ZnodeOp): boolean {
  switch (op.kind) {
    case 'read':
      return op.version !== undefined;
    case 'cas':
    case 'delete':
      return op.expectedVersion !== -1;
    case 'write':
    case 'create':
      return false;
  }
}

function toZnodeOp(entry: HistoryEntry, b: ZnodeBuilder): ZnodeOp {
  switch (entry.op) {
    case 'read': {
      const out = entry.output;
      if (out === undefined) throw new Error('partition: a read without an answer reached the znode partition');
      return out.exists
        ? { kind: 'read', exists: true, valueId: b.valueId(out.value), version: out.version }
        : { kind: 'read', exists: false, valueId: -1, version: undefined };
    }
    case 'write':
      return { kind: 'write', valueId: b.valueId(entry.input.value), result: entry.output };
    case 'cas':
      return { kind: 'cas', expectedVersion: entry.input.expectedVersion, valueId: b.valueId(entry.input.value), result: entry.output };
    case 'create':
      return { kind: 'create', valueId: b.valueId(entry.input.value ?? null), result: entry.output };
    case 'delete':
      return { kind: 'delete', expectedVersion: entry.input.expectedVersion ?? -1, result: entry.output };
    case 'createSequential':
      throw new Error('partition: sequential creates are split by addSequential');
  }
}

function getOrAdd<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let v = map.get(key);
  if (v === undefined) {
    v = make();
    map.set(key, v);
  }
  return v;
}
