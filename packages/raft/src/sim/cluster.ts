// A seeded cluster of simulated members on virtual time (STYLE.md 14, after TigerBeetle's VOPR):
// ticks, message deliveries and fsync completions are events in one queue; after each event the
// touched member runs its host loop and the SafetyChecker sees everything it produced.

import { assert } from '../assert.js';
import { formatLogLine, nullLogger, type LogFields, type Logger, type LogLine } from '../logger.js';
import { SeededRandom } from '../random.js';
import { contextKey } from '../read-only.js';
import type { ConfChange, Message, NodeId } from '../types.js';
import { SafetyChecker } from './checker.js';
import { SimMember, type MemberHooks, type RaftTuning } from './member.js';
import { SimNetwork } from './network.js';
import { EventQueue } from './event-queue.js';
import { foundingProbe } from './founding-probe.js';
import { encodeWrite } from './state-machine.js';
import type { ProposeResult } from '../leader.js';
import type { RequestResult } from '../raw-node.js';

export interface ClusterOptions {
  readonly seed: number;
  /** Founding voters (bootstrapped). */
  readonly voters: readonly NodeId[];
  /** Members that may join later (start with empty storage). */
  readonly spares: readonly NodeId[];
  readonly tickMs: number;
  /** Each member's tick period is tickMs * (1 + d) for a d drawn from [-drift, drift]. */
  readonly tickDriftRatio: number;
  readonly tuning: RaftTuning;
  readonly asyncWrites: boolean;
  readonly fsyncMinMs: number;
  readonly fsyncMaxMs: number;
  readonly snapshotEveryEntries: number;
  readonly compactKeepEntries: number;
  readonly snapshotPaddingBytes: number;
  /** Keep log lines (debug level) for failure reports; costs time. */
  readonly captureLogs: boolean;
}

type SimEvent =
  | { readonly kind: 'tick'; readonly id: NodeId; readonly incarnation: number }
  | { readonly kind: 'deliver'; readonly message: Message }
  | { readonly kind: 'fsync'; readonly id: NodeId; readonly incarnation: number }
  /** Member `id`'s host sees its connection to `peer` close (the peer's process died). */
  | { readonly kind: 'linkLost'; readonly id: NodeId; readonly incarnation: number; readonly peer: NodeId };

interface PendingWrite {
  readonly index: number;
  readonly term: number;
}

interface PendingRead {
  readonly member: NodeId;
  readonly incarnation: number;
  readonly minIndex: number;
}

export interface ClusterStats {
  events: number;
  elections: number;
  writesProposed: number;
  writesAcked: number;
  readsServed: number;
  crashes: number;
  wipes: number;
  snapshotsInstalled: number;
  confChanges: number;
  transfers: number;
}

export class SimCluster {
  nowMs = 0;
  readonly members = new Map<NodeId, SimMember>();
  readonly network: SimNetwork;
  readonly checker = new SafetyChecker();
  readonly random: SeededRandom;
  readonly logLines: LogLine[] = [];
  readonly stats: ClusterStats = {
    events: 0,
    elections: 0,
    writesProposed: 0,
    writesAcked: 0,
    readsServed: 0,
    crashes: 0,
    wipes: 0,
    snapshotsInstalled: 0,
    confChanges: 0,
    transfers: 0,
  };
  private readonly queue = new EventQueue<SimEvent>();
  private readonly tickPeriodMs = new Map<NodeId, number>();
  private readonly writes = new Map<string, PendingWrite>();
  private readonly reads = new Map<string, PendingRead>();
  private readonly seenCommit = new Map<NodeId, number>();
  private nextWriteId = 1;
  private nextReadId = 1;
  private readonly hooks: MemberHooks;

  constructor(readonly options: ClusterOptions) {
    this.random = new SeededRandom(options.seed);
    this.network = new SimNetwork(this.random.fork());
    this.hooks = this.makeHooks();
    for (const id of [...options.voters, ...options.spares]) {
      const logger: Logger = options.captureLogs ? new TimedLogger(this, id, this.logLines) : nullLogger;
      const member = new SimMember(
        {
          id,
          tuning: options.tuning,
          asyncWrites: options.asyncWrites,
          fsyncMinMs: options.fsyncMinMs,
          fsyncMaxMs: options.fsyncMaxMs,
          snapshotEveryEntries: options.snapshotEveryEntries,
          compactKeepEntries: options.compactKeepEntries,
          snapshotPaddingBytes: options.snapshotPaddingBytes,
        },
        logger,
        this.random.fork(),
      );
      this.members.set(id, member);
      const drift = (this.random.nextFloat() * 2 - 1) * options.tickDriftRatio;
      this.tickPeriodMs.set(id, options.tickMs * (1 + drift));
    }
    for (const id of options.voters) {
      (this.members.get(id) as SimMember).bootstrap(options.voters);
      this.start(id);
    }
  }

  member(id: NodeId): SimMember {
    const m = this.members.get(id);
    assert(m !== undefined, `no member ${id}`);
    return m;
  }

  running(): SimMember[] {
    return [...this.members.values()].filter((m) => m.running);
  }

  // --- faults ---

  start(id: NodeId): void {
    const m = this.member(id);
    m.start(this.random.nextUint32());
    this.seenCommit.set(id, 0);
    const period = this.tickPeriodMs.get(id) as number;
    this.queue.push(this.nowMs + this.random.nextFloat() * period, { kind: 'tick', id, incarnation: m.incarnation });
    this.afterEvent(m);
  }

  crash(id: NodeId): void {
    const m = this.member(id);
    if (!m.running) return;
    m.crash();
    this.stats.crashes++;
    // Its sockets close with the process: the others notice after a network delay, unless a
    // partition stands between them (then nothing arrives, as over a blackholed link).
    for (const other of this.running()) {
      if (this.network.isBlocked(id, other.id)) continue;
      const at = this.nowMs + this.network.faults.minDelayMs + this.random.nextFloat() * this.network.faults.maxDelayMs;
      this.queue.push(at, { kind: 'linkLost', id: other.id, incarnation: other.incarnation, peer: id });
    }
  }

  /**
   * A crashed founding member loses its storage, as when its data directory is wiped; it
   * bootstraps afresh, under the rejoin guard, and restarts later like any crashed member.
   */
  wipe(id: NodeId): void {
    this.crash(id);
    this.member(id).wipe(this.options.voters);
    this.stats.wipes++;
  }

  // --- client operations ---

  /** The running member that leads the highest term, if any. */
  leader(): SimMember | null {
    let best: SimMember | null = null;
    let bestTerm = -1;
    for (const m of this.running()) {
      const s = (m.node as NonNullable<SimMember['node']>).status();
      if (s.role === 'leader' && s.term > bestTerm) {
        best = m;
        bestTerm = s.term;
      }
    }
    return best;
  }

  proposeWrite(id: NodeId, amount: number): ProposeResult {
    const m = this.member(id);
    assert(m.node !== null, `member ${id} is down`);
    const result = m.node.propose(encodeWrite(amount, this.nextWriteId++));
    if (result.ok) {
      this.stats.writesProposed++;
      this.writes.set(`${id}:${m.incarnation}:${result.index}`, { index: result.index, term: result.term });
    }
    this.afterEvent(m);
    return result;
  }

  readIndex(id: NodeId): RequestResult {
    const m = this.member(id);
    assert(m.node !== null, `member ${id} is down`);
    const readId = this.nextReadId++;
    const context = new Uint8Array([readId >>> 24, (readId >>> 16) & 0xff, (readId >>> 8) & 0xff, readId & 0xff]);
    const result = m.node.readIndex(context);
    if (result.ok) this.reads.set(contextKey(context), { member: id, incarnation: m.incarnation, minIndex: this.checker.maxAckedIndex });
    this.afterEvent(m);
    return result;
  }

  proposeConfChange(id: NodeId, change: ConfChange): ProposeResult {
    const m = this.member(id);
    assert(m.node !== null, `member ${id} is down`);
    const result = m.node.proposeConfChange(change);
    if (result.ok) this.stats.confChanges++;
    this.afterEvent(m);
    return result;
  }

  transferLeadership(id: NodeId, to: NodeId): RequestResult {
    const m = this.member(id);
    assert(m.node !== null, `member ${id} is down`);
    const result = m.node.transferLeadership(to);
    if (result.ok) this.stats.transfers++;
    this.afterEvent(m);
    return result;
  }

  // --- running ---

  /** Processes events up to virtual time `untilMs`. */
  runUntil(untilMs: number): void {
    for (let at = this.queue.peekTime(); at !== undefined && at <= untilMs; at = this.queue.peekTime()) this.step();
    this.nowMs = Math.max(this.nowMs, untilMs);
  }

  /** Runs until `done` holds (checked after every event) or `untilMs`; returns whether it held. */
  runUntilCondition(done: () => boolean, untilMs: number): boolean {
    if (done()) return true;
    for (let at = this.queue.peekTime(); at !== undefined && at <= untilMs; at = this.queue.peekTime()) {
      this.step();
      if (done()) return true;
    }
    this.nowMs = Math.max(this.nowMs, untilMs);
    return done();
  }

  private step(): void {
    const next = this.queue.pop();
    if (next === undefined) return;
    this.nowMs = next.at;
    this.stats.events++;
    const event = next.value;
    switch (event.kind) {
      case 'tick': {
        const m = this.member(event.id);
        if (!m.running || m.incarnation !== event.incarnation) return;
        this.queue.push(this.nowMs + (this.tickPeriodMs.get(event.id) as number), event);
        (m.node as NonNullable<SimMember['node']>).tick();
        this.askWhetherNew(m);
        this.afterEvent(m);
        return;
      }
      case 'deliver': {
        const m = this.members.get(event.message.to);
        if (m === undefined || !m.running) return;
        (m.node as NonNullable<SimMember['node']>).step(event.message);
        this.afterEvent(m);
        return;
      }
      case 'fsync': {
        const m = this.member(event.id);
        if (!m.running || m.incarnation !== event.incarnation) return;
        m.completeWrites(this.nowMs, this.hooks);
        this.afterEvent(m);
        return;
      }
      case 'linkLost': {
        const m = this.member(event.id);
        if (!m.running || m.incarnation !== event.incarnation) return;
        (m.node as NonNullable<SimMember['node']>).peerDisconnected(event.peer);
        this.afterEvent(m);
        return;
      }
    }
  }

  /** The host of a guarded member asks its peers whether the ensemble is new (founding-probe.ts). */
  private askWhetherNew(m: SimMember): void {
    if (m.node?.status().rejoinGuard === null) return;
    if (foundingProbe(m, this.members, (id) => !this.network.isBlocked(m.id, id))) m.node?.confirmNewEnsemble();
  }

  /** Runs the member's host loop and checks what the event changed. */
  private afterEvent(m: SimMember): void {
    m.process(this.nowMs, this.hooks);
    const node = m.node;
    if (node === null) return;
    const s = node.status();
    if (s.role === 'leader' && this.checker.sawLeader(m.id, s.term)) {
      this.stats.elections++;
      this.checker.checkLeaderCompleteness(m.id, s.term, s.firstIndex, (i) => node.logTerm(i));
    }
    const seen = this.seenCommit.get(m.id) ?? 0;
    if (s.commit > seen) {
      for (let i = Math.max(seen + 1, s.firstIndex); i <= s.commit; i++) {
        const t = node.logTerm(i);
        if (t !== undefined) this.checker.sawCommitted(m.id, s.term, i, t);
      }
      this.seenCommit.set(m.id, s.commit);
    }
  }

  private makeHooks(): MemberHooks {
    return {
      send: (message) => {
        for (const d of this.network.route(this.nowMs, message)) this.queue.push(d.atMs, { kind: 'deliver', message: d.message });
      },
      scheduleFsync: (member, atMs) => {
        this.queue.push(atMs, { kind: 'fsync', id: member.id, incarnation: member.incarnation });
      },
      entriesHanded: (member, entries) => {
        const node = member.node as NonNullable<SimMember['node']>;
        this.checker.sawEntries(member.id, entries, (i) => node.logTerm(i));
      },
      applied: (member, entry) => {
        const node = member.node as NonNullable<SimMember['node']>;
        this.checker.sawApplied(member.id, node.status().term, entry, member.sm as NonNullable<SimMember['sm']>);
        const key = `${member.id}:${member.incarnation}:${entry.index}`;
        const write = this.writes.get(key);
        if (write !== undefined) {
          this.writes.delete(key);
          if (write.term === entry.term) {
            this.checker.sawAcknowledged(entry.index, entry.term);
            this.stats.writesAcked++;
          }
        }
      },
      snapshotRestored: (member, meta) => {
        this.stats.snapshotsInstalled++;
        this.checker.sawSnapshotRestored(member.id, meta, member.sm as NonNullable<SimMember['sm']>);
      },
      readReady: (member, read) => {
        const key = contextKey(read.context);
        const pending = this.reads.get(key);
        if (pending === undefined || pending.member !== member.id || pending.incarnation !== member.incarnation) return;
        this.reads.delete(key);
        const sm = member.sm as NonNullable<SimMember['sm']>;
        this.checker.sawRead({
          member: member.id,
          minIndex: pending.minIndex,
          readIndex: read.index,
          servedAtIndex: sm.appliedIndex,
          counter: sm.counter,
        });
        this.stats.readsServed++;
      },
      softState: () => {},
    };
  }

  /** The last `n` captured log lines, formatted (empty unless captureLogs). */
  logTail(n: number): string[] {
    return this.logLines.slice(-n).map((l) => `${formatLogLine(l)}`);
  }
}

/** Captures lines stamped with virtual time and member, for failure reports. */
class TimedLogger implements Logger {
  constructor(
    private readonly cluster: SimCluster,
    private readonly member: NodeId,
    private readonly sink: LogLine[],
  ) {}
  debug(fields: LogFields, message: string): void {
    this.push('debug', fields, message);
  }
  info(fields: LogFields, message: string): void {
    this.push('info', fields, message);
  }
  warn(fields: LogFields, message: string): void {
    this.push('warn', fields, message);
  }
  private push(level: LogLine['level'], fields: LogFields, message: string): void {
    this.sink.push({ level, message, fields: { t: Math.round(this.cluster.nowMs * 10) / 10, member: this.member, ...fields } });
  }
}
