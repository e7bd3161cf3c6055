// The Raft state machine of one member: roles, terms, elections and the dispatch of messages.
// Leader-side replication lives in leader.ts, follower-side handling in follower.ts; RawNode
// (raw-node.ts) wraps this with the Ready/advance/onPersisted protocol. Section numbers refer to
// Diego Ongaro's thesis, "Consensus: Bridging Theory and Practice" (2014).

import { assert } from './assert.js';
import { ConfigHistory } from './config-history.js';
import { applyConfChange, confStatesEqual, decodeConfChange, formatConfState } from './conf-change.js';
import type { ResolvedConfig } from './config.js';
import { handleAppend, handleCommitNotice, handleHeartbeat, handleSnapshotChunk } from './follower.js';
import { becomeLeaderState, stepLeader, tickLeader } from './leader.js';
import type { Logger } from './logger.js';
import { RaftLog } from './raft-log.js';
import { ReadOnlyQueue } from './read-only.js';
import { RejoinGuard } from './rejoin-guard.js';
import { ProgressTracker } from './tracker.js';
import type { Entry, HardState, LogPosition, Message, NodeId, ReadState, Role, SnapshotChunk, SoftState, VoteRequest } from './types.js';

export type CampaignKind = 'preVote' | 'vote' | 'transfer';

/** A message that may be sent only once the write with sequence `seq` is durable. */
interface HeldMessage {
  readonly seq: number;
  readonly message: Message;
}

/** Where a follower is in receiving a chunked snapshot from its leader. */
export interface SnapshotReceipt {
  readonly leader: NodeId;
  readonly term: number;
  readonly index: number;
  nextOffset: number;
}

export class Raft {
  readonly id: NodeId;
  readonly log: RaftLog;
  readonly tracker: ProgressTracker;
  readonly confHistory: ConfigHistory;
  readonly readOnly = new ReadOnlyQueue();
  readonly logger: Logger;

  term = 0;
  vote: NodeId | null = null;
  role: Role = 'follower';
  leader: NodeId | null = null;

  /** Ticks since the last election timeout reset (followers/candidates) or check-quorum round (leader). */
  electionElapsed = 0;
  heartbeatElapsed = 0;
  randomizedElectionTimeout = 0;
  /** Ticks since this node started; the leader's clock for leases. */
  tickCount = 0;

  leadTransferee: NodeId | null = null;
  /** A TimeoutNow went out in this term: the read lease is off until the term ends (config.ts). */
  transferStartedThisTerm = false;
  /** Bytes of entries this leader appended that are not yet applied (flow control). */
  uncommittedBytes = 0;
  /** ReadIndex requests that arrived before this leader committed an entry of its term. */
  pendingReadIndex: { context: Uint8Array; from: NodeId }[] = [];
  /** Appends were added to the leader's log since the last broadcast. */
  needsBroadcast = false;
  receivingSnapshot: SnapshotReceipt | null = null;
  /** Set while this member's storage, created empty, has not been caught up (RaftConfig.rejoinGuard). */
  rejoinGuard: RejoinGuard | null;
  /** A Ready that lifts the guard was handed out; the guard goes when it is durable. */
  rejoinGuardLiftHanded = false;
  /** The host found the ensemble brand new (RawNode.confirmNewEnsemble). */
  private newEnsembleConfirmed = false;
  /** The term in which a campaign refused by the guard was last logged (once per term is enough). */
  private guardRefusalLoggedTerm = -1;

  // --- outputs, drained by RawNode ---
  msgs: Message[] = [];
  readStates: ReadState[] = [];
  pendingChunks: SnapshotChunk[] = [];
  private held: HeldMessage[] = [];

  // --- write bookkeeping (see RawNode.ready / onPersisted) ---
  /** Sequence number of the last Ready with writes handed to the host. */
  handedSeq = 0;
  /** Sequence number of the last write the host reported durable. */
  persistedSeq = 0;
  hardStateHanded: HardState;

  constructor(readonly cfg: ResolvedConfig) {
    this.id = cfg.id;
    this.logger = cfg.logger;
    const { log: logStore, stable, snapshots } = cfg.storage;
    const hardState = stable.loadHardState();
    const snapshot = snapshots.latest();
    assert(
      snapshot.index >= logStore.firstIndex() - 1,
      `snapshot ${snapshot.index} does not cover the compacted log (first index ${logStore.firstIndex()})`,
    );
    assert(snapshot.index <= logStore.lastIndex(), `snapshot ${snapshot.index} beyond the last log index ${logStore.lastIndex()}`);
    const committed = Math.max(hardState.commit, snapshot.index);
    const applied = cfg.applied ?? snapshot.index;
    assert(applied >= logStore.firstIndex() - 1, `applied ${applied} is behind the compacted log`);
    this.log = new RaftLog(logStore, committed, applied);
    this.confHistory = new ConfigHistory(snapshot.index, snapshot.confState);
    this.replayConfigurations(snapshot.index + 1);
    this.tracker = new ProgressTracker(this.confHistory.current(), cfg.maxInflightAppends, cfg.maxInflightBytes);
    this.term = hardState.term;
    this.vote = hardState.vote;
    this.hardStateHanded = hardState;
    this.rejoinGuard = cfg.rejoinGuard === null ? null : new RejoinGuard(cfg.rejoinGuard);
    this.becomeFollower(this.term, null);
    this.logger.info(
      {
        term: this.term,
        commit: committed,
        applied,
        lastIndex: this.log.lastIndex(),
        conf: formatConfState(this.tracker.confState),
        rejoinGuard: this.rejoinGuard !== null,
      },
      'started',
    );
  }

  /** Rebuilds the configuration history from the confChange entries after the snapshot. */
  private replayConfigurations(from: number): void {
    const last = this.log.lastIndex();
    for (let lo = from; lo <= last;) {
      const batch = this.log.entries(lo, last + 1, 4 * 1024 * 1024);
      for (const entry of batch) this.noteConfEntry(entry);
      lo += batch.length;
    }
  }

  private noteConfEntry(entry: Entry): boolean {
    if (entry.type !== 'confChange') return false;
    const next = applyConfChange(this.confHistory.current(), decodeConfChange(entry.data));
    assert(typeof next !== 'string', () => `invalid configuration change at ${entry.index}: ${String(next)}`);
    this.confHistory.push(entry.index, next);
    return true;
  }

  // --- state accessors ---

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  softState(): SoftState {
    return { role: this.role, leader: this.leader, term: this.term };
  }

  promotable(): boolean {
    if (this.log.hasPendingSnapshot()) return false;
    return this.tracker.isVoter(this.id) || this.removedPendingCommit();
  }

  /**
   * This member was a voter until the latest configuration in its log, which removed it and is
   * not known to be committed (a leader that removed itself and lost leadership first, thesis
   * §4.2.2). It may still campaign, counting votes of the new configuration only (its own is
   * not among them): its log may be the only one holding that configuration, and without it the
   * new configuration's voters can be one short of a majority — a member under the rejoin guard
   * votes for nobody — so nobody could ever commit the removal. Elected, it commits the removal
   * and hands over (stepDownRemoved). Only with pre-vote or check-quorum, whose leader lease
   * keeps a member that never learns of the commit from deposing the new configuration's leader.
   */
  removedPendingCommit(): boolean {
    if (!this.cfg.preVote && !this.cfg.checkQuorum) return false;
    const latest = this.confHistory.currentIndex();
    if (latest <= this.log.committed) return false;
    return this.confHistory.at(latest - 1).voters.includes(this.id);
  }

  /** The leader has committed an entry of its own term (thesis §6.4 step 1, §4.1 bug fix). */
  committedInTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  // --- the log, with configurations taking effect on append (conf-change.ts) ---

  appendToLog(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    let changed = false;
    if (first.index <= this.log.lastIndex()) changed = this.confHistory.truncateFrom(first.index);
    this.log.append(entries);
    for (const entry of entries) if (this.noteConfEntry(entry)) changed = true;
    if (changed) this.confChanged();
  }

  confChanged(): void {
    const before = this.tracker.confState;
    this.tracker.setConf(this.confHistory.current(), this.log.lastIndex() + 1);
    if (confStatesEqual(before, this.tracker.confState)) return;
    this.logger.info(
      { term: this.term, index: this.confHistory.currentIndex(), conf: formatConfState(this.tracker.confState) },
      'configuration changed',
    );
  }

  // --- role transitions ---

  private reset(term: number): void {
    if (term !== this.term) {
      assert(term > this.term, `term went backwards from ${this.term} to ${term}`);
      this.term = term;
      this.vote = null;
    }
    this.leader = null;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.cfg.electionTimeoutTicks + this.cfg.random.nextInt(this.cfg.electionTimeoutTicks);
    this.leadTransferee = null;
    this.transferStartedThisTerm = false;
    this.tracker.resetVotes();
    this.tracker.resetProgress(this.log.lastIndex() + 1);
    this.readOnly.clear();
    this.pendingReadIndex = [];
    this.uncommittedBytes = 0;
    this.needsBroadcast = false;
    this.receivingSnapshot = null;
  }

  becomeFollower(term: number, leader: NodeId | null): void {
    const wasRole = this.role;
    this.reset(term);
    this.role = 'follower';
    this.leader = leader;
    if (wasRole !== 'follower') this.logger.info({ term, leader }, 'became follower');
  }

  private becomePreCandidate(): void {
    assert(this.role !== 'leader', 'a leader cannot become a pre-candidate');
    // Pre-vote changes neither term nor vote (thesis §9.6).
    this.tracker.resetVotes();
    this.leader = null;
    this.role = 'preCandidate';
    this.logger.info({ term: this.term }, 'became pre-candidate');
  }

  private becomeCandidate(): void {
    assert(this.role !== 'leader', 'a leader cannot become a candidate');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
    this.logger.info({ term: this.term }, 'became candidate');
  }

  private becomeLeader(): void {
    assert(this.role === 'candidate', 'only a candidate can become leader');
    this.reset(this.term);
    this.role = 'leader';
    this.leader = this.id;
    becomeLeaderState(this);
    this.logger.info({ term: this.term, lastIndex: this.log.lastIndex() }, 'became leader');
  }

  // --- elections (thesis §3.4) ---

  campaign(kind: CampaignKind): void {
    if (!this.promotable()) {
      this.logger.debug({ term: this.term }, 'not campaigning: not a voter');
      return;
    }
    if (this.role === 'leader') return;
    if (this.rejoinGuard !== null && !this.newEnsembleConfirmed) {
      if (this.guardRefusalLoggedTerm !== this.term) {
        this.guardRefusalLoggedTerm = this.term;
        this.logger.info({ term: this.term, kind }, 'not campaigning: storage started empty and no leader has caught it up yet');
      }
      return;
    }
    let voteTerm: number;
    if (kind === 'preVote') {
      this.becomePreCandidate();
      voteTerm = this.term + 1;
      this.tracker.recordVote(this.id, true);
    } else {
      this.becomeCandidate();
      voteTerm = this.term;
      // The candidate's own vote counts only once its new term and vote are durable (§3.8);
      // otherwise a crash could let it vote again in this term, or win twice.
      this.sendAfterPersist({ type: 'voteResponse', from: this.id, to: this.id, term: this.term, reject: false });
    }
    const request: Omit<VoteRequest, 'to'> = {
      type: kind === 'preVote' ? 'preVote' : 'vote',
      from: this.id,
      term: voteTerm,
      lastLogIndex: this.log.lastIndex(),
      lastLogTerm: this.log.lastTerm(),
      transfer: kind === 'transfer',
    };
    this.logger.info({ term: voteTerm, kind, lastIndex: request.lastLogIndex, lastTerm: request.lastLogTerm }, 'campaigning');
    for (const voter of this.tracker.voters) if (voter !== this.id) this.send({ ...request, to: voter });
    this.checkElection();
  }

  private checkElection(): void {
    const outcome = this.tracker.voteOutcome();
    if (outcome === 'pending') return;
    if (this.role === 'preCandidate') {
      if (outcome === 'won') this.campaign('vote');
      else this.becomeFollower(this.term, null);
      return;
    }
    if (this.role !== 'candidate') return;
    if (outcome === 'lost') this.becomeFollower(this.term, null);
    else if (this.tracker.votes.get(this.id) === true) this.becomeLeader();
  }

  private handleVoteRequest(m: VoteRequest): void {
    const responseType = m.type === 'vote' ? 'voteResponse' : 'preVoteResponse';
    const canVote = this.vote === m.from || (this.vote === null && this.leader === null) || (m.type === 'preVote' && m.term > this.term);
    const guarded = this.rejoinGuard !== null && !this.newEnsembleConfirmed;
    if (guarded) {
      this.logger.info(
        { term: this.term, candidate: m.from, kind: m.type, lastIndex: m.lastLogIndex, lastTerm: m.lastLogTerm },
        'refused vote: storage started empty and no leader has caught it up yet',
      );
    }
    if (canVote && !guarded && this.log.isUpToDate(m.lastLogIndex, m.lastLogTerm)) {
      this.logger.debug({ term: this.term, candidate: m.from, kind: m.type }, 'granted vote');
      if (m.type === 'vote') {
        this.electionElapsed = 0;
        this.vote = m.from;
        // Thesis §3.8: a vote must be durable before it is sent.
        this.sendAfterPersist({ type: responseType, from: this.id, to: m.from, term: m.term, reject: false });
      } else {
        this.send({ type: responseType, from: this.id, to: m.from, term: m.term, reject: false });
      }
    } else {
      this.logger.debug({ term: this.term, candidate: m.from, kind: m.type, vote: this.vote }, 'rejected vote');
      const response: Message = { type: responseType, from: this.id, to: m.from, term: this.term, reject: true };
      if (m.type === 'vote') this.sendAfterPersist(response);
      else this.send(response);
    }
  }

  // --- time ---

  tick(): void {
    this.tickCount++;
    if (this.role === 'leader') {
      tickLeader(this);
      return;
    }
    this.electionElapsed++;
    if (this.electionElapsed >= this.randomizedElectionTimeout && this.promotable()) {
      this.electionElapsed = 0;
      this.campaign(this.cfg.preVote ? 'preVote' : 'vote');
    }
  }

  // --- messages ---

  step(m: Message): void {
    assert(m.to === this.id, `message for ${m.to} stepped into ${this.id}`);
    if (m.term > this.term) {
      if ((m.type === 'preVote' || m.type === 'vote') && !m.transfer && this.inLeaderLease()) {
        // Thesis §4.2.3: a member that heard from a leader within an election timeout does not
        // help depose it (this is what stops a removed or partitioned member from disrupting).
        this.logger.debug({ term: this.term, candidate: m.from, kind: m.type }, 'ignored vote request: leader lease');
        return;
      }
      if (m.type === 'preVote' || (m.type === 'preVoteResponse' && !m.reject)) {
        // A pre-vote never changes the term; a granted pre-vote carries the future term.
      } else {
        const leader = m.type === 'append' || m.type === 'commit' || m.type === 'heartbeat' || m.type === 'snapshot' ? m.from : null;
        this.logger.info({ term: this.term, newTerm: m.term, from: m.from, type: m.type }, 'saw newer term');
        this.becomeFollower(m.term, leader);
      }
    } else if (m.term < this.term) {
      this.stepStale(m);
      return;
    }
    switch (m.type) {
      case 'preVote':
      case 'vote':
        this.handleVoteRequest(m);
        return;
      default:
        break;
    }
    switch (this.role) {
      case 'leader':
        stepLeader(this, m);
        return;
      case 'candidate':
      case 'preCandidate':
        this.stepCandidate(m);
        return;
      case 'follower':
        this.stepFollower(m);
        return;
    }
  }

  /** See RawNode.peerDisconnected. */
  leaderLinkLost(id: NodeId): void {
    if (this.role !== 'follower' || this.leader !== id) return;
    // The timeout is electionTimeoutTicks plus a random part: count the fixed part as elapsed,
    // and draw the random part afresh so that the members that lost the leader together spread
    // out their campaigns as after any other timeout.
    if (this.electionElapsed < this.cfg.electionTimeoutTicks) {
      this.logger.info({ term: this.term, leader: id }, 'lost the link to the leader; its lease ends now');
      this.electionElapsed = this.cfg.electionTimeoutTicks;
      this.randomizedElectionTimeout = this.cfg.electionTimeoutTicks + this.cfg.random.nextInt(this.cfg.electionTimeoutTicks);
    }
  }

  private inLeaderLease(): boolean {
    return this.cfg.checkQuorum && this.leader !== null && this.electionElapsed < this.cfg.electionTimeoutTicks;
  }

  private stepStale(m: Message): void {
    if ((this.cfg.checkQuorum || this.cfg.preVote) && (m.type === 'append' || m.type === 'commit' || m.type === 'heartbeat')) {
      // A deposed leader that missed the new term (e.g. healed from a partition while pre-vote
      // kept everyone else's term stable) learns it from this and steps down.
      this.send({ type: 'appendResponse', from: this.id, to: m.from, term: this.term, reject: true, index: 0, hintIndex: 0, hintTerm: 0 });
    } else if (m.type === 'preVote') {
      this.send({ type: 'preVoteResponse', from: this.id, to: m.from, term: this.term, reject: true });
    } else {
      this.logger.debug({ term: this.term, from: m.from, type: m.type, msgTerm: m.term }, 'ignored message from an older term');
    }
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case 'append':
      case 'commit':
      case 'heartbeat':
      case 'snapshot':
        this.becomeFollower(m.term, m.from);
        this.stepFollower(m);
        return;
      case 'preVoteResponse':
        if (this.role !== 'preCandidate' || (!m.reject && m.term !== this.term + 1)) return;
        this.tracker.recordVote(m.from, !m.reject);
        this.checkElection();
        return;
      case 'voteResponse':
        if (this.role !== 'candidate' || m.term !== this.term) return;
        this.tracker.recordVote(m.from, !m.reject);
        this.checkElection();
        return;
      case 'readIndexResponse':
        this.readStates.push({ index: m.index, context: m.context });
        return;
      default:
        this.logger.debug({ term: this.term, from: m.from, type: m.type }, 'ignored message as candidate');
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case 'append':
      case 'commit':
      case 'heartbeat':
      case 'snapshot':
        this.acceptLeader(m.from);
        if (m.type === 'append') {
          this.rejoinGuard?.heardAppend(this.term, m.leaderLastIndex);
          handleAppend(this, m);
        } else if (m.type === 'commit') {
          handleCommitNotice(this, m);
        } else if (m.type === 'heartbeat') {
          handleHeartbeat(this, m);
        } else {
          handleSnapshotChunk(this, m);
        }
        if (this.rejoinGuardLiftDue() && this.vote === null) {
          // Whatever the lost storage voted in this term, this member now sides with its leader.
          this.vote = this.leader;
        }
        return;
      case 'timeoutNow':
        this.logger.info({ term: this.term, from: m.from }, 'received timeout-now: campaigning');
        this.campaign('transfer');
        return;
      case 'readIndexResponse':
        this.readStates.push({ index: m.index, context: m.context });
        return;
      case 'transferLeadership':
        if (this.leader !== null) this.send({ ...m, from: this.id, to: this.leader, term: this.term });
        return;
      default:
        this.logger.debug({ term: this.term, from: m.from, type: m.type }, 'ignored message as follower');
    }
  }

  /**
   * Whether the next Ready should lift the rejoin guard: this member leads (only fresh logs
   * elected it, so nothing was committed before), or its log, once durable, satisfies the guard.
   */
  rejoinGuardLiftDue(): boolean {
    const guard = this.rejoinGuard;
    if (guard === null || this.rejoinGuardLiftHanded) return false;
    if (this.role === 'leader' || this.newEnsembleConfirmed) return true;
    if (this.role !== 'follower' || this.leader === null) return false;
    const committed = this.log.committed;
    return guard.satisfiedBy(this.term, { index: committed, term: this.log.term(committed) ?? 0 });
  }

  /** See RawNode.confirmNewEnsemble. */
  confirmNewEnsemble(): void {
    const guard = this.rejoinGuard;
    if (guard === null || this.newEnsembleConfirmed) return;
    if (!guard.holdsOnlyFounding(this.lastPosition())) {
      this.logger.debug({ term: this.term }, 'ignored new-ensemble confirmation: this log is past the founding entries');
      return;
    }
    this.newEnsembleConfirmed = true;
    this.logger.info({ term: this.term }, 'the peers hold only the founding entries: a new ensemble, nothing to rejoin');
  }

  /** Where a newly created log ends, while the rejoin guard holds; null once lifted. */
  rejoinGuardPosition(): LogPosition | null {
    return this.rejoinGuard?.fresh ?? null;
  }

  /** The Ready that lifted the guard is durable. */
  liftRejoinGuard(): void {
    if (this.rejoinGuard === null) return;
    const why = this.newEnsembleConfirmed ? 'rejoin guard lifted: the ensemble is new' : 'caught up after starting empty: votes again';
    this.rejoinGuard = null;
    this.rejoinGuardLiftHanded = false;
    this.newEnsembleConfirmed = false;
    this.logger.info({ term: this.term, leader: this.leader, lastIndex: this.log.lastIndex() }, why);
  }

  private lastPosition(): LogPosition {
    return { index: this.log.lastIndex(), term: this.log.lastTerm() };
  }

  private acceptLeader(from: NodeId): void {
    // Election Safety (thesis §3.4): at most one leader per term.
    assert(this.leader === null || this.leader === from, () => `two leaders in term ${this.term}: ${this.leader} and ${from}`);
    this.electionElapsed = 0;
    this.leader = from;
  }

  // --- sending ---

  send(m: Message): void {
    this.msgs.push(this.markGuarded(m));
  }

  /** Answers to a leader say whether they come under the rejoin guard (types.ts GuardedAck). */
  private markGuarded(m: Message): Message {
    if (this.rejoinGuard === null) return m;
    if (m.type === 'appendResponse' || m.type === 'heartbeatResponse' || m.type === 'snapshotResponse') return { ...m, guarded: true };
    return m;
  }

  /**
   * Sends `m` only after every write that exists now is durable: either at once (nothing is
   * pending) or, held here, when onPersisted covers the next write to be handed out. Used for
   * everything Figure 3.1 says must follow stable storage: vote responses and acknowledgements of
   * appended entries and snapshot chunks.
   */
  sendAfterPersist(m: Message): void {
    const seq = this.hasUnhandedSyncWrites() ? this.handedSeq + 1 : this.handedSeq;
    const marked = this.markGuarded(m);
    if (seq <= this.persistedSeq && m.to !== this.id) this.msgs.push(marked);
    else this.held.push({ seq, message: marked });
  }

  /** Any write not handed out yet, a commit index that moved included. */
  hasUnhandedWrites(): boolean {
    return this.hasUnhandedSyncWrites() || this.hardStateHanded.commit !== this.log.committed;
  }

  /**
   * Writes not handed out yet that something sent later may depend on: a term or vote, entries,
   * snapshot data. A moved commit index alone is not one: Raft keeps the commit index in volatile
   * state (thesis Figure 3.1), so it is written lazily and nothing waits for it (Ready.persistMark).
   */
  hasUnhandedSyncWrites(): boolean {
    const hs = this.hardStateHanded;
    return (
      hs.term !== this.term ||
      hs.vote !== this.vote ||
      this.pendingChunks.length > 0 ||
      this.log.unhandedSnapshot() !== null ||
      this.log.unhandedEntries().length > 0
    );
  }

  /** Releases held messages whose writes are now durable; self-addressed ones are stepped. */
  releaseHeld(): void {
    let n = 0;
    while (n < this.held.length && (this.held[n] as HeldMessage).seq <= this.persistedSeq) n++;
    if (n === 0) return;
    const released = this.held.splice(0, n);
    for (const { message } of released) {
      if (message.to === this.id) this.step(message);
      else this.msgs.push(message);
    }
  }

  heldCount(): number {
    return this.held.length;
  }
}
