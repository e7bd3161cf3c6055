import { KeptResults } from './kept-results.js';

/** Results kept per session for exactly-once writes (a retry returns the original result). */
export const REQUEST_RESULTS_PER_SESSION = 1024;

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
  /** requestId → result, oldest first (apply order, which a snapshot keeps). */
  readonly results = new KeptResults();
  /** Highest request id evicted from `results`: an older id cannot be told apart from a new one. */
  evictedUpTo = -1;
  /**
   * The digest term of `evictedUpTo` when it was `evictedTermOf`: raising it (every write once
   * the window is full) subtracts the old term, which need not be hashed again.
   */
  evictedTermOf = Number.NaN;
  evictedTermA = 0;
  evictedTermB = 0;

  constructor(
    readonly id: number,
    readonly password: Uint8Array,
    readonly timeoutMs: number,
  ) {}
}
