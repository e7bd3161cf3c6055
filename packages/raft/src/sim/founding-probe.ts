// How the simulated hosts tell a brand-new ensemble from one a member rejoins with lost storage
// (RawNode.confirmNewEnsemble): the server's rule, with instant answers from the peers the
// network lets the asking member reach.

import { foundingPeersNeeded, holdsOnlyFounding } from '../rejoin-guard.js';
import type { LogPosition, NodeId } from '../types.js';
import type { SimMember } from './member.js';

/** Whether `member` is up and its log holds only the founding entries `fresh`. */
function memberHoldsOnlyFounding(member: SimMember, fresh: LogPosition): boolean {
  const node = member.node;
  if (node === null) return false;
  const index = node.status().lastIndex;
  return holdsOnlyFounding({ index, term: node.logTerm(index) ?? 0 }, fresh);
}

/**
 * Whether guarded member `m` may confirm that its ensemble is new: its own log holds only the
 * founding entries, enough of its reachable peers to meet every majority say the same of theirs
 * (its own storage may be the one that was lost, so it proves nothing), and no reachable peer has
 * moved past them.
 */
export function foundingProbe(m: SimMember, peers: ReadonlyMap<NodeId, SimMember>, reachable: (id: NodeId) => boolean): boolean {
  const node = m.node;
  if (node === null) return false;
  const status = node.status();
  const fresh = status.rejoinGuard;
  if (fresh === null || !memberHoldsOnlyFounding(m, fresh)) return false;
  let count = 0;
  for (const id of status.confState.voters) {
    const peer = peers.get(id);
    if (id === m.id || peer === undefined || !peer.running || !reachable(id)) continue;
    if (!memberHoldsOnlyFounding(peer, fresh)) return false;
    count++;
  }
  return count >= foundingPeersNeeded(status.confState.voters.length);
}
