// The membership in force and the leader's per-member progress and election votes.

import { Progress } from './progress.js';
import { hasQuorum, quorumMatchIndex, voteOutcome, type VoteOutcome } from './quorum.js';
import type { ConfState, NodeId } from './types.js';

export class ProgressTracker {
  private conf: ConfState;
  /** One entry per voter and learner (including the local member when it is one). */
  readonly progress = new Map<NodeId, Progress>();
  readonly votes = new Map<NodeId, boolean>();

  constructor(
    conf: ConfState,
    private readonly maxInflight: number,
    private readonly maxInflightBytes: number,
  ) {
    this.conf = conf;
  }

  get confState(): ConfState {
    return this.conf;
  }

  get voters(): readonly NodeId[] {
    return this.conf.voters;
  }

  isVoter(id: NodeId): boolean {
    return this.conf.voters.includes(id);
  }

  isLearner(id: NodeId): boolean {
    return this.conf.learners.includes(id);
  }

  isMember(id: NodeId): boolean {
    return this.isVoter(id) || this.isLearner(id);
  }

  /** Every voter and learner, ascending. */
  members(): NodeId[] {
    return [...this.conf.voters, ...this.conf.learners].sort((a, b) => a - b);
  }

  /**
   * Switches to `conf`. Members that stay keep their progress; new members start probing at
   * `nextIndex` (thesis §4.2.1: a new server catches up like any lagging follower).
   */
  setConf(conf: ConfState, nextIndex: number): void {
    this.conf = conf;
    const members = new Set(this.members());
    for (const id of [...this.progress.keys()]) if (!members.has(id)) this.progress.delete(id);
    for (const id of members) if (!this.progress.has(id)) this.progress.set(id, this.newProgress(nextIndex));
  }

  /** Fresh progress for every member (a new leader knows nothing about followers, §3.5). */
  resetProgress(nextIndex: number): void {
    this.progress.clear();
    for (const id of this.members()) this.progress.set(id, this.newProgress(nextIndex));
  }

  private newProgress(nextIndex: number): Progress {
    return new Progress(nextIndex, this.maxInflight, this.maxInflightBytes);
  }

  /** The largest index durably matched by a majority of voters (guarded ones not counted). */
  committedIndex(): number {
    return quorumMatchIndex(this.conf.voters, (id) => {
      const pr = this.progress.get(id);
      return pr === undefined || pr.guarded ? 0 : pr.match;
    });
  }

  recordVote(id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  voteOutcome(): VoteOutcome {
    return voteOutcome(this.conf.voters, this.votes);
  }

  resetVotes(): void {
    this.votes.clear();
  }

  /** Whether a majority of voters were heard from since the last check (self counts, guarded ones do not). */
  quorumActive(self: NodeId): boolean {
    return hasQuorum(this.conf.voters, (id) => {
      const pr = this.progress.get(id);
      return id === self || (pr !== undefined && pr.recentActive && !pr.guarded);
    });
  }

  forEachPeer(self: NodeId, visit: (id: NodeId, progress: Progress) => void): void {
    for (const [id, progress] of this.progress) if (id !== self) visit(id, progress);
  }
}
