import type { TxnResult } from './txn.js';

/** Results kept per session for exactly-once writes (a retry returns the original result). */
export const REQUEST_RESULTS_PER_SESSION = 1024;

/** A write's result kept for exactly-once replies, with its digest term (computed once, also subtracted on eviction). */
export class KeptResult {
  constructor(
    readonly result: TxnResult,
    readonly hashA: number,
    readonly hashB: number,
  ) {}
}

/** What the server sees of a session: identity, timeout and its ephemeral nodes. */
export interface SessionView {
  readonly id: number;
  /** Do not mutate. */
  readonly password: Uint8Array;
  readonly timeoutMs: number;
  /** Paths of its ephemeral nodes (iteration order unspecified). */
  readonly ephemerals: ReadonlySet<string>;
}

/**
 * A session in the replicated state. Liveness (last ping) is not here: the leader tracks it
 * and commits expiry as a closeSession entry (ARCHITECTURE.md, Fixed decisions).
 */
export class Session implements SessionView {
  readonly ephemerals = new Set<string>();
  /** requestId → result, oldest first (insertion order is apply order, and a snapshot keeps it). */
  readonly results = new Map<number, KeptResult>();
  /** Highest request id evicted from `results`: an older id cannot be told apart from a new one. */
  evictedUpTo = -1;
  /**
   * The digest term of `evictedUpTo` when it was `evictedTermOf`: raising it (every write once
   * the window is full) subtracts the old term, which need not be hashed again.
   */
  evictedTermOf = Number.NaN;
  evictedTermA = 0;
  evictedTermB = 0;
  /**
   * Request ids of `results`, oldest first, from `head` on. Finding a Map's oldest entry by
   * iterating it is not O(1) in V8 once entries were deleted (it walks the holes), hence a queue.
   */
  private order: number[] = [];
  private head = 0;

  constructor(
    readonly id: number,
    readonly password: Uint8Array,
    readonly timeoutMs: number,
  ) {}

  /** Keeps a result under a request id that is not kept yet. */
  remember(requestId: number, kept: KeptResult): void {
    this.results.set(requestId, kept);
    this.order.push(requestId);
  }

  /** The request id of the oldest kept result, or undefined. */
  oldestRequestId(): number | undefined {
    return this.order[this.head];
  }

  /** Removes and returns the oldest kept result (the session must keep at least one); oldestRequestId() gives its id first. */
  forgetOldest(): KeptResult {
    const requestId = this.order[this.head++]!;
    if (this.head >= 1024 && this.head * 2 >= this.order.length) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
    const kept = this.results.get(requestId)!;
    this.results.delete(requestId);
    return kept;
  }
}
