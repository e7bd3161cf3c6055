// Raft's safety properties (thesis Figure 3.2), checked incrementally while a simulation runs,
// plus the client-visible guarantees: acknowledged writes survive, and ReadIndex reads are
// linearizable against the counter state machine.

import type { NodeId, SnapshotMeta } from '../types.js';
import type { Entry } from '../types.js';
import { chainHash, type CounterStateMachine } from './state-machine.js';

export class SafetyViolation extends Error {
  override name = 'SafetyViolation';
}

interface Committed {
  readonly term: number;
  /** Term of the member that first reported it committed: an upper bound on when it committed. */
  readonly observedTerm: number;
}

/** A read of the counter, from readIndex() to being served. */
export interface ReadRecord {
  readonly member: NodeId;
  /** Highest index acknowledged to any writer when the read began. */
  readonly minIndex: number;
  readonly readIndex: number;
  readonly servedAtIndex: number;
  readonly counter: number;
}

export class SafetyChecker {
  private readonly leaders = new Map<number, NodeId>();
  private readonly entryIds = new Map<string, { hash: number; prevTerm: number | undefined }>();
  private readonly committed = new Map<number, Committed>();
  maxCommitted = 0;
  private readonly appliedEntry = new Map<number, number>();
  private readonly stateHash = new Map<number, number>();
  private readonly counterAt = new Map<number, number>();
  private readonly acked = new Map<number, number>();
  maxAckedIndex = 0;
  readsChecked = 0;
  checks = 0;

  private fail(message: string): never {
    throw new SafetyViolation(message);
  }

  /** Election Safety: at most one leader per term. */
  sawLeader(member: NodeId, term: number): boolean {
    this.checks++;
    const known = this.leaders.get(term);
    if (known !== undefined && known !== member) this.fail(`election safety: members ${known} and ${member} both led term ${term}`);
    if (known !== undefined) return false;
    this.leaders.set(term, member);
    return true;
  }

  /**
   * Log Matching (by induction): any two logs holding an entry with the same index and term
   * hold the same entry there, preceded by an entry of the same term.
   */
  sawEntries(member: NodeId, entries: readonly Entry[], termOf: (index: number) => number | undefined): void {
    for (const e of entries) {
      this.checks++;
      const key = `${e.index}:${e.term}`;
      const hash = chainHash(0, e);
      const prevTerm = termOf(e.index - 1);
      const known = this.entryIds.get(key);
      if (known === undefined) {
        this.entryIds.set(key, { hash, prevTerm });
        continue;
      }
      if (known.hash !== hash) this.fail(`log matching: member ${member} holds a different entry at ${key}`);
      if (known.prevTerm !== undefined && prevTerm !== undefined && known.prevTerm !== prevTerm) {
        this.fail(`log matching: member ${member} has term ${prevTerm} before ${key}, another log has ${known.prevTerm}`);
      }
    }
  }

  /** Records entries as committed; two different committed entries at one index is a violation. */
  sawCommitted(member: NodeId, memberTerm: number, index: number, term: number): void {
    this.checks++;
    const known = this.committed.get(index);
    if (known === undefined) {
      this.committed.set(index, { term, observedTerm: memberTerm });
      if (index > this.maxCommitted) this.maxCommitted = index;
    } else if (known.term !== term) {
      this.fail(`commit safety: member ${member} committed term ${term} at ${index}, term ${known.term} was committed before`);
    }
  }

  /**
   * Leader Completeness: a leader of `term` holds every entry known committed by term `term`
   * (entries compacted into its snapshot are covered by State Machine Safety instead).
   */
  checkLeaderCompleteness(member: NodeId, term: number, firstIndex: number, termOf: (index: number) => number | undefined): void {
    for (const [index, c] of this.committed) {
      if (index < firstIndex || c.observedTerm > term) continue;
      this.checks++;
      const ours = termOf(index);
      if (ours !== c.term) {
        this.fail(`leader completeness: leader ${member} of term ${term} has term ${ours} at committed index ${index} (term ${c.term})`);
      }
    }
  }

  /** State Machine Safety: every member applies the same entry at each index, reaching the same state. */
  sawApplied(member: NodeId, memberTerm: number, entry: Entry, sm: CounterStateMachine): void {
    this.checks++;
    this.sawCommitted(member, memberTerm, entry.index, entry.term);
    const id = chainHash(0, entry);
    const known = this.appliedEntry.get(entry.index);
    if (known === undefined) {
      this.appliedEntry.set(entry.index, id);
      this.stateHash.set(entry.index, sm.hash);
      this.counterAt.set(entry.index, sm.counter);
      return;
    }
    if (known !== id) this.fail(`state machine safety: member ${member} applied a different entry at ${entry.index}`);
    if (this.stateHash.get(entry.index) !== sm.hash) this.fail(`state machine safety: member ${member} diverged at ${entry.index}`);
  }

  sawSnapshotRestored(member: NodeId, meta: SnapshotMeta, sm: CounterStateMachine): void {
    this.checks++;
    const known = this.stateHash.get(meta.index);
    if (known === undefined) this.fail(`snapshot ${meta.index} restored on ${member} holds a state nobody applied`);
    if (known !== sm.hash) this.fail(`state machine safety: snapshot ${meta.index} restored on ${member} differs from applied state`);
  }

  /** A writer was told its entry (index, term) committed. */
  sawAcknowledged(index: number, term: number): void {
    this.checks++;
    const c = this.committed.get(index);
    if (c === undefined || c.term !== term) this.fail(`acknowledged entry ${index}:${term} is not the committed one`);
    this.acked.set(index, term);
    if (index > this.maxAckedIndex) this.maxAckedIndex = index;
  }

  /**
   * Linearizable read: its read index covers every write acknowledged before it began, and the
   * value served is the counter's value at the index it was served at.
   */
  sawRead(read: ReadRecord): void {
    this.checks++;
    this.readsChecked++;
    if (read.readIndex < read.minIndex) {
      this.fail(`stale read on ${read.member}: read index ${read.readIndex} misses a write acknowledged at ${read.minIndex}`);
    }
    if (read.servedAtIndex < read.readIndex)
      this.fail(`read on ${read.member} served at ${read.servedAtIndex} before its read index ${read.readIndex}`);
    const expected = this.counterAt.get(read.servedAtIndex);
    if (expected !== undefined && expected !== read.counter) {
      this.fail(`read on ${read.member} returned ${read.counter}, the counter at ${read.servedAtIndex} is ${expected}`);
    }
  }

  /** Every acknowledged write is still the committed entry at its index. */
  checkAcknowledgedSurvive(): void {
    for (const [index, term] of this.acked) {
      this.checks++;
      const c = this.committed.get(index);
      if (c === undefined || c.term !== term) this.fail(`acknowledged entry ${index}:${term} was lost`);
    }
  }

  stateHashAt(index: number): number | undefined {
    return this.stateHash.get(index);
  }

  committedTerm(index: number): number | undefined {
    return this.committed.get(index)?.term;
  }
}
