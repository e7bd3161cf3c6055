// The sequential specifications the checker compares histories against, one per kind of key.
// Both are deterministic: an operation with a known output either fits the state or not, and an
// operation with an unknown output ("possibly applied") has exactly one effect when placed —
// leaving it unplaced is how the search expresses "never took effect".
import type { SearchModel } from './search.js';
import type { Value } from './history.js';

/** A model the checker can also explain to a person when a history does not fit it. */
export interface ExplainedModel<S, O> extends SearchModel<S, O> {
  /** Why `op` cannot follow `state`, or undefined when it can. */
  explain(state: S, op: O): string | undefined;
  describeState(state: S): string;
}

// ---------------------------------------------------------------------------------------------
// One znode as a register: absent, or present with a value and a data version (Stat.version).

export interface ZnodeState {
  readonly exists: boolean;
  /** Index into the partition's value table; -1 when absent. */
  readonly valueId: number;
  /** Stat.version; -1 when absent. */
  readonly version: number;
}

/** Outputs are undefined for operations whose outcome is unknown. */
export type ZnodeOp =
  | { readonly kind: 'read'; readonly exists: boolean; readonly valueId: number; readonly version: number | undefined }
  | { readonly kind: 'write'; readonly valueId: number; readonly result: 'ok' | 'NONODE' | undefined }
  | {
      readonly kind: 'cas';
      readonly expectedVersion: number;
      readonly valueId: number;
      readonly result: 'ok' | 'BADVERSION' | 'NONODE' | undefined;
    }
  | { readonly kind: 'create'; readonly valueId: number; readonly result: 'ok' | 'NODEEXISTS' | 'NONODE' | undefined }
  | { readonly kind: 'delete'; readonly expectedVersion: number; readonly result: 'ok' | 'NONODE' | 'BADVERSION' | 'NOTEMPTY' | undefined };

export const ABSENT: ZnodeState = { exists: false, valueId: -1, version: -1 };

/** -1 matches any version; any other negative number matches none (ZooKeeper's rule). */
function versionMatches(expected: number, actual: number): boolean {
  return expected === -1 || expected === actual;
}

export class ZnodeModel implements ExplainedModel<ZnodeState, ZnodeOp> {
  /**
   * @param values the partition's value table: ops and states name values by index into it.
   * @param tracksVersion false when no op of the partition can observe the version (no read
   *   records one, every cas and delete expects -1). Versions are then all kept at 0, so branches
   *   of the search that differ only in how many writes were applied meet again in the memo.
   */
  constructor(
    readonly init: ZnodeState,
    private readonly values: readonly Value[],
    private readonly tracksVersion = true,
  ) {}

  step(s: ZnodeState, op: ZnodeOp): ZnodeState | undefined {
    switch (op.kind) {
      case 'read':
        if (!s.exists) return op.exists ? undefined : s;
        return op.exists && op.valueId === s.valueId && (op.version === undefined || op.version === s.version) ? s : undefined;
      case 'write':
        return this.setData(s, -1, op.valueId, op.result);
      case 'cas':
        return this.setData(s, op.expectedVersion, op.valueId, op.result);
      case 'create':
        if (op.result === undefined) return s.exists ? s : { exists: true, valueId: op.valueId, version: 0 };
        if (op.result === 'ok') return s.exists ? undefined : { exists: true, valueId: op.valueId, version: 0 };
        if (op.result === 'NODEEXISTS') return s.exists ? s : undefined;
        return s.exists ? undefined : s; // NONODE: the parent is missing, so this node is too
      case 'delete': {
        const match = s.exists && versionMatches(op.expectedVersion, s.version);
        if (op.result === undefined) return match ? ABSENT : s;
        if (op.result === 'ok') return match ? ABSENT : undefined;
        if (op.result === 'NOTEMPTY') return match ? s : undefined;
        if (op.result === 'NONODE') return s.exists ? undefined : s;
        return s.exists && !match ? s : undefined; // BADVERSION
      }
    }
  }

  private setData(
    s: ZnodeState,
    expectedVersion: number,
    valueId: number,
    result: 'ok' | 'BADVERSION' | 'NONODE' | undefined,
  ): ZnodeState | undefined {
    const match = s.exists && versionMatches(expectedVersion, s.version);
    const written: ZnodeState = { exists: true, valueId, version: this.tracksVersion ? s.version + 1 : 0 };
    if (result === undefined) return match ? written : s;
    if (result === 'ok') return match ? written : undefined;
    if (result === 'NONODE') return s.exists ? undefined : s;
    return s.exists && !match ? s : undefined; // BADVERSION
  }

  /** Reads and error answers never change the node; ok and unknown outcomes may. */
  preservesState(op: ZnodeOp): boolean {
    return op.kind === 'read' || (op.result !== undefined && op.result !== 'ok');
  }

  hash(s: ZnodeState): number {
    return s.exists ? (Math.imul(s.valueId + 1, 0x85ebca6b) ^ Math.imul(s.version + 1, 0xc2b2ae35)) | 1 : 0;
  }

  equal(a: ZnodeState, b: ZnodeState): boolean {
    return a.exists === b.exists && a.valueId === b.valueId && a.version === b.version;
  }

  describeState(s: ZnodeState): string {
    if (!s.exists) return 'absent';
    return this.tracksVersion ? `present ${this.showValue(s.valueId)} v${s.version}` : `present ${this.showValue(s.valueId)}`;
  }

  explain(s: ZnodeState, op: ZnodeOp): string | undefined {
    if (this.step(s, op) !== undefined) return undefined;
    const now = `the node is ${this.describeState(s)}`;
    switch (op.kind) {
      case 'read': {
        const seen = op.exists ? `${this.showValue(op.valueId)}${op.version === undefined ? '' : ` v${op.version}`}` : 'absent';
        return `read saw ${seen} but ${now}`;
      }
      case 'write':
      case 'cas':
      case 'create':
      case 'delete':
        return `${op.kind} answered ${op.result ?? '?'} but ${now}`;
    }
  }

  private showValue(valueId: number): string {
    const v = this.values[valueId];
    return v === undefined ? `#${valueId}` : JSON.stringify(v);
  }
}

// ---------------------------------------------------------------------------------------------
// A parent's sequential-name counter: every name it hands out must be larger than all names it
// handed out earlier in the linearization. Gaps are allowed, because non-sequential creates of
// children advance the same counter and those are not part of this partition.

/** The counter of the last sequential name issued under the parent; -1 before the first. */
export type SequenceState = number;
export interface SequenceOp {
  readonly counter: number;
}

export class SequenceModel implements ExplainedModel<SequenceState, SequenceOp> {
  readonly init: SequenceState = -1;

  step(last: SequenceState, op: SequenceOp): SequenceState | undefined {
    return op.counter > last ? op.counter : undefined;
  }

  hash(last: SequenceState): number {
    return last | 0;
  }

  equal(a: SequenceState, b: SequenceState): boolean {
    return a === b;
  }

  describeState(last: SequenceState): string {
    return last < 0 ? 'no sequential name issued yet' : `last counter issued ${last}`;
  }

  explain(last: SequenceState, op: SequenceOp): string | undefined {
    if (op.counter > last) return undefined;
    return op.counter === last
      ? `counter ${op.counter} issued twice`
      : `counter ${op.counter} issued after ${last}: the counter went backwards`;
  }
}
