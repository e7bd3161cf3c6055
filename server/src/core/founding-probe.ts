import { foundingPeersNeeded, holdsOnlyFounding, type LogPosition, type NodeId } from '@arbor/raft';

// How a member under the rejoin guard (RaftConfig.rejoinGuard) tells a brand-new ensemble from one
// it rejoins with lost storage: it asks its peers whether their logs hold only the founding
// entries, and confirms the ensemble new (RawNode.confirmNewEnsemble) once enough peers to meet
// every majority say so and none says otherwise. Its own storage proves nothing about the past (it
// may be the one that was lost), hence peers only: a new ensemble of 3 forms once all three
// founders are up, one of 5 once four are. The reasoning is in raw-node.ts.

/** Ticks between two rounds of questions while guarded. */
export const FOUNDING_PROBE_EVERY_TICKS = 2;

// The rule a member answers by is the one its own guard applies (@arbor/raft, rejoin-guard.ts).

export type FoundingEnvelope =
  /** Does your log hold only entries up to `fresh` (the founding ones)? */
  { k: 'foundingQ'; fresh: LogPosition } | { k: 'foundingA'; onlyFounding: boolean };

function isPosition(value: unknown): value is LogPosition {
  const p = value as LogPosition | null;
  return typeof p === 'object' && p !== null && Number.isSafeInteger(p.index) && Number.isSafeInteger(p.term);
}

/** The answer a member gives a guarded peer, from its own log; null for a malformed question. */
export function answerFoundingQuestion(question: { fresh?: unknown }, ownLast: LogPosition): FoundingEnvelope | null {
  if (!isPosition(question.fresh)) return null;
  return { k: 'foundingA', onlyFounding: holdsOnlyFounding(ownLast, question.fresh) };
}

/** The asking side: the latest answer of each peer. */
export class FoundingProbe {
  private readonly answers = new Map<NodeId, boolean>();

  constructor(
    private readonly self: NodeId,
    readonly fresh: LogPosition,
  ) {}

  question(): FoundingEnvelope {
    return { k: 'foundingQ', fresh: this.fresh };
  }

  /** An answer from `peer`; a later one replaces an earlier. */
  heard(peer: NodeId, onlyFounding: unknown): void {
    if (peer !== this.self && typeof onlyFounding === 'boolean') this.answers.set(peer, onlyFounding);
  }

  /** Whether the answers so far show a new ensemble with these voters (see the file comment). */
  confirmsNew(voters: readonly NodeId[]): boolean {
    const needed = foundingPeersNeeded(voters.length);
    let count = 0;
    for (const id of voters) {
      if (id === this.self) continue;
      const answer = this.answers.get(id);
      if (answer === false) return false;
      if (answer === true) count++;
    }
    return count >= needed;
  }
}
