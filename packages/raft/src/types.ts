// The values that cross the boundary of the consensus core: log entries, messages between
// members, durable state and the Ready batch handed to the host. Everything here is plain data
// (numbers, strings, Uint8Array), so the host can encode it with any codec (the server uses
// msgpack) and the simulator can copy it freely.

/** A member id: a positive integer, unique within the ensemble for its whole life. */
export type NodeId = number;

/**
 * What an entry means to the host.
 * - `normal`: an opaque command from propose(); the host applies it to its state machine.
 * - `noop`: appended by every new leader when it takes office (thesis §6.4); data is empty;
 *   the host applies nothing but still advances its applied index.
 * - `confChange`: data is encodeConfChange(change); the core already acted on it when it was
 *   appended (see ConfChange); the host applies it by updating its membership directory.
 */
export type EntryType = 'normal' | 'noop' | 'confChange';

export interface Entry {
  /** Position in the log, from 1. */
  readonly index: number;
  /** Term of the leader that created the entry. */
  readonly term: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** Fixed per-entry cost counted by entryBytes(), so empty entries still have a size. */
export const ENTRY_OVERHEAD_BYTES = 24;

/**
 * The size an entry counts for in every byte limit (append batches, LogStore.entries maxBytes,
 * uncommitted and committed-per-Ready budgets). Storage implementations must use this same
 * measure so that the core and the store agree on where a batch ends.
 */
export function entryBytes(entry: Entry): number {
  return entry.data.length + ENTRY_OVERHEAD_BYTES;
}

/**
 * One single-server membership change (thesis §4.1, §4.2.1).
 * - `addVoter`: add a new voter, or promote an existing learner to voter.
 * - `addLearner`: add a non-voting member (catches up without affecting quorums), or demote a
 *   voter to learner.
 * - `removeMember`: remove a voter or learner.
 * `context` is opaque to the core; the server stores the member's address there.
 */
export type ConfChangeType = 'addVoter' | 'addLearner' | 'removeMember';

export interface ConfChange {
  readonly type: ConfChangeType;
  readonly memberId: NodeId;
  readonly context: Uint8Array;
}

/** A membership configuration: both lists sorted ascending, disjoint. */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

/**
 * State that must survive a crash (thesis §3.8, Figure 3.1 "persistent state"). `commit` is
 * persisted only to speed up restart; it is never larger than the last index written in the
 * same or an earlier write.
 */
export interface HardState {
  readonly term: number;
  /** Candidate voted for in `term`, or null. */
  readonly vote: NodeId | null;
  readonly commit: number;
}

/** A position in the log. */
export interface LogPosition {
  readonly index: number;
  readonly term: number;
}

/**
 * Identifies a snapshot: the state machine after applying every entry through `index`, whose
 * entry had `term`, with the membership `confState` in force at that index.
 */
export interface SnapshotMeta {
  readonly index: number;
  readonly term: number;
  readonly confState: ConfState;
}

/** Role of a member. */
export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader';

/** Volatile state reported to the host when it changes; never persisted. */
export interface SoftState {
  readonly role: Role;
  /** Known leader of `term`, or null. */
  readonly leader: NodeId | null;
  readonly term: number;
}

/**
 * The result of a ReadIndex request: once the host's applied index reaches `index`, a read
 * served from its state machine reflects every write committed before readIndex(context) was
 * called (thesis §6.4). `context` is the caller's request id, returned unchanged.
 */
export interface ReadState {
  readonly index: number;
  readonly context: Uint8Array;
}

/** One piece of a snapshot in transfer; also what the receiving host stages (Ready.snapshotChunks). */
export interface SnapshotChunk {
  readonly snapshot: SnapshotMeta;
  /** Byte offset of `data` within the snapshot's serialized form. */
  readonly offset: number;
  readonly data: Uint8Array;
  /** True on the last chunk. */
  readonly done: boolean;
}

// ---------------------------------------------------------------------------------------------
// Messages. Every message carries the sender's term; the receiver compares it with its own
// before anything else (thesis §3.3). Field names follow the thesis where one exists.

interface MessageBase {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
}

/** RequestVote (thesis §3.4) or its pre-vote probe (thesis §9.6), which changes no state. */
export interface VoteRequest extends MessageBase {
  readonly type: 'preVote' | 'vote';
  readonly lastLogIndex: number;
  readonly lastLogTerm: number;
  /**
   * Set on a campaign started by TimeoutNow (leadership transfer, thesis §3.10): voters then
   * disregard their leader lease (thesis §4.2.3) since the current leader asked for it.
   */
  readonly transfer: boolean;
}

export interface VoteResponse extends MessageBase {
  readonly type: 'preVoteResponse' | 'voteResponse';
  readonly reject: boolean;
}

/** AppendEntries (thesis §3.5). An empty `entries` still carries `commit`. */
export interface AppendRequest extends MessageBase {
  readonly type: 'append';
  readonly prevLogIndex: number;
  readonly prevLogTerm: number;
  readonly entries: readonly Entry[];
  /** Leader's commit index. */
  readonly commit: number;
  /**
   * Leader's last log index when it sent this. A follower under the rejoin guard waits for an
   * entry past what its leader held at first contact to commit (rejoin-guard.ts).
   */
  readonly leaderLastIndex: number;
}

/**
 * Sent by a follower under the rejoin guard (rejoin-guard.ts): its storage started empty, so it
 * may have forgotten a newer term than the leader's. The leader uses its answers to catch it up
 * but counts them toward no quorum — commitment, ReadIndex, lease, check-quorum — or a stale
 * leader could regain a majority through the member that forgot the newer term.
 */
export interface GuardedAck {
  readonly guarded?: boolean;
}

export interface AppendResponse extends MessageBase, GuardedAck {
  readonly type: 'appendResponse';
  readonly reject: boolean;
  /**
   * Accepted: the follower's log matches the leader's, durably, through `index`.
   * Rejected: the prevLogIndex of the append being rejected.
   */
  readonly index: number;
  /**
   * Rejected only: the follower's guess at the last index where the logs may agree — the
   * largest index <= min(prevLogIndex, its last index) whose term is <= the rejected
   * prevLogTerm — and that entry's term, so the leader can skip a whole term per round trip
   * (thesis §5.3 / etcd's findConflictByTerm). Zero when accepted.
   */
  readonly hintIndex: number;
  readonly hintTerm: number;
}

/**
 * The leader's commit index for a follower that has been sent every entry (ZooKeeper's COMMIT):
 * an empty append would do, but its answer tells the leader nothing new, and with one write at
 * a time those answers were a quarter of all peer traffic. Never answered; a lost or ignored
 * notice costs only latency (the next append, notice or heartbeat carries the commit index too).
 */
export interface CommitNotice extends MessageBase {
  readonly type: 'commit';
  /** min(leader commit, the last index sent to the follower). */
  readonly commit: number;
  /**
   * Term of the leader's entry at `commit`. The follower commits only if its own entry there
   * has this term (log matching, thesis §3.5): whatever the leader believes about the follower's
   * log, a follower never commits an entry the leader does not hold.
   */
  readonly commitTerm: number;
}

/**
 * Heartbeat: an append without entries or consistency check. Keeps followers from starting
 * elections, propagates commit, and confirms leadership for ReadIndex (`context`) and leases
 * (`tick`).
 */
export interface HeartbeatRequest extends MessageBase {
  readonly type: 'heartbeat';
  /** min(leader commit, follower's known match index): never beyond what the follower holds. */
  readonly commit: number;
  /** ReadIndex round this heartbeat confirms, or null. */
  readonly context: Uint8Array | null;
  /** Leader's tick counter when it sent this heartbeat; echoed back for the lease. */
  readonly tick: number;
}

export interface HeartbeatResponse extends MessageBase, GuardedAck {
  readonly type: 'heartbeatResponse';
  readonly context: Uint8Array | null;
  readonly tick: number;
  /**
   * Set when the heartbeat's commit index is beyond this member's last index: the member lost
   * log entries the leader believes it holds (its data directory was wiped or restored from an
   * old copy). The leader then forgets the follower's match and probes from here.
   */
  readonly lostLogAfter?: number;
}

/** One chunk of an InstallSnapshot transfer (thesis §5.3, chunked as in Figure 5.3). */
export interface SnapshotRequest extends MessageBase, SnapshotChunk {
  readonly type: 'snapshot';
}

/**
 * Per-chunk flow control for a snapshot transfer. `nextOffset` is the number of bytes of
 * snapshot `snapshotIndex` the receiver has staged durably; `reject` asks the leader to resend
 * from `nextOffset` (a gap, or the receiver restarted). Completion is reported with an
 * AppendResponse accepting `snapshotIndex`.
 */
export interface SnapshotResponse extends MessageBase, GuardedAck {
  readonly type: 'snapshotResponse';
  readonly snapshotIndex: number;
  readonly nextOffset: number;
  readonly reject: boolean;
}

/** Leadership transfer: the leader tells an up-to-date target to campaign now (thesis §3.10). */
export interface TimeoutNowRequest extends MessageBase {
  readonly type: 'timeoutNow';
}

/** A follower forwards readIndex() to its leader. */
export interface ReadIndexRequest extends MessageBase {
  readonly type: 'readIndex';
  readonly context: Uint8Array;
}

/** The leader's answer to a forwarded readIndex; becomes a ReadState on the follower. */
export interface ReadIndexResponse extends MessageBase {
  readonly type: 'readIndexResponse';
  readonly context: Uint8Array;
  readonly index: number;
}

/** A follower forwards transferLeadership() to its leader. */
export interface TransferLeadershipRequest extends MessageBase {
  readonly type: 'transferLeadership';
  readonly transferee: NodeId;
}

export type Message =
  | VoteRequest
  | VoteResponse
  | AppendRequest
  | AppendResponse
  | CommitNotice
  | HeartbeatRequest
  | HeartbeatResponse
  | SnapshotRequest
  | SnapshotResponse
  | TimeoutNowRequest
  | ReadIndexRequest
  | ReadIndexResponse
  | TransferLeadershipRequest;

export type MessageType = Message['type'];

// ---------------------------------------------------------------------------------------------
// The Ready contract.

/**
 * Identifies the writes of one Ready (hardState, snapshotChunks, snapshot, entries). Hand it back
 * through RawNode.onPersisted once those writes — and every earlier Ready's — are durable.
 */
export interface PersistMark {
  /** Position of this write in the sequence of writes; increases by one per Ready with writes. */
  readonly seq: number;
  /** The log's last index and its term once this write is applied (for logs and checks). */
  readonly lastIndex: number;
  readonly lastTerm: number;
}

/**
 * A batch of work for the host, from RawNode.ready(). The host must process a Ready as follows
 * and then call advance(ready) before calling ready() again or giving the node any other input.
 *
 * Writes (hardState, snapshotChunks, snapshot, entries) must become durable in Ready order, and
 * one Ready's writes atomically or in the field order below (chunks, snapshot, entries,
 * hardState). They may be performed synchronously before advance() or asynchronously (e.g. on a
 * worker thread, overlapping the next turns); either way the host reports durability with
 * onPersisted(persistMark) (a Ready without one has nothing that must be synced). Until it does, the core keeps the entries in memory and holds back
 * every message that depends on them.
 */
export interface Ready {
  /** New role/leader/term, or null if unchanged. Informational: no ordering obligation. */
  readonly softState: SoftState | null;
  /**
   * Hard state to persist, or null if unchanged. Write it with (or after) this Ready's entries:
   * its commit never exceeds their last index.
   */
  readonly hardState: HardState | null;
  /**
   * Chunks of a snapshot arriving from the leader, to stage durably in order. A chunk with
   * offset 0 starts a new staging area, discarding any earlier partial one.
   */
  readonly snapshotChunks: readonly SnapshotChunk[];
  /**
   * A fully received snapshot to install, or null. Before applying this Ready's
   * committedEntries, restore the state machine from the staged data (its applied index becomes
   * snapshot.index). Durably: make it the latest snapshot and reset the log store to start after
   * it (LogStore.reset) — before this Ready's entries are appended.
   */
  readonly snapshot: SnapshotMeta | null;
  /**
   * Entries to append to the log store, consecutive. entries[0].index may be <= the store's last
   * index: the store then discards its conflicting suffix first (LogStore.append).
   */
  readonly entries: readonly Entry[];
  /**
   * Committed entries to apply to the state machine, in order, after any earlier Ready's. They
   * are always durable locally already (so a state-machine snapshot never runs ahead of the
   * durable log), and were durable on a quorum before being committed. They count as applied
   * once advance(ready) is called.
   */
  readonly committedEntries: readonly Entry[];
  /**
   * Messages to send. They never depend on this Ready's writes, so the host may send them at
   * once, before or while persisting (this is how a leader overlaps its own log write with
   * replication, thesis §10.2.1). Messages that must wait for durability (vote grants, append
   * and snapshot acknowledgements) are held inside the core and appear in a later Ready, after
   * onPersisted. Delivery is best-effort: loss, duplication and reordering are all tolerated.
   */
  readonly messages: readonly Message[];
  /** ReadIndex results; serve each once the applied index reaches its index. */
  readonly readStates: readonly ReadState[];
  /**
   * This Ready's writes complete what the rejoin guard waits for (rejoin-guard.ts): record
   * durably, with or after them (never before), that the member no longer starts guarded, so that
   * the next start passes rejoinGuard: null. The core lifts the guard at onPersisted.
   */
  readonly liftsRejoinGuard: boolean;
  /**
   * Token for onPersisted; null when this Ready has nothing that must be synced: no writes, or
   * only a hard state that differs from the last one handed out in its commit index alone. Such
   * a hard state must still be written, in Ready order, but it may wait for the next synced write
   * and need not be synced itself: the commit index is volatile in Raft, so losing it in a crash
   * only makes the member learn it again (start-up takes max(commit, snapshot index)). Nothing
   * the core sends waits for it; this spares a second fsync per write on every member.
   */
  readonly persistMark: PersistMark | null;
}
