// The public face of the consensus core: a synchronous object fed with ticks, messages and
// requests, which hands back Ready batches (STYLE.md 1, after etcd-raft's RawNode).
//
// The host loop, whether its writes are synchronous or run on a worker thread:
//
//   node.tick() / node.step(msg) / node.propose(data) / node.onPersisted(mark) ...
//   while (node.hasReady()) {
//     const rd = node.ready();
//     transport.send(rd.messages);            // at once: nothing in it waits for rd's writes
//     writer.write(rd, () => rd.persistMark && node.onPersisted(rd.persistMark)); // in Ready order; sync or async
//     if (rd.snapshot) stateMachine.restore(snapshots.install(rd.snapshot));
//     stateMachine.apply(rd.committedEntries);
//     serveReads(rd.readStates);
//     node.advance(rd);
//   }
//
// Between ready() and advance() the node accepts no other input. onPersisted is an ordinary
// input: call it from the turn loop when the write completes (for a synchronous host, right
// after advance). Until then the core holds back every message that depends on the write (vote
// grants, append and snapshot acknowledgements) and does not count the leader's own entries
// toward commitment; it does not hold back the leader's AppendEntries (thesis §10.2.1).

import { assert } from './assert.js';
import { resolveConfig, type RaftConfig } from './config.js';
import {
  flushBroadcast,
  hasReadLease,
  leaderReadIndex,
  propose,
  proposeConfChange,
  selfPersisted,
  transferLeadership,
  type ProposeResult,
  type Rejection,
} from './leader.js';
import type { ProgressState } from './progress.js';
import { Raft } from './raft.js';
import {
  entryBytes,
  type ConfChange,
  type ConfState,
  type Entry,
  type HardState,
  type LogPosition,
  type Message,
  type NodeId,
  type PersistMark,
  type Ready,
  type Role,
  type SnapshotMeta,
  type SoftState,
} from './types.js';

export type RequestResult = { readonly ok: true } | Rejection;

export interface FollowerStatus {
  readonly match: number;
  readonly next: number;
  readonly state: ProgressState;
  readonly recentActive: boolean;
}

export interface Status {
  readonly id: NodeId;
  readonly role: Role;
  readonly leader: NodeId | null;
  readonly term: number;
  readonly vote: NodeId | null;
  readonly commit: number;
  readonly applied: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  /** Last index the host has reported durable. */
  readonly durableIndex: number;
  readonly confState: ConfState;
  /** Index of the log entry that created confState (the snapshot's index if none since). */
  readonly confIndex: number;
  readonly leadTransferee: NodeId | null;
  /**
   * While the rejoin guard holds this member's vote back (RaftConfig.rejoinGuard): where a newly
   * created log ends. Null once lifted.
   */
  readonly rejoinGuard: LogPosition | null;
}

interface WriteRecord {
  readonly seq: number;
  readonly lastEntry: LogPosition | null;
  readonly snapshotIndex: number | null;
  readonly liftsRejoinGuard: boolean;
}

export class RawNode {
  private readonly raft: Raft;
  private softStateHanded: SoftState;
  private outstanding: Ready | null = null;
  private readonly writes: WriteRecord[] = [];

  constructor(config: RaftConfig) {
    this.raft = new Raft(resolveConfig(config));
    this.softStateHanded = this.raft.softState();
  }

  get id(): NodeId {
    return this.raft.id;
  }

  // --- inputs ---

  /** Advances the logical clock by one tick (election timeouts, heartbeats, check-quorum). */
  tick(): void {
    this.checkNoOutstanding('tick');
    this.raft.tick();
  }

  /** Delivers a message from a peer. Messages for another member id are a host bug. */
  step(message: Message): void {
    this.checkNoOutstanding('step');
    this.raft.step(message);
  }

  /**
   * The host's connection to peer `id` closed (its process died, or the link broke). When `id`
   * is this follower's leader, no heartbeat will come over that link: the leader lease ends now
   * (so this member grants the others' pre-votes) and it campaigns after only the random part of
   * its election timeout, instead of first waiting out the whole timeout for heartbeats. Safe on
   * a mere flap: a pre-vote wins only if a majority no longer hears the leader either.
   */
  peerDisconnected(id: NodeId): void {
    this.checkNoOutstanding('peerDisconnected');
    this.raft.leaderLinkLost(id);
  }

  /**
   * The host learned that the ensemble is brand new (RaftConfig.rejoinGuard): enough peers to meet
   * every majority hold only the founding entries, and so does this member. Nothing
   * was ever committed that this member could have forgotten, so it may vote and campaign, and its
   * rejoin guard lifts with the next Ready. Ignored once this member's own log is past the
   * founding entries. How the host asks is its own business (the server asks over its peer
   * links); answers may be stale. The reasoning: a member that acknowledged an entry that was
   * then committed keeps it (committed entries are never truncated), and a commitment needs a
   * majority, which those peers meet. This member's own log proves nothing about the
   * past, as its storage may be the one that was lost: hence peers only, and a brand-new ensemble
   * of 3 forms once all three founders are up, one of 5 once four are.
   */
  confirmNewEnsemble(): void {
    this.checkNoOutstanding('confirmNewEnsemble');
    this.raft.confirmNewEnsemble();
  }

  /** Starts an election now (tests, scripted scenarios, or an operator's request). */
  campaign(): void {
    this.checkNoOutstanding('campaign');
    this.raft.campaign(this.raft.cfg.preVote ? 'preVote' : 'vote');
  }

  /**
   * Appends a normal entry if this member is the leader. On success the entry is at
   * (index, term): it is committed if and only if a committed entry at `index` later has `term`
   * (the host answers its caller when it applies that index, and fails the request if the entry
   * it applies there has another term).
   */
  propose(data: Uint8Array): ProposeResult {
    this.checkNoOutstanding('propose');
    return propose(this.raft, data);
  }

  /**
   * Proposes a single-server membership change (thesis §4.1). Refused while another change is
   * uncommitted, before the leader has committed an entry of its term, or if the change is
   * invalid for the current configuration. The change takes effect on each member as soon as the
   * entry is appended to its log (conf-change.ts).
   */
  proposeConfChange(change: ConfChange): ProposeResult {
    this.checkNoOutstanding('proposeConfChange');
    return proposeConfChange(this.raft, change);
  }

  /**
   * Asks for a linearizable read point (thesis §6.4). The answer arrives as a ReadState with
   * the same `context` in a later Ready (possibly this turn's); on a follower the request is
   * forwarded to the leader. `context` must be unique among outstanding requests. A request can
   * be lost (leader change, message loss): the host must time it out and retry.
   */
  readIndex(context: Uint8Array): RequestResult {
    this.checkNoOutstanding('readIndex');
    const r = this.raft;
    if (r.role === 'leader') {
      leaderReadIndex(r, context, r.id);
      return { ok: true };
    }
    if (r.leader === null) return { ok: false, reason: 'notLeader', leader: null, message: 'no known leader' };
    r.send({ type: 'readIndex', from: r.id, to: r.leader, term: r.term, context });
    return { ok: true };
  }

  /**
   * Moves leadership to voter `to` (thesis §3.10): the leader stops accepting proposals, brings
   * `to` up to date, then tells it to campaign at once. Aborted after an election timeout. On a
   * follower the request is forwarded to the leader.
   */
  transferLeadership(to: NodeId): RequestResult {
    this.checkNoOutstanding('transferLeadership');
    const r = this.raft;
    if (r.role === 'leader') return transferLeadership(r, to) ?? { ok: true };
    if (r.leader === null) return { ok: false, reason: 'notLeader', leader: null, message: 'no known leader' };
    r.send({ type: 'transferLeadership', from: r.id, to: r.leader, term: r.term, transferee: to });
    return { ok: true };
  }

  /**
   * The writes of every Ready up to and including the one carrying `mark` are durable. Marks may
   * be skipped (a later one covers earlier ones) but not reordered. For the leader this is what
   * counts its own entries toward commitment; for everyone it releases held messages.
   */
  onPersisted(mark: PersistMark): void {
    this.checkNoOutstanding('onPersisted');
    const r = this.raft;
    assert(mark.seq <= r.handedSeq, () => `persisted write ${mark.seq} was never handed out (last ${r.handedSeq})`);
    if (mark.seq <= r.persistedSeq) return;
    let lifted = false;
    while (this.writes.length > 0 && (this.writes[0] as WriteRecord).seq <= mark.seq) {
      const write = this.writes.shift() as WriteRecord;
      if (write.liftsRejoinGuard) lifted = true;
      if (write.snapshotIndex !== null) r.log.stableSnapshotTo(write.snapshotIndex);
      if (write.lastEntry !== null) r.log.stableTo(write.lastEntry.index, write.lastEntry.term);
    }
    r.persistedSeq = mark.seq;
    if (lifted) r.liftRejoinGuard();
    r.releaseHeld();
    if (r.role === 'leader') selfPersisted(r);
  }

  /**
   * The host saved a snapshot and compacted its LogStore through `index`. The core drops
   * configuration history it no longer needs; followers behind `index` will be sent a snapshot.
   */
  onCompacted(index: number): void {
    this.checkNoOutstanding('onCompacted');
    const r = this.raft;
    assert(index <= r.log.applied, () => `compacted through ${index} beyond applied ${r.log.applied}`);
    assert(r.cfg.storage.snapshots.latest().index >= index, () => `compacted through ${index} with no snapshot covering it`);
    r.confHistory.compact(index);
  }

  // --- outputs ---

  /** Whether ready() would return anything. May prepare pending broadcasts. */
  hasReady(): boolean {
    const r = this.raft;
    flushBroadcast(r);
    return (
      r.msgs.length > 0 ||
      r.readStates.length > 0 ||
      r.hasUnhandedWrites() ||
      r.rejoinGuardLiftDue() ||
      r.log.hasNextCommittedEntries() ||
      !sameSoftState(r.softState(), this.softStateHanded)
    );
  }

  /** The next batch of work; see Ready in types.ts for the contract of each field. */
  ready(): Ready {
    this.checkNoOutstanding('ready');
    const r = this.raft;
    flushBroadcast(r);
    const soft = r.softState();
    const hard = r.hardState();
    const hardChanged = !sameHardState(hard, r.hardStateHanded);
    const snapshot = r.log.unhandedSnapshot();
    const entries = r.log.unhandedEntries();
    const chunks = r.pendingChunks.slice();
    const liftsRejoinGuard = r.rejoinGuardLiftDue();
    // A hard state that only moves the commit index needs no sync of its own (see persistMark).
    const mustSync =
      hard.term !== r.hardStateHanded.term ||
      hard.vote !== r.hardStateHanded.vote ||
      snapshot !== null ||
      entries.length > 0 ||
      chunks.length > 0 ||
      liftsRejoinGuard;
    const rd: Ready = {
      softState: sameSoftState(soft, this.softStateHanded) ? null : soft,
      hardState: hardChanged ? hard : null,
      snapshotChunks: chunks,
      snapshot,
      entries,
      committedEntries: r.log.nextCommittedEntries(r.cfg.maxCommittedBytesPerReady),
      messages: r.msgs.slice(),
      readStates: r.readStates.slice(),
      liftsRejoinGuard,
      persistMark: mustSync ? { seq: r.handedSeq + 1, lastIndex: r.log.lastIndex(), lastTerm: r.log.lastTerm() } : null,
    };
    this.outstanding = rd;
    return rd;
  }

  /** The host has taken `ready` (see the loop above); its committed entries count as applied. */
  advance(ready: Ready): void {
    assert(ready === this.outstanding, 'advance() with a Ready that is not the outstanding one');
    this.outstanding = null;
    const r = this.raft;
    if (ready.softState) this.softStateHanded = ready.softState;
    if (ready.hardState) r.hardStateHanded = ready.hardState;
    r.pendingChunks.splice(0, ready.snapshotChunks.length);
    const lastEntry = ready.entries[ready.entries.length - 1];
    r.log.markHanded(lastEntry?.index ?? null, ready.snapshot !== null);
    if (ready.snapshot) r.log.appliedTo(ready.snapshot.index);
    const lastApplied = ready.committedEntries[ready.committedEntries.length - 1];
    if (lastApplied) {
      r.log.appliedTo(lastApplied.index);
      if (r.role === 'leader') {
        let bytes = 0;
        for (const e of ready.committedEntries) bytes += entryBytes(e);
        r.uncommittedBytes = Math.max(0, r.uncommittedBytes - bytes);
      }
    }
    r.msgs.splice(0, ready.messages.length);
    r.readStates.splice(0, ready.readStates.length);
    if (ready.liftsRejoinGuard) r.rejoinGuardLiftHanded = true;
    if (ready.persistMark) {
      r.handedSeq = ready.persistMark.seq;
      this.writes.push({
        seq: ready.persistMark.seq,
        lastEntry: lastEntry ? { index: lastEntry.index, term: lastEntry.term } : null,
        snapshotIndex: ready.snapshot?.index ?? null,
        liftsRejoinGuard: ready.liftsRejoinGuard,
      });
    }
  }

  // --- queries ---

  status(): Status {
    const r = this.raft;
    return {
      id: r.id,
      role: r.role,
      leader: r.leader,
      term: r.term,
      vote: r.vote,
      commit: r.log.committed,
      applied: r.log.applied,
      firstIndex: r.log.firstIndex(),
      lastIndex: r.log.lastIndex(),
      durableIndex: r.log.durableLastIndex(),
      confState: r.tracker.confState,
      confIndex: r.confHistory.currentIndex(),
      leadTransferee: r.leadTransferee,
      rejoinGuard: r.rejoinGuardPosition(),
    };
  }

  /** Per-member replication progress (the leader's own included); null unless leader. */
  progress(): ReadonlyMap<NodeId, FollowerStatus> | null {
    const r = this.raft;
    if (r.role !== 'leader') return null;
    const out = new Map<NodeId, FollowerStatus>();
    for (const [id, pr] of r.tracker.progress) {
      out.set(id, { match: pr.match, next: pr.next, state: pr.state, recentActive: pr.recentActive });
    }
    return out;
  }

  hardState(): HardState {
    return this.raft.hardState();
  }

  /** Whether a ReadIndex request would be answered from the lease without a heartbeat round. */
  hasReadLease(): boolean {
    return this.raft.role === 'leader' && hasReadLease(this.raft);
  }

  /** Term of log entry `index` as the core sees it (durable or not); undefined if unavailable. */
  logTerm(index: number): number | undefined {
    return this.raft.log.term(index);
  }

  /** Log entries [lo, hi) as the core sees them, limited by bytes (at least one). */
  logEntries(lo: number, hi: number, maxBytes = Number.MAX_SAFE_INTEGER): Entry[] {
    return this.raft.log.entries(lo, hi, maxBytes);
  }

  /**
   * Metadata for a snapshot the host takes of its state machine at `index` (normally its applied
   * index; at most the applied index, at least the latest snapshot's).
   */
  snapshotMetaAt(index: number): SnapshotMeta {
    const r = this.raft;
    assert(index <= r.log.applied, () => `snapshot at ${index} beyond applied ${r.log.applied}`);
    const term = r.log.term(index);
    assert(term !== undefined, () => `no term for snapshot index ${index}`);
    return { index, term, confState: r.confHistory.at(index) };
  }

  /** Messages held until a write is durable (diagnostics and tests). */
  heldMessageCount(): number {
    return this.raft.heldCount();
  }

  private checkNoOutstanding(what: string): void {
    assert(this.outstanding === null, () => `${what}() between ready() and advance()`);
  }
}

function sameSoftState(a: SoftState, b: SoftState): boolean {
  return a.role === b.role && a.leader === b.leader && a.term === b.term;
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}
