// The linearizability search for one partition of a history against one sequential model.
//
// Wing & Gong, "Testing and verifying concurrent objects" (JPDC 1993): walk the history's call
// and return events in time order; any operation whose call precedes the first remaining return
// may be linearized next; try each, recurse, and backtrack when a return is reached with its
// operation still unplaced. Lowe, "Testing for linearizability" (CC:P&E 2017) adds the memo that
// makes this practical: the outcome of the remaining search depends only on which operations are
// linearized and on the model state, so a (set, state) pair seen before is never explored again.
// Layout after Porcupine (anishathalye/porcupine, checker.go): events in a doubly linked list,
// linearized operations lifted out of it and put back on backtrack (dancing links), the set a
// bitset with an incrementally maintained Zobrist hash.
//
// Operations without a return time ("possibly applied") have a call event and no return event:
// they stay candidates from their call on, and the search succeeds once every operation that did
// return is placed, so leaving one unplaced means "never took effect". Placing one where it would
// not change the state is skipped, since that is the same as not placing it. (Trying them only
// after the returned candidates, or pruning with subset-dominated memo entries, measured no
// better on simulated histories, so the plain call-order scan stays.)

/** A deterministic sequential specification. */
export interface SearchModel<S, O> {
  readonly init: S;
  /** The state after `op`, or undefined when `op`'s recorded output is impossible in `state`. */
  step(state: S, op: O): S | undefined;
  /** A 32-bit hash consistent with equal(). */
  hash(state: S): number;
  equal(a: S, b: S): boolean;
  /**
   * True when `op`, wherever step() accepts it, leaves the state unchanged (a read, or a write
   * that answered an error). Such an op that fits the current state and may go next is placed at
   * once, without trying the orders that place it later: moving it to the front of any valid
   * linearization from here keeps that linearization valid, because it changes nothing and, being
   * a candidate, precedes no remaining return in real time. This turns the 2^k subsets of k
   * concurrent reads into one path. Optional: without it every op is searched.
   */
  preservesState?(op: O): boolean;
}

export interface SearchOp<O> {
  readonly op: O;
  readonly callMs: number;
  /** undefined: possibly applied at any time after the call, or never. */
  readonly returnMs: number | undefined;
}

export interface SearchBudget {
  /** Search iterations before giving up with `unknown`. */
  readonly maxSteps: number;
  /** Approximate bytes the memo may hold before giving up with `unknown`. */
  readonly maxMemoBytes: number;
  /** Absolute deadline on `nowMs()`'s clock. */
  readonly deadlineMs: number;
  readonly nowMs: () => number;
}

/** The longest linearizable prefix found: operation indices in linearization order and the state after each. */
export interface PartialLinearization<S> {
  readonly order: readonly number[];
  readonly states: readonly S[];
}

export type SearchResult<S> =
  | { readonly status: 'ok'; readonly steps: number; readonly order: readonly number[] }
  | { readonly status: 'violation'; readonly steps: number; readonly longest: PartialLinearization<S> }
  | { readonly status: 'unknown'; readonly steps: number; readonly reason: string; readonly longest: PartialLinearization<S> };

const NIL = -1;
const HEAD = 0;
/** How often (in steps) the deadline is read: the clock is not free. */
const CLOCK_EVERY_STEPS = 4096;

interface Frame<S> {
  readonly op: number;
  readonly stateBefore: S;
  /** Placed without trying alternatives (a state-preserving op): its failure is its parent's. */
  readonly forced: boolean;
}

export function searchLinearization<S, O>(model: SearchModel<S, O>, ops: readonly SearchOp<O>[], budget: SearchBudget): SearchResult<S> {
  const list = EventList.build(ops);
  const memo = new Memo(model, ops.length, budget.maxMemoBytes);
  const stack: Frame<S>[] = [];
  let remainingReturned = ops.filter((o) => o.returnMs !== undefined).length;
  let state = model.init;
  let steps = 0;

  // The longest prefix reached, kept incrementally: `divergedAt` is the lowest stack depth since
  // the last record, so only the changed tail is copied and a search without backtracking pays O(1).
  const bestOrder: number[] = [];
  const bestStates: S[] = [];
  let divergedAt = 0;
  const recordBest = (): void => {
    bestOrder.length = divergedAt;
    bestStates.length = divergedAt;
    for (let d = divergedAt; d < stack.length; d++) {
      bestOrder.push(stack[d]!.op);
      bestStates.push(d + 1 < stack.length ? stack[d + 1]!.stateBefore : state);
    }
    divergedAt = stack.length;
  };
  const longest = (): PartialLinearization<S> => ({ order: [...bestOrder], states: [...bestStates] });

  let node = list.links.next[HEAD]!;
  // Undoes frames until one leaves an alternative to try, and moves `node` to it; false when none
  // is left. A failed forced frame proves the configuration it was placed from dead (see
  // SearchModel.preservesState), so unwinding goes on past it.
  const backtrack = (): boolean => {
    for (;;) {
      const frame = stack.pop();
      if (frame === undefined) return false;
      divergedAt = Math.min(divergedAt, stack.length);
      state = frame.stateBefore;
      memo.toggle(frame.op);
      if (ops[frame.op]!.returnMs !== undefined) remainingReturned++;
      list.unlift(frame.op);
      if (!frame.forced) {
        node = list.links.next[list.callNode[frame.op]!]!;
        return true;
      }
    }
  };

  while (remainingReturned > 0) {
    steps++;
    if (steps > budget.maxSteps)
      return { status: 'unknown', steps, reason: `search budget of ${budget.maxSteps} steps exhausted`, longest: longest() };
    if (steps % CLOCK_EVERY_STEPS === 0 && budget.nowMs() > budget.deadlineMs) {
      return { status: 'unknown', steps, reason: 'time budget exhausted', longest: longest() };
    }
    // A return event is always ahead while an operation that returned is unplaced.
    if (node === NIL) throw new Error('linearizability search: ran off the event list with returned operations unplaced');
    const opIndex = list.op[node]!;
    if (list.isCall[node] === 0) {
      // A return event: its operation had to be linearized by now and was not.
      if (!backtrack()) return { status: 'violation', steps, longest: longest() };
      continue;
    }
    const candidate = ops[opIndex]!;
    const isPending = candidate.returnMs === undefined;
    const next = model.step(state, candidate.op);
    if (next === undefined || (isPending && model.equal(next, state))) {
      node = list.links.next[node]!;
      continue;
    }
    const forced = !isPending && model.preservesState?.(candidate.op) === true;
    memo.toggle(opIndex);
    if (!memo.visit(next)) {
      memo.toggle(opIndex);
      // Seen before means failed before; for a forced op that dooms this configuration too.
      if (!forced) node = list.links.next[node]!;
      else if (!backtrack()) return { status: 'violation', steps, longest: longest() };
      continue;
    }
    if (memo.full) return { status: 'unknown', steps, reason: `memo budget of ${budget.maxMemoBytes} bytes exhausted`, longest: longest() };
    stack.push({ op: opIndex, stateBefore: state, forced });
    state = next;
    if (!isPending) remainingReturned--;
    list.lift(opIndex);
    if (stack.length > bestOrder.length) recordBest();
    node = list.links.next[HEAD]!;
  }
  return { status: 'ok', steps, order: stack.map((f) => f.op) };
}

/**
 * The configurations already explored: (set of ops placed, state). Every one of them has failed
 * (success ends the search, and a configuration cannot recur below itself since the set only
 * grows along a path), so meeting one again ends that branch.
 */
class Memo<S, O> {
  private readonly bits: Uint32Array;
  /** Zobrist hash of `bits`, kept up to date by toggle(). */
  private setHash = 0;
  private readonly zobrist: Uint32Array;
  private readonly buckets = new Map<number, { bits: Uint32Array; state: S }[]>();
  private readonly entriesMax: number;
  private entries = 0;

  constructor(
    private readonly model: SearchModel<S, O>,
    opCount: number,
    maxBytes: number,
  ) {
    this.bits = new Uint32Array(Math.max(1, Math.ceil(opCount / 32)));
    this.zobrist = zobristKeys(opCount);
    // An entry holds a copy of the bitset plus object and array overhead (about 80 bytes in V8).
    this.entriesMax = Math.floor(maxBytes / (this.bits.length * 4 + 80));
  }

  get full(): boolean {
    return this.entries > this.entriesMax;
  }

  /** Adds an op to, or removes it from, the current set. */
  toggle(op: number): void {
    this.bits[op >>> 5] = this.bits[op >>> 5]! ^ (1 << (op & 31));
    this.setHash ^= this.zobrist[op]!;
  }

  /** Records (current set, state); false when it was already recorded. */
  visit(state: S): boolean {
    const key = (Math.imul(this.model.hash(state), 0x9e3779b1) ^ this.setHash) >>> 0;
    const bucket = this.buckets.get(key);
    if (bucket !== undefined) {
      for (const e of bucket) if (this.model.equal(e.state, state) && sameBits(e.bits, this.bits)) return false;
    }
    const entry = { bits: this.bits.slice(), state };
    if (bucket === undefined) this.buckets.set(key, [entry]);
    else bucket.push(entry);
    this.entries++;
    return true;
  }
}

function sameBits(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Fixed pseudo-random keys (xorshift32): the search is deterministic, so failures replay. */
function zobristKeys(n: number): Uint32Array {
  const keys = new Uint32Array(n);
  let x = 0x2545f491;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    keys[i] = x >>> 0;
  }
  return keys;
}

/**
 * A doubly linked list over typed arrays; node 0 is the head sentinel. A removed node keeps its
 * own links, so it can be put back (dancing links), provided removals and reinsertions nest like
 * a stack, which the search's frames guarantee.
 */
class Links {
  readonly next: Int32Array;
  readonly prev: Int32Array;

  constructor(size: number) {
    this.next = new Int32Array(size);
    this.prev = new Int32Array(size);
    for (let i = 0; i < size; i++) {
      this.prev[i] = i - 1;
      this.next[i] = i + 1 < size ? i + 1 : NIL;
    }
  }

  unlink(node: number): void {
    const p = this.prev[node]!;
    const n = this.next[node]!;
    this.next[p] = n;
    if (n !== NIL) this.prev[n] = p;
  }

  relink(node: number): void {
    const p = this.prev[node]!;
    const n = this.next[node]!;
    this.next[p] = node;
    if (n !== NIL) this.prev[n] = node;
  }
}

/**
 * Call and return events in time order (possibly-applied ops have no return event). At equal
 * times calls sort before returns: two operations whose return and call carry the same timestamp
 * are treated as concurrent, the reading that never reports a false violation.
 */
class EventList {
  private constructor(
    readonly links: Links,
    readonly op: Int32Array,
    readonly isCall: Uint8Array,
    readonly callNode: Int32Array,
    readonly returnNode: Int32Array,
  ) {}

  static build<O>(ops: readonly SearchOp<O>[]): EventList {
    const events: { op: number; call: boolean; t: number }[] = [];
    ops.forEach((o, i) => {
      events.push({ op: i, call: true, t: o.callMs });
      if (o.returnMs !== undefined) events.push({ op: i, call: false, t: o.returnMs });
    });
    events.sort((a, b) => a.t - b.t || Number(b.call) - Number(a.call) || a.op - b.op);
    const size = events.length + 1;
    const list = new EventList(
      new Links(size),
      new Int32Array(size).fill(NIL),
      new Uint8Array(size),
      new Int32Array(ops.length).fill(NIL),
      new Int32Array(ops.length).fill(NIL),
    );
    events.forEach((e, k) => {
      list.op[k + 1] = e.op;
      list.isCall[k + 1] = e.call ? 1 : 0;
      (e.call ? list.callNode : list.returnNode)[e.op] = k + 1;
    });
    return list;
  }

  /** Removes an operation's events. */
  lift(opIndex: number): void {
    this.links.unlink(this.callNode[opIndex]!);
    const ret = this.returnNode[opIndex]!;
    if (ret !== NIL) this.links.unlink(ret);
  }

  unlift(opIndex: number): void {
    const ret = this.returnNode[opIndex]!;
    if (ret !== NIL) this.links.relink(ret);
    this.links.relink(this.callNode[opIndex]!);
  }
}
