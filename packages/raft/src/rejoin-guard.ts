// The rejoin guard: what keeps a member that lost its storage from undoing commitments it made
// before the loss. Raft's safety argument assumes a voter remembers what it acknowledged; a
// member restarted with an empty data directory (a new disk, a wiped directory) has forgotten
// every entry it helped commit, and would vote for a candidate missing them. Example, three
// members: A and B commit j; C lags without j; B is wiped; A dies. C asks B for its vote — a
// forgetful B grants it, and C leads without j. One wipe and one crash lost an acknowledged write.
//
// A member whose storage the host created empty starts guarded: it neither votes nor campaigns
// (a guarded member's vote, even for a candidate as fresh as itself, could be the one that
// elects a lagging member; so could its own candidacy). A brand-new ensemble elects all the same,
// because its hosts first confirm that it is new (RawNode.confirmNewEnsemble): a majority still
// in the founding term, holding only the founding entries, has never committed anything.
//
// The guard lifts once the member durably holds everything that could have been committed
// before it lost its storage, and knows its leader is not a stale one. The floor is the last
// index its leader L (of term t) held when it first sent this member an append. The guard waits
// for an entry of term t past the floor to be committed, and holds it durably:
//   - that entry did not exist when this member came back, so the majority that accepted it did
//     so afterwards; the member's own answers count toward no quorum while guarded (types.ts
//     GuardedAck), so it was a majority of the *other* members. A majority meets every majority
//     that elected a leader of a newer term before the loss (its members would have refused term
//     t), so no newer term had a leader: L is not stale, and no vote the lost storage cast in a
//     term after t elected anyone;
//   - any entry j committed before the loss is in L's log (Leader Completeness) at an index at
//     or below the floor, so a log that matches L's past the floor holds j (Log Matching).
// Without the marked answers a stale leader — cut off from a newer one, not yet deposed — could
// regain a majority through the member that forgot the newer term.
//
// Once it holds such a committed entry durably, the member records L as its vote for term t and
// votes normally from there on. The lift is written with (or after) the writes that satisfy it
// (Ready.liftsRejoinGuard), so no crash separates the two.

import { majority } from './quorum.js';
import type { LogPosition } from './types.js';

/**
 * Whether a log ending at `last` holds nothing past `fresh` (the founding entries a newly created
 * data directory has). The guard, and the hosts' probes of their peers, judge by this one rule.
 */
export function holdsOnlyFounding(last: LogPosition, fresh: LogPosition): boolean {
  return last.term < fresh.term || (last.term === fresh.term && last.index <= fresh.index);
}

/**
 * Peers with only the founding entries that prove an ensemble of `voters` new: enough to meet
 * every majority (a committing majority may include the asking member itself). A lone voter
 * needs none: nothing it could lose is held anywhere else.
 */
export function foundingPeersNeeded(voters: number): number {
  return voters <= 1 ? 0 : voters - majority(voters) + 1;
}

export class RejoinGuard {
  /** Term of the leader whose first append set `floor`; 0 before any append. */
  private floorTerm = 0;
  /** That leader's last log index when it sent its first append to this member (see above). */
  private floor = 0;

  /** `fresh`: the log position a newly created data directory has (the founding entries). */
  constructor(readonly fresh: LogPosition) {}

  /** Whether a log ending at `last` holds nothing past the founding entries. */
  holdsOnlyFounding(last: LogPosition): boolean {
    return holdsOnlyFounding(last, this.fresh);
  }

  /** An append from the leader of `term`, carrying the leader's last log index. */
  heardAppend(term: number, leaderLastIndex: number): void {
    if (term === this.floorTerm) return;
    this.floorTerm = term;
    this.floor = leaderLastIndex;
  }

  /**
   * Whether a log committed through `committed`, once durable, holds all that the lost storage
   * helped commit, while this member follows the leader of `term`.
   */
  satisfiedBy(term: number, committed: LogPosition): boolean {
    return this.floorTerm === term && committed.term === term && committed.index > this.floor;
  }
}
