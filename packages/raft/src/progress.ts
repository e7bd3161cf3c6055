// The leader's view of one follower (thesis §3.5 nextIndex/matchIndex), extended with etcd's
// flow-control states:
// - probe: the leader does not know where the logs agree; at most one append is in flight, and
//   each rejection moves `next` back (using the follower's hint, thesis §5.3 optimisation).
// - replicate: logs agree through `match`; appends are pipelined optimistically up to a window
//   of in-flight messages/bytes (Inflights).
// - snapshot: the follower needs entries the leader has compacted; a snapshot is streamed in
//   chunks (SnapshotTransfer) and appends pause until the follower acknowledges it.

import { assert } from './assert.js';
import type { SnapshotMeta } from './types.js';

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/** A bounded window of in-flight appends, identified by the last index each carried. */
export class Inflights {
  private readonly lastIndices: number[] = [];
  private readonly sizes: number[] = [];
  private totalBytes = 0;

  constructor(
    private readonly maxCount: number,
    /** 0 means no byte limit. */
    private readonly maxBytes: number,
  ) {}

  get count(): number {
    return this.lastIndices.length;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  full(): boolean {
    return this.lastIndices.length >= this.maxCount || (this.maxBytes > 0 && this.totalBytes >= this.maxBytes);
  }

  add(lastIndex: number, bytes: number): void {
    const prev = this.lastIndices[this.lastIndices.length - 1];
    assert(prev === undefined || lastIndex > prev, `inflight ${lastIndex} not after ${prev}`);
    this.lastIndices.push(lastIndex);
    this.sizes.push(bytes);
    this.totalBytes += bytes;
  }

  /** Frees every in-flight append whose entries are all at or below `index`. */
  freeLE(index: number): void {
    let n = 0;
    while (n < this.lastIndices.length && (this.lastIndices[n] as number) <= index) {
      this.totalBytes -= this.sizes[n] as number;
      n++;
    }
    if (n > 0) {
      this.lastIndices.splice(0, n);
      this.sizes.splice(0, n);
    }
  }

  reset(): void {
    this.lastIndices.length = 0;
    this.sizes.length = 0;
    this.totalBytes = 0;
  }
}

/**
 * A snapshot being streamed to one follower. Bytes [0, ackedOffset) are durably staged at the
 * follower; [ackedOffset, sentOffset) are in flight. Go-back-N: a rejection or a stall rewinds
 * sentOffset to what the follower reports.
 */
export interface SnapshotTransfer {
  meta: SnapshotMeta;
  sentOffset: number;
  ackedOffset: number;
  /** The chunk with done=true has been sent (and not rewound since). */
  finalSent: boolean;
  /** Heartbeat intervals since the follower last acknowledged progress. */
  stalledHeartbeats: number;
}

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  /**
   * Flow control (etcd's MsgAppFlowPaused). Probe: an append is outstanding. Replicate: the
   * in-flight window is full. A heartbeat response clears it, so one more append goes out even
   * if earlier ones were lost: a follower that restarted rejects it and probing resumes.
   */
  paused = false;
  /** Heard from since the last check-quorum round (thesis §6.2). */
  recentActive = false;
  /** Its last answer came under the rejoin guard (types.ts GuardedAck): counts toward no quorum. */
  guarded = false;
  /** Highest commit index sent to this follower (so an acknowledgement can trigger a commit update). */
  sentCommit = 0;
  /** Highest leader tick echoed in a heartbeat response (for the read lease). */
  ackedHeartbeatTick = -1;
  snapshot: SnapshotTransfer | null = null;
  readonly inflights: Inflights;

  constructor(next: number, maxInflight: number, maxInflightBytes: number) {
    this.next = next;
    this.inflights = new Inflights(maxInflight, maxInflightBytes);
  }

  becomeProbe(): void {
    const pendingSnapshot = this.snapshot?.meta.index ?? 0;
    this.resetState('probe');
    this.next = Math.max(this.match + 1, pendingSnapshot + 1);
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(meta: SnapshotMeta): void {
    this.resetState('snapshot');
    this.snapshot = { meta, sentOffset: 0, ackedOffset: 0, finalSent: false, stalledHeartbeats: 0 };
    this.next = meta.index + 1;
  }

  private resetState(state: ProgressState): void {
    this.state = state;
    this.paused = false;
    this.snapshot = null;
    this.inflights.reset();
  }

  /** Appends may not be sent now (an outstanding probe, a full window, or a snapshot transfer). */
  isPaused(): boolean {
    return this.state === 'snapshot' || this.paused;
  }

  /** Records that an append ending at `lastIndex` with `entryCount` entries was sent. */
  sentEntries(entryCount: number, lastIndex: number, bytes: number): void {
    if (this.state === 'replicate') {
      if (entryCount > 0) {
        this.next = lastIndex + 1;
        this.inflights.add(lastIndex, bytes);
      }
      this.paused = this.inflights.full();
    } else if (this.state === 'probe') {
      this.paused = true;
    }
  }

  /** An acceptance through `index`; false if it tells nothing new (stale or duplicate). */
  maybeUpdate(index: number): boolean {
    if (index <= this.match) return false;
    this.match = index;
    this.next = Math.max(this.next, index + 1);
    this.paused = false;
    return true;
  }

  /**
   * A rejection of the append whose prevLogIndex was `rejected`; `hintIndex` is where the logs
   * may agree. Returns false for a stale rejection (of an append sent before a later decision).
   */
  maybeDecrTo(rejected: number, hintIndex: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, hintIndex + 1), this.match + 1);
    this.paused = false;
    return true;
  }

  describe(): string {
    const snap = this.snapshot ? ` snapshot=${this.snapshot.meta.index}@${this.snapshot.ackedOffset}` : '';
    return `${this.state} match=${this.match} next=${this.next}${snap}`;
  }
}
