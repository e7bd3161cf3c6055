// Records a history while a workload runs. The contract with the caller, which the checker's
// verdicts depend on: call invoke() before the request can leave the client, and ok()/fail()
// only after the answer has arrived. Then every operation's real effect lies inside its
// [callMs, returnMs] window, which is all linearizability assumes.
import { writeFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { makeHistory } from './history.js';
import type { ClientId, History, HistoryEntry, InitialZnodes, OpInput, OpKind, OpOutput } from './history.js';

/** The id of an invoked operation; the type parameter ties ok() to the right output shape. */
export type OpId<K extends OpKind = OpKind> = number & { readonly __opKind?: K };

export interface HistoryRecorderOptions {
  /** Monotonic clock in milliseconds; defaults to performance.now(). Times are stored relative to construction. */
  nowMs?: () => number;
  /** Znodes that exist before the first operation is recorded. */
  initial?: InitialZnodes;
}

interface MutableEntry {
  id: number;
  clientId: ClientId;
  op: OpKind;
  input: OpInput[OpKind];
  callMs: number;
  returnMs?: number;
  outcome: 'ok' | 'failed' | 'unknown';
  output?: OpOutput[OpKind];
}

export class HistoryRecorder {
  private readonly nowMs: () => number;
  private readonly originMs: number;
  private readonly initial: InitialZnodes | undefined;
  private readonly entries: MutableEntry[] = [];
  /** Entries not yet completed, by id. They count as `unknown` in a snapshot taken now. */
  private readonly pending = new Map<number, MutableEntry>();

  constructor(options: HistoryRecorderOptions = {}) {
    this.nowMs = options.nowMs ?? (() => performance.now());
    this.originMs = this.nowMs();
    this.initial = options.initial === undefined ? undefined : structuredClone(options.initial);
  }

  /** Records the call; take it before sending the request. */
  invoke<K extends OpKind>(clientId: ClientId, op: K, input: OpInput[K]): OpId<K> {
    const id = this.entries.length;
    const entry: MutableEntry = { id, clientId, op, input: structuredClone(input), callMs: this.now(), outcome: 'unknown' };
    this.entries.push(entry);
    this.pending.set(id, entry);
    return id as OpId<K>;
  }

  /** The operation completed with this answer. */
  ok<K extends OpKind>(id: OpId<K>, output: OpOutput[K]): void {
    const entry = this.complete(id);
    entry.returnMs = this.now();
    entry.outcome = 'ok';
    entry.output = structuredClone(output);
  }

  /**
   * The operation failed. `definite`: it certainly did not take effect (rejected before being
   * sent, or an error the server returns only for requests it did not apply). Otherwise —
   * timeout, connection loss, session moved mid-flight — it may have taken effect or not.
   */
  fail(id: OpId, definite: boolean): void {
    const entry = this.complete(id);
    if (definite) {
      entry.returnMs = this.now();
      entry.outcome = 'failed';
    }
  }

  get size(): number {
    return this.entries.length;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** A snapshot of the history so far; operations still pending appear with outcome `unknown`. */
  toHistory(): History {
    return makeHistory(
      this.entries.map((e) => ({ ...e }) as HistoryEntry),
      this.initial,
    );
  }

  toJSON(): History {
    return this.toHistory();
  }

  /** Writes the history as JSON, for checkHistoryFile() and for people. */
  async save(path: string): Promise<void> {
    await writeFile(path, JSON.stringify(this.toHistory()) + '\n');
  }

  private complete(id: OpId): MutableEntry {
    const entry = this.pending.get(id);
    if (entry === undefined) {
      const known = id >= 0 && id < this.entries.length;
      throw new Error(known ? `history: operation ${id} was already completed` : `history: no operation with id ${id}`);
    }
    this.pending.delete(id);
    return entry;
  }

  private now(): number {
    // Relative times keep the file readable; the clock is monotonic so they never go backwards.
    return this.nowMs() - this.originMs;
  }
}
