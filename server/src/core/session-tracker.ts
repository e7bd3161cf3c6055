import { assert } from './assert.js';

/**
 * Session liveness, decided by the leader (ARCHITECTURE.md, "Sessions live in the replicated
 * state"). Sessions themselves are replicated state; when each was last heard from is not. The
 * leader keeps a deadline per session, extends it whenever the session shows life on any member
 * (followers forward the ids of their live sessions in batches, {@link LivenessBatcher}), and
 * proposes a closeSession entry (reason 'expire') for each session {@link SessionTracker.expired}
 * returns. A new leader knows nothing of when sessions were last heard, so it gives every session
 * a fresh full timeout before expiring anything ({@link SessionTracker.onBecomeLeader}).
 *
 * Time is an input: `nowMs` is a monotonic clock reading in milliseconds, never wall time.
 * Followers may run a tracker too (touching their own connections' sessions) to answer pings
 * with the time left; only the leader calls `expired`.
 */

/** Default expiry granularity: a session is declared expired within this much after its deadline, never before. */
export const SESSION_EXPIRY_BUCKET_MS_DEFAULT = 100;
/** Default bound on the sessions one call to `expired` returns, so one turn proposes a bounded batch. */
export const SESSION_EXPIRE_BATCH_MAX_DEFAULT = 1_000;
/**
 * Default interval at which a follower forwards liveness. It must be well below the minimum
 * session timeout: the leader hears of activity up to one interval (plus transit) late, which
 * delays an expiry but must never cause one. Followers also hold each ping reply until the
 * batch carrying it is acknowledged, so this interval is most of a follower's ping latency:
 * it must leave the client time to hear the reply well before its deadline at the minimum
 * timeout (1 s). One small message per interval per follower is cheap.
 */
export const LIVENESS_INTERVAL_MS_DEFAULT = 100;
/** Default bound on the ids in one liveness message. */
export const LIVENESS_BATCH_IDS_MAX_DEFAULT = 10_000;

export interface TimeoutBounds {
  readonly minMs: number;
  readonly maxMs: number;
}

/** The timeout a session gets: the requested one clamped to the ensemble's bounds (a non-number gets the minimum). */
export function negotiateTimeoutMs(requestedMs: number, bounds: TimeoutBounds): number {
  checkBounds(bounds);
  if (!Number.isFinite(requestedMs)) return bounds.minMs;
  return Math.min(bounds.maxMs, Math.max(bounds.minMs, Math.round(requestedMs)));
}

function checkBounds({ minMs, maxMs }: TimeoutBounds): void {
  if (!Number.isInteger(minMs) || minMs <= 0)
    throw new RangeError(`the minimum session timeout must be a positive integer of ms, not ${minMs}`);
  if (!Number.isInteger(maxMs) || maxMs < minMs)
    throw new RangeError(`the maximum session timeout (${maxMs} ms) must be an integer no less than the minimum (${minMs} ms)`);
}

export interface SessionTrackerOptions {
  /** Width of an expiry bucket in ms. Default {@link SESSION_EXPIRY_BUCKET_MS_DEFAULT}. */
  bucketMs?: number;
  /** Most ids one `expired` call returns. Default {@link SESSION_EXPIRE_BATCH_MAX_DEFAULT}. */
  expireBatchMax?: number;
}

/** A session as the tracker needs it; the tree's SessionView fits. */
export interface TrackedSession {
  readonly id: number;
  readonly timeoutMs: number;
}

interface SessionState {
  readonly timeoutMs: number;
  deadlineMs: number;
  /** The bucket holding the session, or EXPIRING once `expired` has returned it. */
  bucketMs: number;
}

/** Marks a session returned by `expired` whose closeSession has not applied yet. */
const EXPIRING = -1;

/**
 * Deadlines in a bucketed wheel, like ZooKeeper's ExpiryQueue: a session sits in the bucket of
 * its deadline rounded up to `bucketMs`, so a touch is O(1) (most touches do not even change
 * bucket) and `expired` visits due buckets only, in time order (a min-heap of bucket times).
 * Memory is O(sessions + live buckets).
 */
export class SessionTracker {
  readonly bucketMs: number;
  readonly expireBatchMax: number;
  private readonly sessions = new Map<number, SessionState>();
  private readonly buckets = new Map<number, Set<number>>();
  /** Times of buckets, possibly stale (a bucket that emptied) or repeated; `expired` skips those. */
  private readonly bucketTimes = new MinHeap();
  private expiringCount = 0;

  constructor(options: SessionTrackerOptions = {}) {
    const bucketMs = options.bucketMs ?? SESSION_EXPIRY_BUCKET_MS_DEFAULT;
    const expireBatchMax = options.expireBatchMax ?? SESSION_EXPIRE_BATCH_MAX_DEFAULT;
    if (!Number.isInteger(bucketMs) || bucketMs <= 0) throw new RangeError(`bucketMs must be a positive integer, not ${bucketMs}`);
    if (!Number.isInteger(expireBatchMax) || expireBatchMax <= 0)
      throw new RangeError(`expireBatchMax must be a positive integer, not ${expireBatchMax}`);
    this.bucketMs = bucketMs;
    this.expireBatchMax = expireBatchMax;
  }

  /** Sessions tracked, expiring ones included. */
  get size(): number {
    return this.sessions.size;
  }
  /** Sessions returned by `expired` whose close has not applied yet. */
  get expiring(): number {
    return this.expiringCount;
  }

  has(sessionId: number): boolean {
    return this.sessions.has(sessionId);
  }
  isExpiring(sessionId: number): boolean {
    return this.sessions.get(sessionId)?.bucketMs === EXPIRING;
  }

  /**
   * A session was opened (its entry applied): its deadline is a full timeout from now. Adding a
   * tracked session restarts it with the new timeout (a replayed open must not expire it early).
   */
  add(sessionId: number, timeoutMs: number, nowMs: number): void {
    assert(Number.isFinite(timeoutMs) && timeoutMs > 0, `session ${sessionId} tracked with timeout ${timeoutMs} ms`);
    this.remove(sessionId);
    const state: SessionState = { timeoutMs, deadlineMs: nowMs + timeoutMs, bucketMs: EXPIRING };
    this.sessions.set(sessionId, state);
    this.place(sessionId, state);
  }

  /** The session's close applied (closed or expired): forget it. Returns whether it was tracked. */
  remove(sessionId: number): boolean {
    const state = this.sessions.get(sessionId);
    if (state === undefined) return false;
    if (state.bucketMs === EXPIRING) this.expiringCount--;
    else this.unplace(sessionId, state.bucketMs);
    this.sessions.delete(sessionId);
    return true;
  }

  /**
   * The session showed life (a request or ping on some member): its deadline becomes a full
   * timeout from now, unless it is already later. Returns false for an unknown session and for
   * one already expiring — its close is on its way and a late ping does not call it back, as
   * in ZooKeeper's touchSession.
   */
  touch(sessionId: number, nowMs: number): boolean {
    const state = this.sessions.get(sessionId);
    if (state === undefined || state.bucketMs === EXPIRING) return false;
    const deadlineMs = nowMs + state.timeoutMs;
    if (deadlineMs <= state.deadlineMs) return true;
    state.deadlineMs = deadlineMs;
    if (this.bucketFor(deadlineMs) !== state.bucketMs) {
      this.unplace(sessionId, state.bucketMs);
      this.place(sessionId, state);
    }
    return true;
  }

  /**
   * Sessions whose deadline has passed, earliest deadline first (ties by id), at most `max`.
   * Each is marked expiring and is not returned again: propose its closeSession once, and call
   * `remove` when that applies. A session is returned no earlier than its deadline and at most
   * one bucket after it.
   */
  expired(nowMs: number, max: number = this.expireBatchMax): number[] {
    const out: number[] = [];
    while (out.length < max) {
      const time = this.bucketTimes.peek();
      if (time === undefined || time > nowMs) break;
      const bucket = this.buckets.get(time);
      if (bucket !== undefined) {
        const ids = [...bucket].sort((a, b) => this.deadlineOf(a) - this.deadlineOf(b) || a - b);
        for (const id of ids.slice(0, max - out.length)) {
          bucket.delete(id);
          this.markExpiring(id);
          out.push(id);
        }
        if (bucket.size > 0) break; // the batch is full; the rest stay for the next call
        this.buckets.delete(time);
      }
      this.bucketTimes.pop();
    }
    return out;
  }

  /**
   * The closeSession of a session `expired` returned did not go through: Raft refused the
   * proposal, or the entry at its index turned out to be another. The session is due again (its
   * deadline has passed), so the next `expired` returns it once more; a session not expiring is
   * left alone.
   */
  expiryNotProposed(sessionId: number): void {
    const state = this.sessions.get(sessionId);
    if (state === undefined || state.bucketMs !== EXPIRING) return;
    this.expiringCount--;
    this.place(sessionId, state);
  }

  /**
   * This member became leader: nobody knows when the sessions were last heard, so each gets a
   * full timeout from now, and nothing previously marked expiring stays so (the old leader's
   * close proposals may have been lost). `sessions` is the replicated session table.
   */
  onBecomeLeader(nowMs: number, sessions: Iterable<TrackedSession>): void {
    this.sessions.clear();
    this.buckets.clear();
    this.bucketTimes.clear();
    this.expiringCount = 0;
    for (const session of sessions) this.add(session.id, session.timeoutMs, nowMs);
  }

  /** Time the session has left, for ping replies: 0 once expiring or past its deadline; undefined when unknown. */
  remainingMs(sessionId: number, nowMs: number): number | undefined {
    const state = this.sessions.get(sessionId);
    if (state === undefined) return undefined;
    if (state.bucketMs === EXPIRING) return 0;
    return Math.max(0, state.deadlineMs - nowMs);
  }

  /** The session's deadline on the monotonic clock, or undefined when unknown. */
  deadlineMs(sessionId: number): number | undefined {
    return this.sessions.get(sessionId)?.deadlineMs;
  }

  private deadlineOf(sessionId: number): number {
    const state = this.sessions.get(sessionId);
    assert(state !== undefined, `session ${sessionId} is in a bucket but not tracked`);
    return state.deadlineMs;
  }

  private bucketFor(deadlineMs: number): number {
    return Math.ceil(deadlineMs / this.bucketMs) * this.bucketMs;
  }

  private place(sessionId: number, state: SessionState): void {
    const time = this.bucketFor(state.deadlineMs);
    let bucket = this.buckets.get(time);
    if (bucket === undefined) {
      bucket = new Set();
      this.buckets.set(time, bucket);
      this.bucketTimes.push(time);
    }
    bucket.add(sessionId);
    state.bucketMs = time;
  }

  private unplace(sessionId: number, time: number): void {
    const bucket = this.buckets.get(time);
    assert(bucket?.delete(sessionId) === true, `session ${sessionId} missing from its bucket ${time}`);
    // An emptied bucket's heap entry stays and is skipped when it comes due.
    if (bucket.size === 0) this.buckets.delete(time);
  }

  private markExpiring(sessionId: number): void {
    const state = this.sessions.get(sessionId);
    assert(state !== undefined && state.bucketMs !== EXPIRING, `session ${sessionId} expired twice`);
    state.bucketMs = EXPIRING;
    this.expiringCount++;
  }
}

export interface LivenessBatcherOptions {
  /** Least time between two batches. Default {@link LIVENESS_INTERVAL_MS_DEFAULT}. */
  intervalMs?: number;
  /** Most ids in one batch (one message to the leader). Default {@link LIVENESS_BATCH_IDS_MAX_DEFAULT}. */
  batchIdsMax?: number;
}

/**
 * On a follower: collects the ids of sessions whose connections showed life and hands them
 * out at most once per interval, to be sent to the leader (which touches each on receipt).
 * An id touched many times in one interval is sent once.
 */
export class LivenessBatcher {
  readonly intervalMs: number;
  readonly batchIdsMax: number;
  private touched = new Set<number>();
  private lastSentMs = -Infinity;

  constructor(options: LivenessBatcherOptions = {}) {
    const intervalMs = options.intervalMs ?? LIVENESS_INTERVAL_MS_DEFAULT;
    const batchIdsMax = options.batchIdsMax ?? LIVENESS_BATCH_IDS_MAX_DEFAULT;
    if (!Number.isFinite(intervalMs) || intervalMs < 0) throw new RangeError(`intervalMs must be a non-negative number, not ${intervalMs}`);
    if (!Number.isInteger(batchIdsMax) || batchIdsMax <= 0)
      throw new RangeError(`batchIdsMax must be a positive integer, not ${batchIdsMax}`);
    this.intervalMs = intervalMs;
    this.batchIdsMax = batchIdsMax;
  }

  /** Ids waiting for the next batch. */
  get pending(): number {
    return this.touched.size;
  }

  touch(sessionId: number): void {
    this.touched.add(sessionId);
  }

  /** The session closed or its connection moved away before the batch went: do not report it. */
  forget(sessionId: number): void {
    this.touched.delete(sessionId);
  }

  /**
   * Batches due at `nowMs`: every pending id, split into messages of at most `batchIdsMax`,
   * when at least `intervalMs` has passed since the last batches went; otherwise none. An idle
   * interval sends nothing, so the first touch after a quiet spell goes out at the next tick.
   */
  tick(nowMs: number): number[][] {
    if (this.touched.size === 0 || nowMs - this.lastSentMs < this.intervalMs) return [];
    this.lastSentMs = nowMs;
    const ids = [...this.touched];
    this.touched = new Set();
    const batches: number[][] = [];
    for (let i = 0; i < ids.length; i += this.batchIdsMax) batches.push(ids.slice(i, i + this.batchIdsMax));
    return batches;
  }

  /** This member became leader or lost its leader: pending liveness is meaningless now. */
  clear(): void {
    this.touched.clear();
  }
}

/** A binary min-heap of numbers. */
class MinHeap {
  private items: number[] = [];

  peek(): number | undefined {
    return this.items[0];
  }

  push(value: number): void {
    const items = this.items;
    items.push(value);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent] as number;
      if (p <= value) break;
      items[i] = p;
      i = parent;
    }
    items[i] = value;
  }

  pop(): number | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length === 0 || last === undefined) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= items.length) break;
      const right = left + 1;
      const child = right < items.length && (items[right] as number) < (items[left] as number) ? right : left;
      if ((items[child] as number) >= last) break;
      items[i] = items[child] as number;
      i = child;
    }
    items[i] = last;
    return top;
  }

  clear(): void {
    this.items = [];
  }
}
