import type { Id, MultiReadOp, MultiReadOpResult, Stat } from '@arbor/protocol';
import { assert } from './assert.js';
import { applyTxn } from './apply.js';
import { dueForRemoval } from './ops/reap.js';
import { readAcl, readAllChildrenNumber, readChildren, readData, readEphemerals, readExists, readMulti } from './reads.js';
import type { AclResult, ChildrenPage, ChildrenResult, DataResult } from './reads.js';
import { REQUEST_RESULTS_PER_SESSION } from './session.js';
import type { SessionView } from './session.js';
import { TreeState } from './state.js';
import type { ApplyOutcome, Txn } from './txn.js';

export interface ZnodeTreeOptions {
  /**
   * Write results kept per session for exactly-once replies (oldest evicted first). Part of
   * the replicated state's behaviour, so every member must use the same value; a snapshot
   * records it and a restored tree keeps it.
   */
  requestResultsPerSession?: number;
}

/**
 * The replicated znode state machine: `apply` changes it (one log entry at a time, in log
 * order, the same on every member); everything else reads it. Pure and deterministic: no
 * clock, timers, randomness or I/O; the digest lets members and tests compare states cheaply.
 */
export class ZnodeTree {
  /** @internal The state itself, for the snapshot writer and reader of this package. */
  readonly state: TreeState;

  constructor(options: ZnodeTreeOptions = {}, restored?: TreeState) {
    if (restored !== undefined) {
      this.state = restored;
      return;
    }
    const perSession = options.requestResultsPerSession ?? REQUEST_RESULTS_PER_SESSION;
    assert(Number.isSafeInteger(perSession) && perSession >= 1, 'requestResultsPerSession must be a positive integer');
    this.state = new TreeState(perSession);
    this.state.initRoot();
  }

  /** Applies the next committed entry (zxid above every applied one). */
  apply(txn: Txn): ApplyOutcome {
    return applyTxn(this.state, txn);
  }

  /** zxid of the last applied entry (0 for a new tree). */
  get lastZxid(): number {
    return this.state.lastZxid;
  }

  /** Nodes including the root. */
  get nodeCount(): number {
    return this.state.nodes.count;
  }

  /** Rolling digest of nodes, sessions and kept results: 16 hex digits, O(1). Equal states have equal digests. */
  digest(): string {
    return this.state.digest();
  }

  get requestResultsPerSession(): number {
    return this.state.resultsPerSession;
  }

  /** The node's stat, or null when it does not exist. Needs no permission. */
  exists(path: string): Stat | null {
    return readExists(this.state, path);
  }

  /** Needs READ. The data is a copy. */
  getData(path: string, identities: readonly Id[]): DataResult {
    return readData(this.state, path, identities);
  }

  /** Needs READ. Children in name order, optionally a page: strictly after `after`, at most `limit`. */
  getChildren(path: string, identities: readonly Id[], page?: ChildrenPage): ChildrenResult {
    return readChildren(this.state, path, identities, page);
  }

  /** Needs READ or ADMIN; without ADMIN, digest ids read `user:x`. */
  getACL(path: string, identities: readonly Id[]): AclResult {
    return readAcl(this.state, path, identities);
  }

  /** The session's ephemeral paths with a plain string prefix, sorted. */
  getEphemerals(sessionId: number, prefix: string): string[] {
    return readEphemerals(this.state, sessionId, prefix);
  }

  /** Needs READ. Descendants of the node, not counting it. */
  getAllChildrenNumber(path: string, identities: readonly Id[]): number {
    return readAllChildrenNumber(this.state, path, identities);
  }

  /** Each read independent: a result per op, errors included. */
  multiRead(ops: readonly MultiReadOp[], identities: readonly Id[]): MultiReadOpResult[] {
    return readMulti(this.state, ops, identities);
  }

  getSession(sessionId: number): SessionView | undefined {
    return this.state.sessions.get(sessionId);
  }

  /** Live sessions, in the order they were opened (a restored tree keeps that order). */
  sessions(): IterableIterator<SessionView> {
    return this.state.sessions.values();
  }

  /**
   * Containers and TTL nodes due for removal at `nowMs` (leader's clock), in path order, at
   * most `max`. The leader proposes a reap entry for each; apply re-checks. Scans only the
   * container and TTL nodes, never the whole tree.
   */
  dueForRemoval(nowMs: number, max = 1000): string[] {
    return dueForRemoval(this.state, nowMs, max);
  }
}
