// The leader's side of log replication (thesis §3.5, §10.2), commitment (§3.6.2), heartbeats
// and check-quorum (§6.2), ReadIndex (§6.4), leadership transfer (§3.10) and snapshot streaming
// (§5.3). Functions over a Raft whose role is 'leader'.

import { assert } from './assert.js';
import { applyConfChange, encodeConfChange } from './conf-change.js';
import type { Progress } from './progress.js';
import { hasQuorum } from './quorum.js';
import type { Raft } from './raft.js';
import { CompactedError } from './storage.js';
import {
  entryBytes,
  type AppendResponse,
  type ConfChange,
  type Entry,
  type EntryType,
  type GuardedAck,
  type HeartbeatResponse,
  type Message,
  type NodeId,
  type SnapshotResponse,
} from './types.js';

/** Heartbeat intervals without snapshot-transfer progress before the leader resends from the last ack. */
const SNAPSHOT_STALL_HEARTBEATS = 3;

export type RejectReason =
  'notLeader' | 'transferring' | 'uncommittedLimit' | 'confChangePending' | 'leaderNotReady' | 'invalidConfChange' | 'invalidTransferee';

export interface Rejection {
  readonly ok: false;
  readonly reason: RejectReason;
  /** The leader as far as this member knows, for redirecting the caller. */
  readonly leader: NodeId | null;
  readonly message: string;
}

export type ProposeResult = { readonly ok: true; readonly index: number; readonly term: number } | Rejection;

function reject(r: Raft, reason: RejectReason, message: string): Rejection {
  return { ok: false, reason, leader: r.leader, message };
}

export function becomeLeaderState(r: Raft): void {
  const self = r.tracker.progress.get(r.id);
  assert(
    self !== undefined || r.removedPendingCommit(),
    'a leader must be a member of its configuration, or removed by an uncommitted one',
  );
  assert(!r.log.hasPendingSnapshot(), 'a leader cannot have a pending snapshot');
  // Outside its configuration (Raft.removedPendingCommit) the leader counts toward no quorum:
  // it commits the removal with the new configuration's votes, then hands over.
  if (self !== undefined) {
    self.becomeReplicate();
    self.maybeUpdate(r.log.durableLastIndex());
    self.recentActive = true;
  }
  // Thesis §6.4: a new leader commits a blank entry of its term to learn which entries are
  // committed (and, §4.1, before it may change the configuration).
  appendAsLeader(r, 'noop', new Uint8Array(0));
}

function appendAsLeader(r: Raft, type: EntryType, data: Uint8Array): Entry {
  const entry: Entry = { index: r.log.lastIndex() + 1, term: r.term, type, data };
  r.appendToLog([entry]);
  r.uncommittedBytes += entryBytes(entry);
  r.needsBroadcast = true;
  return entry;
}

// --- proposals ---

export function propose(r: Raft, data: Uint8Array): ProposeResult {
  const refusal = checkProposal(r, data.length);
  if (refusal) return refusal;
  const entry = appendAsLeader(r, 'normal', data);
  return { ok: true, index: entry.index, term: entry.term };
}

function checkProposal(r: Raft, dataBytes: number): Rejection | null {
  if (r.role !== 'leader') return reject(r, 'notLeader', `member ${r.id} is not the leader`);
  if (r.leadTransferee !== null) return reject(r, 'transferring', `leadership is moving to ${r.leadTransferee}`);
  const limit = r.cfg.maxUncommittedBytes;
  if (limit > 0 && r.uncommittedBytes > 0 && r.uncommittedBytes + dataBytes > limit) {
    return reject(r, 'uncommittedLimit', `${r.uncommittedBytes} bytes uncommitted (limit ${limit})`);
  }
  return null;
}

/** Thesis §4.1: one change at a time, and only after committing an entry of this term. */
export function proposeConfChange(r: Raft, change: ConfChange): ProposeResult {
  const refusal = checkProposal(r, change.context.length);
  if (refusal) return refusal;
  if (r.confHistory.currentIndex() > r.log.committed) {
    return reject(r, 'confChangePending', `configuration change at ${r.confHistory.currentIndex()} is not committed yet`);
  }
  if (!r.committedInTerm()) return reject(r, 'leaderNotReady', `leader has not committed an entry of term ${r.term} yet`);
  const next = applyConfChange(r.tracker.confState, change);
  if (typeof next === 'string') return reject(r, 'invalidConfChange', next);
  const entry = appendAsLeader(r, 'confChange', encodeConfChange(change));
  r.logger.info({ term: r.term, index: entry.index, change: change.type, target: change.memberId }, 'proposed configuration change');
  return { ok: true, index: entry.index, term: entry.term };
}

// --- replication ---

/** Sends an append to `to` if flow control allows; returns whether a message went out. */
export function sendAppend(r: Raft, to: NodeId, sendIfEmpty = true): boolean {
  const pr = r.tracker.progress.get(to);
  if (pr === undefined || pr.isPaused()) return false;
  const prevLogIndex = pr.next - 1;
  const prevLogTerm = r.log.term(prevLogIndex);
  if (prevLogTerm === undefined) return startSnapshot(r, to, pr);
  let entries: Entry[] = [];
  const last = r.log.lastIndex();
  // With a full window (only reachable after a heartbeat response unpaused us), send an empty
  // append: it refreshes commit, and a follower that lost the window rejects it.
  if (pr.next <= last && !(pr.state === 'replicate' && pr.inflights.full())) {
    const hi = Math.min(last + 1, pr.next + r.cfg.maxEntriesPerAppend);
    try {
      entries = r.log.entries(pr.next, hi, r.cfg.maxBytesPerAppend);
    } catch (error) {
      if (error instanceof CompactedError) return startSnapshot(r, to, pr);
      throw error;
    }
  }
  if (entries.length === 0 && !sendIfEmpty) return false;
  let bytes = 0;
  for (const e of entries) bytes += entryBytes(e);
  r.send({
    type: 'append',
    from: r.id,
    to,
    term: r.term,
    prevLogIndex,
    prevLogTerm,
    entries,
    commit: r.log.committed,
    leaderLastIndex: r.log.lastIndex(),
  });
  pr.sentEntries(entries.length, prevLogIndex + entries.length, bytes);
  pr.sentCommit = Math.max(pr.sentCommit, Math.min(r.log.committed, prevLogIndex + entries.length));
  return true;
}

export function bcastAppend(r: Raft): void {
  r.tracker.forEachPeer(r.id, (id) => {
    sendAppend(r, id);
  });
}

/** Keeps sending while the follower's window has room and entries remain. */
function sendAppendsWhileOpen(r: Raft, to: NodeId): void {
  for (let i = 0; i < r.cfg.maxInflightAppends && sendAppend(r, to, false); i++);
}

/**
 * Tells `to` the commit index without an empty append (types.ts CommitNotice) when every entry
 * has been sent to it, whether or not it has acknowledged them all: a follower still writing an
 * entry learns at once that it is committed, and applies it (answering its client) the moment
 * its own write is durable, not a round trip later. The follower commits only an entry it
 * holds with the leader's term; one still on its way is committed by its acknowledgement's
 * notice, or by the next heartbeat. Otherwise (a probe, entries to send) an append.
 */
function sendCommit(r: Raft, to: NodeId): void {
  const pr = r.tracker.progress.get(to);
  if (pr === undefined) return;
  if (pr.state !== 'replicate' || pr.next <= r.log.lastIndex()) {
    sendAppend(r, to);
    return;
  }
  const commit = Math.min(pr.next - 1, r.log.committed);
  if (commit <= pr.sentCommit) return;
  const commitTerm = r.log.term(commit);
  if (commitTerm === undefined) {
    sendAppend(r, to);
    return;
  }
  r.send({ type: 'commit', from: r.id, to, term: r.term, commit, commitTerm });
  pr.sentCommit = commit;
}

function bcastHeartbeat(r: Raft): void {
  const context = r.readOnly.lastContext();
  r.tracker.forEachPeer(r.id, (id, pr) => {
    r.send({
      type: 'heartbeat',
      from: r.id,
      to: id,
      term: r.term,
      // Never beyond what the follower is known to hold, so it can always commit it.
      commit: Math.min(pr.match, r.log.committed),
      context,
      tick: r.tickCount,
    });
    if (pr.state === 'snapshot') checkSnapshotStall(r, id, pr);
  });
}

/** Commits the highest index a majority durably holds, if it is of this term (§3.6.2). */
export function maybeCommit(r: Raft): boolean {
  const index = r.tracker.committedIndex();
  if (index <= r.log.committed || r.log.term(index) !== r.term) return false;
  const wasCommittedInTerm = r.committedInTerm();
  r.log.commitTo(index);
  if (!wasCommittedInTerm) releasePendingReadIndex(r);
  r.tracker.forEachPeer(r.id, (id) => sendCommit(r, id));
  if (!r.tracker.isVoter(r.id) && r.confHistory.currentIndex() <= r.log.committed) stepDownRemoved(r);
  return true;
}

/**
 * Thesis §4.2.2: a leader removed from the configuration steps down once the change commits.
 * The commit index has just been broadcast; handing leadership to the most up-to-date voter
 * (TimeoutNow, §3.10) spares the others an election timeout.
 */
function stepDownRemoved(r: Raft): void {
  let successor: NodeId | null = null;
  let best = -1;
  for (const id of r.tracker.voters) {
    const match = r.tracker.progress.get(id)?.match ?? 0;
    if (match > best) {
      best = match;
      successor = id;
    }
  }
  r.logger.info({ term: r.term, commit: r.log.committed, successor }, 'stepping down: removed from the configuration');
  if (successor !== null && best === r.log.lastIndex()) sendTimeoutNow(r, successor);
  r.becomeFollower(r.term, null);
}

/** The host reported the leader's own log durable through some index (RawNode.onPersisted). */
export function selfPersisted(r: Raft): void {
  const self = r.tracker.progress.get(r.id);
  if (self === undefined || r.log.hasPendingSnapshot()) return;
  // The leader counts toward commitment only with entries it holds durably (thesis §10.2.1).
  if (self.maybeUpdate(r.log.durableLastIndex())) maybeCommit(r);
}

export function flushBroadcast(r: Raft): void {
  if (r.needsBroadcast && r.role === 'leader') bcastAppend(r);
  r.needsBroadcast = false;
}

// --- time ---

export function tickLeader(r: Raft): void {
  r.heartbeatElapsed++;
  r.electionElapsed++;
  if (r.electionElapsed >= r.cfg.electionTimeoutTicks) {
    r.electionElapsed = 0;
    if (r.cfg.checkQuorum) {
      if (!r.tracker.quorumActive(r.id)) {
        r.logger.warn({ term: r.term }, 'stepping down: no quorum heard from in an election timeout');
        r.becomeFollower(r.term, null);
        return;
      }
      r.tracker.forEachPeer(r.id, (_id, pr) => {
        pr.recentActive = false;
      });
    }
    if (r.leadTransferee !== null) {
      r.logger.info({ term: r.term, transferee: r.leadTransferee }, 'leadership transfer timed out');
      r.leadTransferee = null;
    }
  }
  if (r.heartbeatElapsed >= r.cfg.heartbeatIntervalTicks) {
    r.heartbeatElapsed = 0;
    bcastHeartbeat(r);
  }
}

// --- responses ---

export function stepLeader(r: Raft, m: Message): void {
  switch (m.type) {
    case 'readIndex':
      leaderReadIndex(r, m.context, m.from);
      return;
    case 'transferLeadership':
      transferLeadership(r, m.transferee);
      return;
    default:
      break;
  }
  const pr = r.tracker.progress.get(m.from);
  if (pr === undefined) {
    r.logger.debug({ term: r.term, from: m.from, type: m.type }, 'ignored message from a non-member');
    return;
  }
  switch (m.type) {
    case 'appendResponse':
      noteAnswer(pr, m);
      handleAppendResponse(r, m, pr);
      return;
    case 'heartbeatResponse':
      noteAnswer(pr, m);
      handleHeartbeatResponse(r, m, pr);
      return;
    case 'snapshotResponse':
      noteAnswer(pr, m);
      handleSnapshotResponse(r, m, pr);
      return;
    default:
      r.logger.debug({ term: r.term, from: m.from, type: m.type }, 'ignored message as leader');
  }
}

/** A guarded follower is caught up like any other but counts toward no quorum (GuardedAck). */
function noteAnswer(pr: Progress, m: GuardedAck): void {
  pr.recentActive = true;
  pr.guarded = m.guarded === true;
}

function handleAppendResponse(r: Raft, m: AppendResponse, pr: Progress): void {
  if (m.reject) {
    // Fast back-off (thesis §5.3): jump over the follower's conflicting term in one step.
    let hint = m.hintIndex;
    if (m.hintTerm > 0) hint = r.log.findConflictByTerm(m.hintIndex, m.hintTerm).index;
    if (pr.maybeDecrTo(m.index, hint)) {
      r.logger.debug({ term: r.term, follower: m.from, rejected: m.index, next: pr.next }, 'append rejected: backing off');
      if (pr.state === 'replicate') pr.becomeProbe();
      sendAppend(r, m.from);
    }
    return;
  }
  const wasProbeAtMatch = pr.match === m.index && pr.state === 'probe';
  if (!pr.maybeUpdate(m.index) && !wasProbeAtMatch) return;
  if (pr.state === 'probe') {
    pr.becomeReplicate();
  } else if (pr.state === 'snapshot' && pr.match + 1 >= r.log.firstIndex()) {
    r.logger.info({ term: r.term, follower: m.from, match: pr.match }, 'follower caught up by snapshot');
    pr.becomeProbe();
    pr.becomeReplicate();
  } else if (pr.state === 'replicate') {
    pr.inflights.freeLE(m.index);
  }
  if (maybeCommit(r)) {
    if (r.role !== 'leader') return;
  } else if (pr.sentCommit < Math.min(r.log.committed, pr.match)) {
    // The follower holds committed entries it does not know are committed yet.
    sendCommit(r, m.from);
  }
  sendAppendsWhileOpen(r, m.from);
  if (m.from === r.leadTransferee && pr.match === r.log.lastIndex()) sendTimeoutNow(r, m.from);
}

function handleHeartbeatResponse(r: Raft, m: HeartbeatResponse, pr: Progress): void {
  pr.paused = false;
  if (!pr.guarded) pr.ackedHeartbeatTick = Math.max(pr.ackedHeartbeatTick, m.tick);
  if (m.lostLogAfter !== undefined && m.lostLogAfter < pr.match) {
    // Its storage lost what it had acknowledged (types.ts HeartbeatResponse). What is committed
    // stays committed — a majority without it holds it — but its progress restarts from its log.
    r.logger.warn(
      { term: r.term, follower: m.from, match: pr.match, lastIndex: m.lostLogAfter },
      'follower lost log entries: probing again',
    );
    pr.match = m.lostLogAfter;
    pr.becomeProbe();
  }
  if (pr.match < r.log.lastIndex()) sendAppend(r, m.from);
  if (m.context === null || pr.guarded) return;
  const acks = r.readOnly.ack(m.from, m.context);
  if (acks === null || !hasQuorum(r.tracker.voters, (id) => acks.has(id))) return;
  for (const request of r.readOnly.confirm(m.context)) respondToRead(r, request.index, request.context, request.from);
}

// --- ReadIndex (thesis §6.4) ---

export function leaderReadIndex(r: Raft, context: Uint8Array, from: NodeId): void {
  if (!r.committedInTerm()) {
    // Until an entry of this term commits, the leader's commit index may lag the true one.
    r.pendingReadIndex.push({ context, from });
    return;
  }
  const voters = r.tracker.voters;
  if (voters.length === 1 && voters[0] === r.id) {
    respondToRead(r, r.log.committed, context, from);
  } else if (hasReadLease(r)) {
    respondToRead(r, r.log.committed, context, from);
  } else if (r.readOnly.add(r.log.committed, context, from)) {
    r.readOnly.ack(r.id, context);
    r.tracker.forEachPeer(r.id, (id, pr) => {
      r.send({
        type: 'heartbeat',
        from: r.id,
        to: id,
        term: r.term,
        commit: Math.min(pr.match, r.log.committed),
        context,
        tick: r.tickCount,
      });
    });
  }
}

function releasePendingReadIndex(r: Raft): void {
  const pending = r.pendingReadIndex;
  r.pendingReadIndex = [];
  for (const { context, from } of pending) leaderReadIndex(r, context, from);
}

/**
 * Thesis §6.4.1. A majority (self included) acknowledged heartbeats sent within the last
 * leaseTicks of this leader's ticks; see ReadOnlyMode for the clock assumption. Never during or
 * after a leadership transfer in this term: TimeoutNow lets the target's voters ignore their lease.
 */
export function hasReadLease(r: Raft): boolean {
  if (r.cfg.readOnlyMode !== 'lease' || r.leadTransferee !== null || r.transferStartedThisTerm) return false;
  const horizon = r.tickCount - r.cfg.leaseTicks;
  return hasQuorum(r.tracker.voters, (id) => id === r.id || (r.tracker.progress.get(id)?.ackedHeartbeatTick ?? -1) > horizon);
}

function respondToRead(r: Raft, index: number, context: Uint8Array, from: NodeId): void {
  if (from === r.id) r.readStates.push({ index, context });
  else r.send({ type: 'readIndexResponse', from: r.id, to: from, term: r.term, index, context });
}

// --- leadership transfer (thesis §3.10) ---

export function transferLeadership(r: Raft, to: NodeId): Rejection | null {
  if (to === r.id) return null;
  if (!r.tracker.isVoter(to)) return reject(r, 'invalidTransferee', `member ${to} is not a voter`);
  if (r.leadTransferee === to) return null;
  if (r.leadTransferee !== null) r.logger.info({ term: r.term, transferee: r.leadTransferee }, 'leadership transfer superseded');
  r.electionElapsed = 0;
  r.leadTransferee = to;
  r.logger.info({ term: r.term, transferee: to }, 'transferring leadership');
  const pr = r.tracker.progress.get(to) as Progress;
  if (pr.match === r.log.lastIndex()) sendTimeoutNow(r, to);
  else sendAppend(r, to);
  return null;
}

function sendTimeoutNow(r: Raft, to: NodeId): void {
  r.transferStartedThisTerm = true;
  r.send({ type: 'timeoutNow', from: r.id, to, term: r.term });
}

// --- snapshot streaming (thesis §5.3; chunk flow control is go-back-N) ---

function startSnapshot(r: Raft, to: NodeId, pr: Progress): boolean {
  if (!pr.recentActive) {
    r.logger.debug({ term: r.term, follower: to }, 'not sending snapshot: follower not recently active');
    return false;
  }
  const meta = r.cfg.storage.snapshots.latest();
  assert(
    meta.index >= r.log.firstIndex() - 1,
    () => `latest snapshot ${meta.index} does not cover the compacted log (first index ${r.log.firstIndex()})`,
  );
  pr.becomeSnapshot(meta);
  r.logger.info({ term: r.term, follower: to, index: meta.index, snapshotTerm: meta.term }, 'sending snapshot');
  sendSnapshotChunks(r, to, pr);
  return true;
}

function sendSnapshotChunks(r: Raft, to: NodeId, pr: Progress): void {
  const windowBytes = r.cfg.snapshotChunkBytes * r.cfg.maxInflightSnapshotChunks;
  for (let t = pr.snapshot; t !== null && !t.finalSent && t.sentOffset - t.ackedOffset < windowBytes; t = pr.snapshot) {
    const read = r.cfg.storage.snapshots.readChunk(t.meta.index, t.sentOffset, r.cfg.snapshotChunkBytes);
    if (read === null) {
      const latest = r.cfg.storage.snapshots.latest();
      assert(latest.index > t.meta.index, () => `snapshot ${t.meta.index} unreadable and no newer one exists`);
      r.logger.info({ term: r.term, follower: to, index: latest.index }, 'snapshot superseded: restarting transfer');
      pr.becomeSnapshot(latest);
      continue;
    }
    r.send({ type: 'snapshot', from: r.id, to, term: r.term, snapshot: t.meta, offset: t.sentOffset, data: read.data, done: read.done });
    t.sentOffset += read.data.length;
    t.finalSent = read.done;
  }
}

function handleSnapshotResponse(r: Raft, m: SnapshotResponse, pr: Progress): void {
  const t = pr.snapshot;
  if (pr.state !== 'snapshot' || t === null || t.meta.index !== m.snapshotIndex) return;
  if (m.reject) {
    if (m.nextOffset >= t.sentOffset && !t.finalSent) return;
    t.sentOffset = m.nextOffset;
    t.ackedOffset = Math.min(t.ackedOffset, m.nextOffset);
    t.finalSent = false;
  } else if (m.nextOffset > t.ackedOffset) {
    t.ackedOffset = m.nextOffset;
    t.stalledHeartbeats = 0;
  }
  sendSnapshotChunks(r, m.from, pr);
}

function checkSnapshotStall(r: Raft, to: NodeId, pr: Progress): void {
  const t = pr.snapshot;
  if (t === null) return;
  t.stalledHeartbeats++;
  if (t.stalledHeartbeats < SNAPSHOT_STALL_HEARTBEATS) return;
  t.stalledHeartbeats = 0;
  t.sentOffset = t.ackedOffset;
  t.finalSent = false;
  r.logger.debug({ term: r.term, follower: to, offset: t.ackedOffset }, 'snapshot transfer stalled: resending');
  sendSnapshotChunks(r, to, pr);
}
