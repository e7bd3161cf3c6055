// The follower's side of replication: AppendEntries (thesis §3.5), heartbeats, and receiving a
// chunked snapshot (§5.3). Every acknowledgement goes through sendAfterPersist: a follower may
// only tell the leader it holds entries (or snapshot bytes) once they are durable, because the
// leader counts that acknowledgement toward commitment (§3.8, §10.2.1).

import { assert } from './assert.js';
import type { Raft } from './raft.js';
import type { AppendRequest, CommitNotice, HeartbeatRequest, SnapshotRequest } from './types.js';

export function handleAppend(r: Raft, m: AppendRequest): void {
  if (m.prevLogIndex < r.log.committed) {
    // Everything through our commit index already matches the leader's log.
    acceptThrough(r, m.from, r.log.committed);
    return;
  }
  if (r.log.matchTerm(m.prevLogIndex, m.prevLogTerm)) {
    const lastNew = m.prevLogIndex + m.entries.length;
    const conflict = r.log.findConflict(m.entries);
    if (conflict !== 0) {
      assert(conflict > r.log.committed, () => `entry ${conflict} conflicts with the committed log (commit ${r.log.committed})`);
      if (conflict <= r.log.lastIndex()) {
        r.logger.info({ term: r.term, index: conflict, lastIndex: r.log.lastIndex() }, 'truncating conflicting entries');
      }
      r.appendToLog(m.entries.slice(conflict - m.prevLogIndex - 1));
    }
    r.log.commitTo(Math.min(m.commit, lastNew));
    acceptThrough(r, m.from, lastNew);
    return;
  }
  const hint = r.log.findConflictByTerm(Math.min(m.prevLogIndex, r.log.lastIndex()), m.prevLogTerm);
  r.logger.debug(
    { term: r.term, prevIndex: m.prevLogIndex, prevTerm: m.prevLogTerm, hintIndex: hint.index, hintTerm: hint.term },
    'rejected append',
  );
  r.sendAfterPersist({
    type: 'appendResponse',
    from: r.id,
    to: m.from,
    term: r.term,
    reject: true,
    index: m.prevLogIndex,
    hintIndex: hint.index,
    hintTerm: hint.term,
  });
}

function acceptThrough(r: Raft, leader: number, index: number): void {
  r.sendAfterPersist({ type: 'appendResponse', from: r.id, to: leader, term: r.term, reject: false, index, hintIndex: 0, hintTerm: 0 });
}

/** Unanswered (types.ts CommitNotice): commits only an entry this log holds with the leader's term. */
export function handleCommitNotice(r: Raft, m: CommitNotice): void {
  if (m.commit <= r.log.committed) return;
  if (!r.log.matchTerm(m.commit, m.commitTerm)) {
    r.logger.debug(
      { term: r.term, commit: m.commit, commitTerm: m.commitTerm, lastIndex: r.log.lastIndex() },
      'commit notice for an entry this log lacks',
    );
    return;
  }
  r.log.commitTo(m.commit);
}

export function handleHeartbeat(r: Raft, m: HeartbeatRequest): void {
  const last = r.log.lastIndex();
  // Acknowledging a heartbeat promises nothing about durability, so it need not wait.
  if (m.commit > last) {
    // The leader counts entries this member no longer has (lost storage): never commit past the
    // log; tell the leader where the log really ends so it replicates (or snapshots) from there.
    r.logger.warn({ term: r.term, commit: m.commit, lastIndex: last }, 'leader commit beyond the log: this member lost entries');
    r.send({ type: 'heartbeatResponse', from: r.id, to: m.from, term: r.term, context: m.context, tick: m.tick, lostLogAfter: last });
    return;
  }
  r.log.commitTo(m.commit);
  r.send({ type: 'heartbeatResponse', from: r.id, to: m.from, term: r.term, context: m.context, tick: m.tick });
}

export function handleSnapshotChunk(r: Raft, m: SnapshotRequest): void {
  const meta = m.snapshot;
  if (meta.index <= r.log.committed) {
    // Already have everything it covers: report where we are so the leader resumes appends.
    r.receivingSnapshot = null;
    acceptThrough(r, m.from, r.log.committed);
    return;
  }
  let receipt = r.receivingSnapshot;
  const sameTransfer = receipt !== null && receipt.leader === m.from && receipt.term === m.term && receipt.index === meta.index;
  if (!sameTransfer) {
    if (m.offset !== 0) {
      rejectChunk(r, m, 0);
      return;
    }
    if (r.log.matchTerm(meta.index, meta.term)) {
      // Our log already contains the snapshot's last entry, so it matches the leader's through
      // there (Log Matching): no need to discard it, only to advance the commit index.
      r.log.commitTo(meta.index);
      r.receivingSnapshot = null;
      acceptThrough(r, m.from, r.log.committed);
      return;
    }
    receipt = { leader: m.from, term: m.term, index: meta.index, nextOffset: 0 };
    r.receivingSnapshot = receipt;
    r.logger.info({ term: r.term, index: meta.index, snapshotTerm: meta.term, from: m.from }, 'receiving snapshot');
  }
  assert(receipt !== null, 'snapshot receipt');
  if (m.offset < receipt.nextOffset) {
    // A duplicate: re-acknowledge what we have.
    ackChunk(r, m, receipt.nextOffset);
    return;
  }
  if (m.offset > receipt.nextOffset) {
    rejectChunk(r, m, receipt.nextOffset);
    return;
  }
  r.pendingChunks.push({ snapshot: meta, offset: m.offset, data: m.data, done: m.done });
  receipt.nextOffset += m.data.length;
  if (!m.done) {
    ackChunk(r, m, receipt.nextOffset);
    return;
  }
  r.receivingSnapshot = null;
  r.log.restore(meta);
  r.confHistory.reset(meta.index, meta.confState);
  r.confChanged();
  r.logger.info({ term: r.term, index: meta.index, snapshotTerm: meta.term }, 'installing snapshot');
  acceptThrough(r, m.from, meta.index);
}

function ackChunk(r: Raft, m: SnapshotRequest, nextOffset: number): void {
  r.sendAfterPersist({
    type: 'snapshotResponse',
    from: r.id,
    to: m.from,
    term: r.term,
    snapshotIndex: m.snapshot.index,
    nextOffset,
    reject: false,
  });
}

function rejectChunk(r: Raft, m: SnapshotRequest, nextOffset: number): void {
  r.logger.debug({ term: r.term, index: m.snapshot.index, offset: m.offset, expected: nextOffset }, 'rejected snapshot chunk');
  r.send({ type: 'snapshotResponse', from: r.id, to: m.from, term: r.term, snapshotIndex: m.snapshot.index, nextOffset, reject: true });
}
