import {
  ArborError,
  DEFAULT_LIMITS,
  ErrorCode,
  PROTOCOL_VERSION,
  XID_NOTICE,
  XID_PING,
  XID_WATCH_EVENT,
  digestIdFromCredentials,
  type ConnectRequest,
  type DecodedRequest,
  type Id,
  type Limits,
  type ServerFrame,
  type WatchTrigger,
} from '@arbor/protocol';
import {
  RawNode,
  type Entry,
  type LogPosition,
  type Message,
  type NodeId,
  type ProposeResult,
  type RaftStorage,
  type RandomSource,
  type Ready,
  type SnapshotMeta,
} from '@arbor/raft';
import type { ZnodeTree } from '@arbor/tree';
import { snapshotChunks, type Txn, type TxnOp, type TxnResult } from '@arbor/tree';
import type { ClientLink, ClientService } from './client-port.js';
import { ChangeWindow, ReplayMatcher, reregisterOneShot } from './change-window.js';
import { FOUNDING_PROBE_EVERY_TICKS, FoundingProbe, answerFoundingQuestion, type FoundingEnvelope } from './founding-probe.js';
import { ProposalsInFlight } from './in-flight.js';
import { decodeLogEntry, encodeLogEntry, type StampedTxn } from './log-entry.js';
import { ReplyOrder } from './reply-order.js';
import { LivenessBatcher, SessionTracker, negotiateTimeoutMs } from './session-tracker.js';
import { WatchRegistry, type ConnectionId } from './watch-registry.js';
import { assert } from './assert.js';

/**
 * One ensemble member's logic without I/O (ARCHITECTURE.md, server/src/core): the turn loop
 * around RawNode, the request pipeline, sessions and watches. Time, randomness, the disk and
 * the peers are injected through {@link MemberHost}; the io layer (member-runtime.ts) feeds
 * ticks, peer messages, client frames and durability marks in, one call at a time.
 *
 * Writes: a member stamps a Txn (session, request id, identities, op) and, when it leads,
 * proposes it with the leader's time; a follower forwards it to the leader. Whichever member
 * holds the client's connection answers when it applies the entry carrying that session's
 * (sessionId, requestId): the tree's exactly-once table makes a re-forwarded or re-proposed
 * write harmless, so a write lost in a leader change is simply sent again.
 */

/** What the io layer provides. */
/** How the last snapshot went: its size, the time spent serialising the tree and saving it. */
export interface SnapshotReport {
  index: number;
  znodes: number;
  bytes: number;
  serializeMs: number;
  saveMs: number;
}

export interface MemberHost {
  /** Monotonic ms (timeouts, liveness). */
  nowMs(): number;
  /** Wall-clock ms since the epoch (stamped into entries by the leader: ctime/mtime, TTLs). */
  wallMs(): number;
  random: RandomSource;
  /** Session passwords. */
  randomBytes(n: number): Uint8Array;
  /**
   * Queue the writes of a Ready; call member.onPersisted(mark) when durable. A Ready whose only
   * write is a hard state without a persistMark (the commit index moved) may be written with the
   * next synced batch.
   */
  persist(ready: Ready): void;
  /** Best-effort delivery of peer envelopes; the host may gather them until flushPeers or the end of the callback. */
  sendPeer(to: NodeId, envelopes: PeerEnvelope[]): void;
  /**
   * Sends what sendPeer gathered now. Called after each Ready's messages, so that they (commit
   * notices to followers above all) leave before the Ready's entries are applied.
   */
  flushPeers?(): void;
  /**
   * The Ready being processed installs a snapshot received from the leader (its chunks were
   * handed to persist() first): return the tree restored from those bytes, synchronously.
   */
  installSnapshot(meta: SnapshotMeta): ZnodeTree;
  /**
   * Saves a snapshot of the tree taken at meta.index (the chunks are already materialised, so
   * later applies cannot change them); resolves once durable, so the log may be compacted behind it.
   */
  saveSnapshot(meta: SnapshotMeta, chunks: Uint8Array[]): Promise<void>;
  /**
   * Optional: runs `next` in a later turn of the event loop, after the I/O that is waiting
   * (setImmediate). With it, a snapshot is serialised in slices of SNAPSHOT_SLICE_MS, so that
   * heartbeats, pings and peer messages keep their timing while a large tree is written;
   * without it (simple hosts, tests), in one go.
   */
  yieldTurn?(next: () => void): void;
  /**
   * Optional: runs `run` once the inputs of the current callback have all been taken (a
   * microtask). With it, the client requests and peer messages that arrive in one socket read
   * are all stepped into Raft before one Ready handles them: one persist batch and one append
   * per follower for the lot, instead of one of each per message. Without it (simple hosts,
   * tests), each input is processed at once.
   */
  deferProcess?(run: () => void): void;
  /** The member cannot go on (a log entry it cannot read, storage failure). */
  fatal(error: Error): void;
}

export interface MemberOptions {
  id: NodeId;
  storage: RaftStorage;
  /** The tree restored from the latest snapshot (or a new one) and the index it reflects. */
  tree: ZnodeTree;
  appliedIndex: number;
  electionTicks: number;
  heartbeatTicks: number;
  tickMs: number;
  sessionTimeoutMinMs: number;
  sessionTimeoutMaxMs: number;
  limits?: Partial<Limits>;
  changeWindowEntries?: number;
  /** Take a snapshot after this many applied entries (0: never). */
  snapshotEveryEntries?: number;
  /** Serialisation per turn of the event loop when the host can yield (default SNAPSHOT_SLICE_MS; 0: one chunk per turn). */
  snapshotSliceMs?: number;
  /** Entries kept behind a snapshot when compacting, so slightly lagging followers need no snapshot. */
  compactKeepEntries?: number;
  /**
   * The storage was created empty and no leader has caught it up since (RaftConfig.rejoinGuard):
   * the founding log position. Until lifted the member asks its peers whether the ensemble is new
   * (founding-probe.ts).
   */
  rejoinGuard?: LogPosition | null;
  logger?: MemberLogger;
}

export interface MemberLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

/** Messages between members, besides Raft's own. */
export type PeerEnvelope =
  | { k: 'raft'; m: Message }
  /** A write stamped by a follower, for the leader to time-stamp and propose. */
  | { k: 'fwd'; txn: Omit<StampedTxn, 'timeMs'> }
  /** Session ids that showed life on a follower. */
  | { k: 'live'; seq: number; ids: number[] }
  /** The leader touched the sessions of liveness batch `seq`. */
  | { k: 'liveAck'; seq: number }
  | FoundingEnvelope;

/** Pings a follower holds while it waits for the leader's acknowledgement (all connections). */
const PINGS_WAITING_MAX = 10_000;

/**
 * Longest run of snapshot serialisation in one turn of the event loop, with a host that can
 * yield: well under a heartbeat interval, long enough that a 1M-znode tree needs few turns.
 */
export const SNAPSHOT_SLICE_MS = 10;

/**
 * Entries between snapshots: the configured count, or as many as the last snapshot held znodes
 * when that is more. A snapshot writes the whole tree, so this keeps its cost at about one znode
 * per applied entry, and a growing tree gets snapshots at geometrically growing intervals: a tree
 * of 1M znodes is snapshotted every 1M entries, not every 50,000 (twenty times the work, each
 * time holding the tree still for seconds). Replaying the log at start-up costs about as much as
 * loading the snapshot, so restarts stay proportionate too.
 */
export function snapshotInterval(everyEntries: number, znodes: number): number {
  return Math.max(everyEntries, znodes);
}

const NOOP_LOGGER: MemberLogger = { info() {}, warn() {}, debug() {} };

/** A client connection after its handshake, bound to a session. */
interface Conn {
  link: ClientLink;
  sessionId: number;
  timeoutMs: number;
  identities: Id[];
  replies: ReplyOrder<ServerFrame>;
  /** Arrival time and op of each unanswered request, by xid (latency metrics). */
  started: Map<number, { name: string; atMs: number }>;
}

/** A write waiting for the entry that carries it. */
interface PendingWrite {
  connId: ConnectionId;
  ticket: number;
  request: DecodedRequest | null;
  txn: Omit<StampedTxn, 'timeMs'>;
  /** Tick count when last sent to the leader (re-sent after an election timeout). */
  sentAtTick: number;
  /** Host clock (ms) when the write reached this member: the start of its commit latency. */
  arrivedMs: number;
  /** For a new session's handshake: answer this instead of a request. */
  connect?: { link: ClientLink; password: Uint8Array; timeoutMs: number; auth: Id[] };
}

interface PendingRead {
  connId: ConnectionId;
  ticket: number;
  index: number | null;
  askedAtTick: number;
  run: () => ServerFrame[];
}

export interface MemberCounters {
  /** Requests answered, by op name. */
  requests: Record<string, number>;
  /** Sum of arrival-to-answer times in ms, by op name. */
  latencyMsSum: Record<string, number>;
  elections: number;
  proposalsRejected: number;
  /** Writes of this member's clients (sessions created included) committed and applied here. */
  commits: number;
  /** Sum, in ms, of their times from arrival at this member to apply: forward, replication, fsync on a majority. */
  commitMsSum: number;
}

export class Member implements ClientService {
  readonly node: RawNode;
  tree: ZnodeTree;
  appliedIndex: number;
  readonly limits: Limits;
  readonly watches: WatchRegistry;
  private window: ChangeWindow;
  private readonly tracker = new SessionTracker();
  private readonly liveness = new LivenessBatcher();
  private readonly conns = new Map<ConnectionId, Conn>();
  /** Connections waiting for their handshake to complete (new sessions, or a lastZxid not reached yet). */
  private readonly handshakes = new Map<ConnectionId, { link: ClientLink; request: ConnectRequest; atTick: number }>();
  private readonly pendingWrites = new Map<string, PendingWrite>();
  private readonly pendingReads = new Map<string, PendingRead>();
  /** This leader's reap proposals in flight, by path (in-flight.ts). */
  private readonly reaping = new ProposalsInFlight<string>();
  /** This leader's expiry proposals in flight, by session id; the tracker marks them expiring meanwhile. */
  private readonly expiring = new ProposalsInFlight<number>();
  private readonly liveBatches = new Map<number, { sentMs: number; ids: number[] }>();
  private readonly confirmedDeadline = new Map<number, number>();
  /** Set while the rejoin guard holds (MemberOptions.rejoinGuard). */
  private foundingProbe: FoundingProbe | null;
  /**
   * Pings a follower answers once the leader has acknowledged the liveness batch that carries
   * them (`batchSeq`), so that the remaining time each reply reports counts from this very ping.
   */
  private readonly waitingPings: { connId: ConnectionId; batchSeq: number }[] = [];
  private liveSeq = 0;
  private readSeq = 0;
  private ticks = 0;
  private sessionCounter = 0;
  private wasLeader = false;
  private knownLeader: NodeId | null = null;
  private stopped = false;
  private processing = false;
  private processAgain = false;
  /** A deferred process() is scheduled (Host.deferProcess). */
  private processQueued = false;
  /**
   * Between node.ready() and node.advance() Raft takes no input. A proposal or read made then —
   * by a request that an answer let in, from inside an apply — waits here until the advance.
   */
  private inReady = false;
  private readonly afterAdvance: (() => void)[] = [];
  /** A snapshot is being serialised or saved; no second one starts meanwhile. */
  private snapshotting = false;
  /**
   * While a snapshot is being serialised over several turns, the tree must not change: entries
   * committed meanwhile wait here, in order, and are applied as soon as the last chunk is taken.
   * Raft itself (votes, heartbeats, replication, commitment) goes on; only applying waits.
   */
  private serialising: { chunks: Generator<Uint8Array, void, undefined>; abandon: () => void } | null = null;
  private readonly applyBacklog: Entry[] = [];
  private lastSnapshotIndex: number;
  /** Znodes in the last snapshot taken (or restored): the next one waits at least that many entries. */
  private lastSnapshotZnodes: number;
  /** The last snapshot this member saved, for /status: serialising runs on the event loop, saving does not. */
  lastSnapshot: SnapshotReport | null = null;
  private readonly logger: MemberLogger;
  readonly counters: MemberCounters = { requests: {}, latencyMsSum: {}, elections: 0, proposalsRejected: 0, commits: 0, commitMsSum: 0 };

  constructor(
    private readonly host: MemberHost,
    private readonly options: MemberOptions,
  ) {
    this.logger = options.logger ?? NOOP_LOGGER;
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.tree = options.tree;
    this.appliedIndex = options.appliedIndex;
    this.lastSnapshotIndex = options.appliedIndex;
    this.lastSnapshotZnodes = options.tree.nodeCount;
    this.watches = new WatchRegistry({ watchesPerConnectionMax: this.limits.watchesPerConnectionMax });
    this.window = new ChangeWindow({ startZxid: options.appliedIndex, changesMax: options.changeWindowEntries ?? 100_000 });
    this.node = new RawNode({
      id: options.id,
      storage: options.storage,
      random: host.random,
      applied: options.appliedIndex,
      electionTimeoutTicks: options.electionTicks,
      heartbeatIntervalTicks: options.heartbeatTicks,
      rejoinGuard: options.rejoinGuard ?? null,
    });
    this.foundingProbe = options.rejoinGuard ? new FoundingProbe(options.id, options.rejoinGuard) : null;
    this.sessionCounter = Math.floor(host.wallMs()) % 2 ** 28;
  }

  get id(): NodeId {
    return this.options.id;
  }

  get isLeader(): boolean {
    return this.node.status().role === 'leader';
  }

  get leader(): NodeId | null {
    return this.node.status().leader;
  }

  connectionCount(): number {
    return this.conns.size + this.handshakes.size;
  }

  pendingCounts(): { writes: number; reads: number } {
    return { writes: this.pendingWrites.size, reads: this.pendingReads.size };
  }

  // ------------------------------------------------------------------ inputs

  tick(): void {
    if (this.stopped) return;
    this.ticks++;
    this.node.tick();
    this.probeFounding();
    const now = this.host.nowMs();
    if (this.isLeader) {
      if (this.waitingPings.length > 0) this.answerWaitingPings(Infinity);
      for (const id of this.tracker.expired(now)) {
        const proposed = this.proposeSystem({ type: 'closeSession', sessionId: id, reason: 'expire' });
        if (proposed.ok) this.expiring.add(id, proposed.index);
        else this.tracker.expiryNotProposed(id); // due again at the next tick
      }
      for (const path of this.tree.dueForRemoval(this.host.wallMs(), 100)) {
        if (this.reaping.has(path)) continue;
        const proposed = this.proposeSystem({ type: 'reap', path });
        if (proposed.ok) this.reaping.add(path, proposed.index); // refused: due again at the next tick
      }
    } else {
      const leader = this.leader;
      if (leader !== null) {
        for (const ids of this.liveness.tick(now)) {
          const seq = ++this.liveSeq;
          this.liveBatches.set(seq, { sentMs: now, ids });
          this.host.sendPeer(leader, [{ k: 'live', seq, ids }]);
        }
        if (this.liveBatches.size > 64) this.liveBatches.delete(this.liveBatches.keys().next().value as number);
      }
    }
    this.retryStalled();
    this.expireHandshakes();
    this.process();
  }

  /** While the rejoin guard holds: ask the peers whether the ensemble is new (founding-probe.ts). */
  private probeFounding(): void {
    const probe = this.foundingProbe;
    if (probe === null) return;
    const status = this.node.status();
    if (status.rejoinGuard === null) {
      this.foundingProbe = null;
      return;
    }
    const voters = status.confState.voters;
    if (probe.confirmsNew(voters)) {
      this.node.confirmNewEnsemble();
      return;
    }
    if (this.ticks % FOUNDING_PROBE_EVERY_TICKS !== 0) return;
    for (const id of voters) if (id !== this.id) this.host.sendPeer(id, [probe.question()]);
  }

  onPeerEnvelopes(from: NodeId, envelopes: readonly unknown[]): void {
    if (this.stopped) return;
    for (const raw of envelopes) {
      const env = raw as PeerEnvelope;
      if (typeof env !== 'object' || env === null) continue;
      switch (env.k) {
        case 'raft':
          if (typeof env.m === 'object' && env.m !== null && env.m.to === this.id && env.m.from === from) this.node.step(env.m);
          break;
        case 'fwd':
          if (this.isLeader) this.proposeStamped(env.txn);
          break;
        case 'live':
          if (this.isLeader && Array.isArray(env.ids)) {
            const now = this.host.nowMs();
            for (const id of env.ids) if (typeof id === 'number') this.tracker.touch(id, now);
            this.host.sendPeer(from, [{ k: 'liveAck', seq: env.seq }]);
          }
          break;
        case 'liveAck': {
          const batch = this.liveBatches.get(env.seq);
          if (batch === undefined) break;
          this.liveBatches.delete(env.seq);
          for (const id of batch.ids) {
            const session = this.tree.getSession(id);
            if (session !== undefined) this.confirmedDeadline.set(id, batch.sentMs + session.timeoutMs);
          }
          this.answerWaitingPings(env.seq);
          break;
        }
        case 'foundingQ': {
          const lastIndex = this.node.status().lastIndex;
          const answer = answerFoundingQuestion(env, { index: lastIndex, term: this.node.logTerm(lastIndex) ?? 0 });
          if (answer !== null) this.host.sendPeer(from, [answer]);
          break;
        }
        case 'foundingA':
          this.foundingProbe?.heard(from, env.onlyFounding);
          break;
        default:
          break;
      }
    }
    this.processSoon();
  }

  /**
   * The peer transport's connection to `id` closed. If `id` leads, this member stops waiting for
   * its heartbeats (RawNode.peerDisconnected): after kill -9 of the leader an election starts
   * within the random part of the election timeout rather than after all of it.
   */
  onPeerLinkLost(id: NodeId): void {
    if (this.stopped) return;
    if (id === this.leader && !this.isLeader)
      this.logger.info({ leader: id }, 'lost the link to the leader; campaigning without the full election timeout');
    this.toNode(() => this.node.peerDisconnected(id));
    this.process();
  }

  onPersisted(mark: Parameters<RawNode['onPersisted']>[0]): void {
    if (this.stopped) return;
    this.node.onPersisted(mark);
    this.process();
  }

  // ------------------------------------------------------------------ the turn loop

  /**
   * Drains every Ready (raw-node.ts host loop). Re-entrant calls only ask for another round:
   * applying an entry answers a client, the answer can let its connection's held requests in
   * (back-pressure easing), and their proposals must not start a Ready inside this one.
   */
  process(): void {
    if (this.processing) {
      this.processAgain = true;
      return;
    }
    this.processing = true;
    try {
      do {
        this.processAgain = false;
        this.processRound();
      } while (this.processAgain && !this.stopped);
    } finally {
      this.processing = false;
    }
  }

  /** process(), now or, with Host.deferProcess, once the current callback's other inputs are in. */
  private processSoon(): void {
    const defer = this.host.deferProcess;
    if (defer === undefined) return this.process();
    if (this.processQueued) return;
    this.processQueued = true;
    defer(() => {
      this.processQueued = false;
      if (this.stopped) return;
      try {
        this.process();
      } catch (error) {
        // Nothing above this callback could handle it: the member stops, as after a failed tick.
        this.stopped = true;
        this.host.fatal(error as Error);
      }
    });
  }

  private processRound(): void {
    while (!this.stopped && this.node.hasReady()) {
      const rd = this.node.ready();
      this.inReady = true;
      const byPeer = new Map<NodeId, PeerEnvelope[]>();
      for (const m of rd.messages) {
        let list = byPeer.get(m.to);
        if (list === undefined) byPeer.set(m.to, (list = []));
        list.push({ k: 'raft', m });
      }
      for (const [to, list] of byPeer) this.host.sendPeer(to, list);
      if (byPeer.size > 0) this.host.flushPeers?.();
      if (rd.persistMark !== null || rd.snapshot !== null || rd.hardState !== null) this.host.persist(rd);
      if (rd.snapshot !== null) this.installSnapshot(rd.snapshot);
      for (const entry of rd.committedEntries) {
        if (this.serialising !== null) this.applyBacklog.push(entry);
        else this.applyEntry(entry);
      }
      for (const rs of rd.readStates) {
        const key = new TextDecoder().decode(rs.context);
        const read = this.pendingReads.get(key);
        if (read !== undefined) read.index = rs.index;
      }
      this.node.advance(rd);
      this.inReady = false;
      for (const input of this.afterAdvance.splice(0)) input();
      if (rd.softState !== null) this.onSoftState();
    }
    this.serveReads();
    this.maybeSnapshot();
  }

  private onSoftState(): void {
    const status = this.node.status();
    const leading = status.role === 'leader';
    if (status.leader !== this.knownLeader) {
      this.logger.info({ role: status.role, term: status.term, leader: status.leader }, 'role changed');
      this.knownLeader = status.leader;
      if (status.leader !== null) this.counters.elections++;
      this.retryStalled(true);
    }
    if (leading !== this.wasLeader) {
      this.reaping.clear();
      this.expiring.clear();
    }
    if (leading && !this.wasLeader) this.tracker.onBecomeLeader(this.host.nowMs(), this.tree.sessions());
    this.wasLeader = leading;
  }

  private installSnapshot(meta: SnapshotMeta): void {
    // The leader's snapshot replaces the tree being serialised: that snapshot is abandoned, and
    // whatever waited to be applied is at or before the new state or will be sent again.
    this.serialising?.abandon();
    this.applyBacklog.length = 0;
    this.tree = this.host.installSnapshot(meta);
    this.appliedIndex = meta.index;
    this.lastSnapshotIndex = meta.index;
    this.lastSnapshotZnodes = this.tree.nodeCount;
    // Changes between the old state and the snapshot were never seen here: a reconnecting
    // client's persistent watches get watchResync instead of a partial replay.
    this.window.reset(meta.index);
    this.logger.info({ index: meta.index, term: meta.term }, 'installed snapshot from the leader');
  }

  /** Host-driven snapshots (raw-node.ts): save the tree at the applied index, then compact behind it. */
  private maybeSnapshot(): void {
    const every = this.options.snapshotEveryEntries ?? 0;
    if (every === 0 || this.snapshotting || this.appliedIndex - this.lastSnapshotIndex < snapshotInterval(every, this.lastSnapshotZnodes))
      return;
    const meta = this.node.snapshotMetaAt(this.appliedIndex);
    const startedMs = this.host.nowMs();
    const znodes = this.tree.nodeCount;
    this.lastSnapshotZnodes = znodes;
    const taken: Uint8Array[] = [];
    const chunks = snapshotChunks(this.tree);
    this.snapshotting = true;
    let abandoned = false;
    this.serialising = {
      chunks,
      abandon: () => {
        abandoned = true;
        this.serialising = null;
        this.snapshotting = false;
        chunks.return();
        this.logger.info({ index: meta.index }, 'snapshot abandoned: a newer one was installed from the leader');
      },
    };
    const slice = (): void => {
      if (abandoned || this.stopped) return;
      const sliceEndMs = this.host.nowMs() + (this.options.snapshotSliceMs ?? SNAPSHOT_SLICE_MS);
      for (let next = chunks.next(); !next.done; next = chunks.next()) {
        taken.push(next.value);
        if (this.host.yieldTurn !== undefined && this.host.nowMs() >= sliceEndMs) {
          this.host.yieldTurn(slice);
          return;
        }
      }
      this.serialising = null;
      this.save(meta, znodes, taken, startedMs, this.host.nowMs());
      // Apply what was committed while the tree was held still, then whatever came with it.
      for (const entry of this.applyBacklog.splice(0)) this.applyEntry(entry);
      this.process();
    };
    slice();
  }

  private save(meta: SnapshotMeta, znodes: number, chunks: Uint8Array[], startedMs: number, serializedMs: number): void {
    this.host.saveSnapshot(meta, chunks).then(
      () => {
        this.snapshotting = false;
        this.lastSnapshotIndex = meta.index;
        this.lastSnapshot = {
          index: meta.index,
          znodes,
          bytes: chunks.reduce((sum, c) => sum + c.byteLength, 0),
          serializeMs: Math.round(serializedMs - startedMs),
          saveMs: Math.round(this.host.nowMs() - serializedMs),
        };
        if (this.stopped) return;
        const compactTo = Math.max(0, meta.index - (this.options.compactKeepEntries ?? 1_000));
        if (compactTo >= this.options.storage.log.firstIndex()) {
          this.options.storage.log.compact(compactTo);
          this.node.onCompacted(compactTo);
        }
        this.logger.info({ ...this.lastSnapshot, compactedThrough: compactTo }, 'snapshot saved');
        this.process();
      },
      (error: unknown) => {
        this.snapshotting = false;
        this.logger.warn({ err: (error as Error).message, index: meta.index }, 'snapshot save failed');
      },
    );
  }

  private applyEntry(entry: Entry): void {
    this.applyEntryTxn(entry);
    this.settleSystemProposals(entry.index);
  }

  /**
   * Whatever was applied at `index` settles this leader's reap or expiry proposed there: its own
   * entry with any result, or another leader's entry that replaced it (in-flight.ts).
   */
  private settleSystemProposals(index: number): void {
    this.reaping.settle(index);
    const sessionId = this.expiring.settle(index);
    if (sessionId === undefined) return;
    if (this.tree.getSession(sessionId) === undefined) this.tracker.remove(sessionId);
    else if (this.tracker.isExpiring(sessionId)) this.tracker.expiryNotProposed(sessionId);
  }

  private applyEntryTxn(entry: Entry): void {
    this.appliedIndex = entry.index;
    if (entry.type !== 'normal') return;
    let txn: Txn;
    try {
      txn = decodeLogEntry(entry.index, entry.data);
    } catch (error) {
      this.stopped = true;
      this.host.fatal(error as Error);
      return;
    }
    const outcome = this.tree.apply(txn);
    this.window.record(outcome.triggers);
    this.deliver(outcome.triggers);
    const op = txn.op;
    const now = this.host.nowMs();
    if (op.type === 'createSession' && outcome.result.err === 0) {
      if (this.isLeader) this.tracker.add(op.sessionId, op.timeoutMs, now);
    } else if (op.type === 'closeSession' && outcome.result.err === 0) {
      this.tracker.remove(op.sessionId);
      this.confirmedDeadline.delete(op.sessionId);
      this.liveness.forget(op.sessionId);
      this.sessionEnded(op.sessionId, op.reason);
    }
    const key = writeKey(txn);
    if (key === null) return;
    const pending = this.pendingWrites.get(key);
    if (pending === undefined) return;
    this.pendingWrites.delete(key);
    this.answerWrite(pending, outcome.result);
  }

  private deliver(triggers: readonly WatchTrigger[]): void {
    if (triggers.length === 0) return;
    for (const d of this.watches.fire(triggers)) {
      const conn = this.conns.get(d.connectionId);
      conn?.replies.sendNow({ xid: XID_WATCH_EVENT, zxid: d.event.zxid, type: d.event.type, path: d.event.path });
    }
  }

  private sessionEnded(sessionId: number, reason: 'close' | 'expire'): void {
    for (const conn of this.conns.values()) {
      if (conn.sessionId !== sessionId) continue;
      if (reason === 'expire') {
        conn.link.send({ xid: XID_NOTICE, notice: 'sessionExpired' });
        this.dropConnection(conn, 'session expired');
      }
    }
  }

  // ------------------------------------------------------------------ proposals

  /**
   * The leader's own proposal, made at once (from tick(), never inside a Ready), so that the caller
   * learns whether Raft took it and at which index.
   */
  private proposeSystem(op: TxnOp): ProposeResult {
    assert(!this.inReady, `system proposal ${op.type} inside a Ready`);
    return this.propose({ sessionId: 0, identities: [], op });
  }

  /** Leader only: time-stamps and appends, now or right after the Ready being processed. */
  private proposeStamped(txn: Omit<StampedTxn, 'timeMs'>): void {
    this.toNode(() => {
      if (this.isLeader) this.propose(txn);
    });
  }

  private propose(txn: Omit<StampedTxn, 'timeMs'>): ProposeResult {
    const result = this.node.propose(encodeLogEntry({ ...txn, timeMs: this.host.wallMs() }));
    if (!result.ok) this.counters.proposalsRejected++;
    return result;
  }

  /** Gives Raft an input now, or right after the Ready being processed is advanced. */
  private toNode(input: () => void): void {
    if (this.inReady) this.afterAdvance.push(input);
    else input();
  }

  /** Sends a client write on its way: proposed here when leading, else forwarded. */
  private submit(pending: PendingWrite): void {
    pending.sentAtTick = this.ticks;
    if (this.isLeader) {
      this.proposeStamped(pending.txn);
      return;
    }
    const leader = this.leader;
    if (leader !== null) this.host.sendPeer(leader, [{ k: 'fwd', txn: pending.txn }]);
  }

  /** Writes and reads that have waited an election timeout (or all of them after a leader change) are sent again. */
  private retryStalled(all = false): void {
    const patience = this.options.electionTicks * 2;
    for (const pending of this.pendingWrites.values()) {
      if (all || this.ticks - pending.sentAtTick >= patience) this.submit(pending);
    }
    for (const [key, read] of this.pendingReads) {
      if (read.index !== null) continue;
      if (all || this.ticks - read.askedAtTick >= patience) {
        read.askedAtTick = this.ticks;
        this.toNode(() => this.node.readIndex(new TextEncoder().encode(key)));
      }
    }
  }

  // ------------------------------------------------------------------ client service

  onConnect(link: ClientLink, request: ConnectRequest): void {
    if (this.stopped) return refuse(link, ErrorCode.CONNECTIONLOSS, 'member is stopping');
    this.handshakes.set(link.id, { link, request, atTick: this.ticks });
    this.tryHandshake(link.id);
  }

  private tryHandshake(connId: ConnectionId): void {
    const hs = this.handshakes.get(connId);
    if (hs === undefined) return;
    const { link, request } = hs;
    if (request.lastZxid > this.appliedIndex) return; // waits (bounded by expireHandshakes)
    if (this.leader === null) return; // no quorum known yet: wait, bounded
    let auth: Id[];
    try {
      auth = request.auth.map((a) => authIdentity(a.scheme, a.credentials));
    } catch (error) {
      this.handshakes.delete(connId);
      return refuse(link, ErrorCode.AUTHFAILED, (error as Error).message);
    }
    const identities: Id[] = [{ scheme: 'ip', id: link.remoteAddress }, ...auth];
    if (request.sessionId === 0) {
      this.handshakes.delete(connId);
      const timeoutMs = negotiateTimeoutMs(request.timeoutMs, {
        minMs: this.options.sessionTimeoutMinMs,
        maxMs: this.options.sessionTimeoutMaxMs,
      });
      const sessionId = this.newSessionId();
      const password = this.host.randomBytes(16);
      const pending: PendingWrite = {
        connId,
        ticket: -1,
        request: null,
        txn: { sessionId, identities: [], op: { type: 'createSession', sessionId, password, timeoutMs } },
        sentAtTick: this.ticks,
        arrivedMs: this.host.nowMs(),
        connect: { link, password, timeoutMs, auth: identities },
      };
      this.pendingWrites.set(`c:${sessionId}`, pending);
      this.submit(pending);
      return;
    }
    this.handshakes.delete(connId);
    const session = this.tree.getSession(request.sessionId);
    // A wrong password gets the same answer as a session that is gone (protocol §3, as
    // ZooKeeper does): whoever guesses session ids learns nothing about which ones are live.
    // The log tells the operator which it was.
    const unresumable = `session 0x${request.sessionId.toString(16)} cannot be resumed: it expired, was closed, or the password is wrong`;
    if (session === undefined) return refuse(link, ErrorCode.SESSIONEXPIRED, unresumable);
    if (request.password === null || !sameBytes(request.password, session.password)) {
      this.logger.warn({ sessionId: request.sessionId, from: link.remoteAddress }, 'resume refused: wrong session password');
      return refuse(link, ErrorCode.SESSIONEXPIRED, unresumable);
    }
    for (const other of [...this.conns.values()]) {
      if (other.sessionId === request.sessionId) this.dropConnection(other, 'session moved to another connection');
    }
    this.accept(link, request.sessionId, session.timeoutMs, session.password, identities);
  }

  private accept(link: ClientLink, sessionId: number, timeoutMs: number, password: Uint8Array, identities: Id[]): void {
    const started = new Map<number, { name: string; atMs: number }>();
    const conn: Conn = {
      link,
      sessionId,
      timeoutMs,
      identities,
      started,
      replies: new ReplyOrder((frame) => {
        if ('err' in frame && 'xid' in frame) this.answered(started, frame.xid);
        link.send(frame);
      }),
    };
    this.conns.set(link.id, conn);
    this.touch(sessionId);
    link.send({
      protocolVersion: PROTOCOL_VERSION,
      timeoutMs,
      sessionId,
      password,
      memberId: this.id,
      zxid: this.appliedIndex,
      readOnly: false,
      limits: this.limits,
    });
  }

  private expireHandshakes(): void {
    const patience = Math.max(this.options.electionTicks * 4, Math.ceil(2_000 / this.options.tickMs));
    for (const [id, hs] of this.handshakes) {
      this.tryHandshake(id);
      if (!this.handshakes.has(id)) continue;
      if (this.ticks - hs.atTick < patience) continue;
      this.handshakes.delete(id);
      const why =
        hs.request.lastZxid > this.appliedIndex
          ? `this member has applied zxid ${this.appliedIndex}, behind the client's ${hs.request.lastZxid}`
          : 'this member knows no leader (no quorum)';
      refuse(hs.link, ErrorCode.CONNECTIONLOSS, why);
    }
  }

  private newSessionId(): number {
    // Member id in the high bits, a per-start counter seeded from the wall clock below: unique
    // across members and across restarts of one member (ZooKeeper builds its ids the same way).
    this.sessionCounter = (this.sessionCounter + 1) % 2 ** 36;
    return this.id * 2 ** 36 + this.sessionCounter;
  }

  private touch(sessionId: number): void {
    const now = this.host.nowMs();
    if (this.isLeader) this.tracker.touch(sessionId, now);
    else this.liveness.touch(sessionId);
  }

  private pingReply(conn: Conn): ServerFrame {
    return {
      xid: XID_PING,
      zxid: this.appliedIndex,
      err: ErrorCode.OK,
      res: { sessionRemainingMs: this.remainingMs(conn) },
    } as ServerFrame;
  }

  private deferPing(conn: Conn): void {
    this.waitingPings.push({ connId: conn.link.id, batchSeq: this.liveSeq + 1 });
    // Bounded: a client pings a few times per timeout; pings older than the cap are never
    // answered, which only makes the client's deadline earlier (it matches replies to its
    // oldest outstanding ping).
    if (this.waitingPings.length > PINGS_WAITING_MAX) this.waitingPings.shift();
  }

  /** Answers the waiting pings covered by batch `ackedSeq` (all of them when this member leads). */
  private answerWaitingPings(ackedSeq: number): void {
    let kept = 0;
    for (const ping of this.waitingPings) {
      if (ping.batchSeq > ackedSeq) {
        this.waitingPings[kept++] = ping;
        continue;
      }
      const conn = this.conns.get(ping.connId);
      if (conn !== undefined) conn.replies.sendNow(this.pingReply(conn));
    }
    this.waitingPings.length = kept;
  }

  private remainingMs(conn: Conn): number {
    const now = this.host.nowMs();
    if (this.isLeader) return this.tracker.remainingMs(conn.sessionId, now) ?? conn.timeoutMs;
    const confirmed = this.confirmedDeadline.get(conn.sessionId);
    if (confirmed === undefined) return Math.floor(conn.timeoutMs / 2);
    return Math.max(0, confirmed - now);
  }

  onDisconnect(link: ClientLink): void {
    this.handshakes.delete(link.id);
    const conn = this.conns.get(link.id);
    if (conn === undefined) return;
    this.forgetConnection(conn);
  }

  private dropConnection(conn: Conn, reason: string): void {
    this.forgetConnection(conn);
    conn.link.close(reason);
  }

  private forgetConnection(conn: Conn): void {
    this.conns.delete(conn.link.id);
    conn.replies.clear();
    this.watches.removeConnection(conn.link.id);
    // The client retries these with the same request ids wherever it reconnects; the tree's
    // exactly-once table answers them there.
    for (const [key, w] of this.pendingWrites) if (w.connId === conn.link.id && w.connect === undefined) this.pendingWrites.delete(key);
    for (const [key, r] of this.pendingReads) if (r.connId === conn.link.id) this.pendingReads.delete(key);
  }

  onRequest(link: ClientLink, request: DecodedRequest): void {
    const conn = this.conns.get(link.id);
    if (conn === undefined) return;
    conn.started.set(request.xid, { name: request.name, atMs: this.host.nowMs() });
    this.touch(conn.sessionId);
    const ticket = conn.replies.take();
    try {
      this.handle(conn, ticket, request);
    } catch (error) {
      const e = error instanceof ArborError ? error : new ArborError(ErrorCode.SYSTEMERROR, (error as Error).message);
      conn.replies.fill(ticket, [this.errorFrame(request.xid, e.code, e.message)]);
    }
    this.processSoon();
  }

  private answered(started: Map<number, { name: string; atMs: number }>, xid: number): void {
    const s = started.get(xid);
    if (s === undefined) return;
    started.delete(xid);
    const c = this.counters;
    c.requests[s.name] = (c.requests[s.name] ?? 0) + 1;
    c.latencyMsSum[s.name] = (c.latencyMsSum[s.name] ?? 0) + (this.host.nowMs() - s.atMs);
  }

  private errorFrame(xid: number, err: ErrorCode, message: string): ServerFrame {
    return { xid, zxid: this.appliedIndex, err, message };
  }

  private ok(xid: number, res: unknown, zxid = this.appliedIndex): ServerFrame {
    return { xid, zxid, err: ErrorCode.OK, res } as ServerFrame;
  }

  private handle(conn: Conn, ticket: number, req: DecodedRequest): void {
    const fill = (frames: ServerFrame[]) => conn.replies.fill(ticket, frames);
    const ids = conn.identities;
    switch (req.name) {
      case 'ping':
        if (this.isLeader) return fill([this.pingReply(conn)]);
        // A follower knows a session is alive only once the leader has acknowledged it. Answering
        // now would report the deadline of an earlier ping, short enough to make the client call
        // its session lost before it could fail over; answering after the ack reports this
        // ping's. The reply leaves out of turn (sendNow): it carries no data, and the client
        // matches ping replies among themselves. If the leader never acknowledges (partition),
        // the ping goes unanswered and the client moves to another member, as it should.
        fill([]);
        this.deferPing(conn);
        return;
      case 'create':
      case 'create2': {
        const a = req.args;
        const op: TxnOp = { type: 'create', path: a.path, data: a.data, acl: a.acl, mode: a.mode };
        if (a.ttlMs !== undefined) op.ttlMs = a.ttlMs;
        return this.write(conn, ticket, req, op);
      }
      case 'delete':
        return this.write(conn, ticket, req, { type: 'delete', path: req.args.path, version: req.args.version });
      case 'setData':
        return this.write(conn, ticket, req, { type: 'setData', path: req.args.path, data: req.args.data, version: req.args.version });
      case 'setACL':
        return this.write(conn, ticket, req, { type: 'setACL', path: req.args.path, acl: req.args.acl, version: req.args.version });
      case 'multi': {
        const ops = req.args.ops.map((o) => {
          switch (o.op) {
            case 'create': {
              const c: TxnOp & { type: 'create' } = {
                type: 'create',
                path: o.args.path,
                data: o.args.data,
                acl: o.args.acl,
                mode: o.args.mode,
              };
              if (o.args.ttlMs !== undefined) c.ttlMs = o.args.ttlMs;
              return c;
            }
            case 'delete':
              return { type: 'delete' as const, path: o.args.path, version: o.args.version };
            case 'setData':
              return { type: 'setData' as const, path: o.args.path, data: o.args.data, version: o.args.version };
            case 'check':
              return { type: 'check' as const, path: o.args.path, version: o.args.version };
          }
        });
        return this.write(conn, ticket, req, { type: 'multi', ops });
      }
      case 'closeSession':
        return this.write(conn, ticket, req, { type: 'closeSession', sessionId: conn.sessionId, reason: 'close' });
      case 'sync':
        return this.readAfterIndex(conn, ticket, () => [this.ok(req.xid, { path: req.args.path })]);
      case 'exists':
      case 'getData':
      case 'getChildren':
      case 'getChildren2':
      case 'getACL':
      case 'getEphemerals':
      case 'getAllChildrenNumber':
      case 'multiRead': {
        const run = () => [this.read(conn, req)];
        const linearizable = 'linearizable' in req.args && req.args.linearizable === true;
        if (linearizable) return this.readAfterIndex(conn, ticket, run);
        // Runs when every earlier request of the connection is answered, so a read sees the
        // session's own earlier writes (SEMANTICS: answered in the order sent).
        return conn.replies.fill(ticket, run);
      }
      case 'addAuth': {
        let id: Id;
        try {
          id = authIdentity(req.args.scheme, req.args.credentials);
        } catch (error) {
          fill([this.errorFrame(req.xid, ErrorCode.AUTHFAILED, (error as Error).message)]);
          this.dropConnection(conn, 'authentication failed');
          return;
        }
        if (!conn.identities.some((i) => i.scheme === id.scheme && i.id === id.id)) conn.identities.push(id);
        return fill([this.ok(req.xid, {})]);
      }
      case 'whoAmI':
        return fill([this.ok(req.xid, { identities: ids })]);
      case 'addWatch': {
        const kind = req.args.mode === 1 ? 'persistentRecursive' : 'persistent';
        this.watches.add(conn.link.id, req.args.path, kind);
        return fill([this.ok(req.xid, {})]);
      }
      case 'removeWatches':
      case 'checkWatches': {
        const outcome =
          req.name === 'removeWatches'
            ? this.watches.removeWatches(conn.link.id, req.args.path, req.args.type)
            : this.watches.checkWatches(conn.link.id, req.args.path, req.args.type);
        if (!outcome.ok) return fill([this.errorFrame(req.xid, outcome.code, outcome.message)]);
        const frames: ServerFrame[] =
          req.name === 'removeWatches'
            ? outcome.events.map((type) => ({ xid: XID_WATCH_EVENT, zxid: this.appliedIndex, type, path: req.args.path }))
            : [];
        frames.push(this.ok(req.xid, {}));
        return fill(frames);
      }
      case 'setWatches':
        return fill(this.setWatches(conn, req.xid, req.args));
    }
  }

  private write(conn: Conn, ticket: number, req: DecodedRequest, op: TxnOp): void {
    if (this.leader === null) {
      conn.replies.fill(ticket, [this.errorFrame(req.xid, ErrorCode.CONNECTIONLOSS, `${req.name}: no leader; retry on another member`)]);
      return;
    }
    const txn: Omit<StampedTxn, 'timeMs'> = { sessionId: conn.sessionId, identities: conn.identities, op };
    if (req.requestId !== undefined) txn.requestId = req.requestId;
    const key = op.type === 'closeSession' ? `x:${conn.sessionId}` : `${conn.sessionId}:${req.requestId ?? 0}`;
    const pending: PendingWrite = { connId: conn.link.id, ticket, request: req, txn, sentAtTick: this.ticks, arrivedMs: this.host.nowMs() };
    this.pendingWrites.set(key, pending);
    this.submit(pending);
  }

  private answerWrite(pending: PendingWrite, result: TxnResult): void {
    this.counters.commits++;
    this.counters.commitMsSum += this.host.nowMs() - pending.arrivedMs;
    if (pending.connect !== undefined) {
      const { link, password, timeoutMs, auth } = pending.connect;
      const sessionId = pending.txn.sessionId;
      if (result.err !== 0) return refuse(link, result.err, 'message' in result && result.message ? result.message : 'session not created');
      this.accept(link, sessionId, timeoutMs, password, auth);
      return;
    }
    const conn = this.conns.get(pending.connId);
    const req = pending.request;
    if (conn === undefined || req === null || pending.ticket < 0) return;
    conn.replies.fill(pending.ticket, [writeResponse(req, result, this.appliedIndex)]);
    if (req.name === 'closeSession' && result.err === 0) this.dropConnection(conn, 'session closed');
  }

  private readAfterIndex(conn: Conn, ticket: number, run: () => ServerFrame[]): void {
    const key = `r${++this.readSeq}`;
    this.pendingReads.set(key, { connId: conn.link.id, ticket, index: null, askedAtTick: this.ticks, run });
    this.toNode(() => this.node.readIndex(new TextEncoder().encode(key)));
  }

  private serveReads(): void {
    for (const [key, read] of this.pendingReads) {
      if (read.index === null || read.index > this.appliedIndex) continue;
      this.pendingReads.delete(key);
      this.conns.get(read.connId)?.replies.fill(read.ticket, read.run());
    }
  }

  private read(conn: Conn, req: DecodedRequest): ServerFrame {
    const ids = conn.identities;
    try {
      switch (req.name) {
        case 'exists': {
          const stat = this.tree.exists(req.args.path);
          if (req.args.watch === true) this.watches.add(conn.link.id, req.args.path, stat === null ? 'exist' : 'data');
          if (stat === null) return this.errorFrame(req.xid, ErrorCode.NONODE, `exists: ${req.args.path} does not exist`);
          return this.ok(req.xid, { stat });
        }
        case 'getData': {
          const r = this.tree.getData(req.args.path, ids);
          if (req.args.watch === true) this.watches.add(conn.link.id, req.args.path, 'data');
          return this.ok(req.xid, { data: r.data, stat: r.stat });
        }
        case 'getChildren':
        case 'getChildren2': {
          const page: { after?: string; limit?: number } = {};
          if (req.args.after !== undefined) page.after = req.args.after;
          if (req.args.limit !== undefined) page.limit = req.args.limit;
          const r = this.tree.getChildren(req.args.path, ids, page);
          if (req.args.watch === true) this.watches.add(conn.link.id, req.args.path, 'child');
          return this.ok(
            req.xid,
            req.name === 'getChildren' ? { children: r.children, more: r.more } : { children: r.children, more: r.more, stat: r.stat },
          );
        }
        case 'getACL': {
          const r = this.tree.getACL(req.args.path, ids);
          return this.ok(req.xid, { acl: r.acl, stat: r.stat });
        }
        case 'getEphemerals':
          return this.ok(req.xid, { paths: this.tree.getEphemerals(conn.sessionId, req.args.prefix) });
        case 'getAllChildrenNumber':
          return this.ok(req.xid, { count: this.tree.getAllChildrenNumber(req.args.path, ids) });
        case 'multiRead':
          return this.ok(req.xid, { results: this.tree.multiRead(req.args.ops, ids) });
        default:
          return this.errorFrame(req.xid, ErrorCode.UNIMPLEMENTED, `${req.name} is not a read`);
      }
    } catch (error) {
      if (error instanceof ArborError) return this.errorFrame(req.xid, error.code, error.message);
      throw error;
    }
  }

  private setWatches(conn: Conn, xid: number, args: Extract<DecodedRequest, { name: 'setWatches' }>['args']): ServerFrame[] {
    const frames: ServerFrame[] = [];
    const lastZxid = Math.min(args.lastZxid, this.appliedIndex);
    const oneShot = reregisterOneShot(args, (path) => this.tree.exists(path) ?? undefined, this.appliedIndex);
    for (const w of oneShot.arm) this.watches.add(conn.link.id, w.path, w.kind);
    for (const p of args.persistent) this.watches.add(conn.link.id, p, 'persistent');
    for (const p of args.persistentRecursive) this.watches.add(conn.link.id, p, 'persistentRecursive');
    // The client routes every event to all its watches on the path, one-shot and persistent. A
    // one-shot event made up here carries the applied zxid, not the change's: sent before the
    // replay it would go out of zxid order (and the client would drop the older replayed events
    // as repeats), and sent to a persistent watch that the replay already told of the change it
    // would be a second report. So the replay goes first, and a made-up event that the replay's
    // watches would hear is left out: the replayed change it stands for fires the one-shot
    // watch too (a data watch on NodeDataChanged/NodeDeleted, an exist watch on NodeCreated…).
    let replayed: ReplayMatcher | null = null;
    if (args.persistent.length + args.persistentRecursive.length > 0) {
      const filter = { persistent: args.persistent, persistentRecursive: args.persistentRecursive };
      const replay = this.window.since(lastZxid, filter);
      if (replay.truncated) {
        for (const path of [...args.persistent, ...args.persistentRecursive]) {
          frames.push({ xid: XID_NOTICE, notice: 'watchResync', path, zxid: this.appliedIndex });
        }
      } else {
        for (const t of replay.triggers) frames.push({ xid: XID_WATCH_EVENT, zxid: t.zxid, type: t.type, path: t.path });
        replayed = new ReplayMatcher(filter);
      }
    }
    for (const ev of oneShot.events) {
      if (replayed?.matches(ev) === true) continue;
      frames.push({ xid: XID_WATCH_EVENT, zxid: ev.zxid, type: ev.type, path: ev.path });
    }
    frames.push(this.ok(xid, {}));
    return frames;
  }

  /** Stops serving: every connection is told and closed. */
  stop(reason: string): void {
    this.stopped = true;
    for (const conn of [...this.conns.values()]) {
      conn.link.send({ xid: XID_NOTICE, notice: 'closing', reason });
      this.dropConnection(conn, reason);
    }
    for (const hs of this.handshakes.values()) refuse(hs.link, ErrorCode.CONNECTIONLOSS, reason);
    this.handshakes.clear();
  }

  sessionsCount(): number {
    let n = 0;
    for (const _ of this.tree.sessions()) n++;
    return n;
  }
}

function refuse(link: ClientLink, err: ErrorCode, message: string): void {
  link.send({ err, message });
  link.close(`refused: ${message}`);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The identity an addAuth (or handshake credential) grants; throws for what cannot authenticate. */
function authIdentity(scheme: string, credentials: Uint8Array): Id {
  if (scheme !== 'digest') throw new Error(`addAuth: scheme '${scheme}' is not supported (only digest)`);
  const id = digestIdFromCredentials(credentials);
  if (id === undefined) throw new Error("addAuth: digest credentials must be UTF-8 'user:password'");
  return { scheme: 'digest', id };
}

/** The pending-write key an applied entry answers, or null for entries nobody waits on. */
function writeKey(txn: Txn): string | null {
  const op = txn.op;
  if (op.type === 'createSession') return `c:${op.sessionId}`;
  if (op.type === 'closeSession') return op.reason === 'close' ? `x:${op.sessionId}` : null;
  if (txn.sessionId === 0 || txn.requestId === undefined) return null;
  return `${txn.sessionId}:${txn.requestId}`;
}

function writeResponse(req: DecodedRequest, result: TxnResult, zxid: number): ServerFrame {
  const xid = req.xid;
  if (req.name === 'multi') {
    const r = result as { err: ErrorCode; message?: string; results?: unknown };
    if ('results' in r) {
      const frame: Record<string, unknown> = { xid, zxid, err: r.err, res: { results: r.results } };
      if (r.err !== 0) frame['message'] = r.message ?? 'multi failed';
      return frame as unknown as ServerFrame;
    }
  }
  if (result.err !== 0) return { xid, zxid, err: result.err, message: 'message' in result ? (result.message ?? '') : '' };
  const r = result as { path?: string; stat?: unknown };
  switch (req.name) {
    case 'create':
      return { xid, zxid, err: 0, res: { path: r.path } } as ServerFrame;
    case 'create2':
      return { xid, zxid, err: 0, res: { path: r.path, stat: r.stat } } as ServerFrame;
    case 'setData':
    case 'setACL':
      return { xid, zxid, err: 0, res: { stat: r.stat } } as ServerFrame;
    default:
      return { xid, zxid, err: 0, res: {} } as ServerFrame;
  }
}
