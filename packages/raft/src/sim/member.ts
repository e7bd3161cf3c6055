// One simulated member: a RawNode driven by the host loop of raw-node.ts, with a disk that
// distinguishes durable state (the Memory* stores) from writes still "in the fsync" (lost on a
// crash), and a counter state machine. Writes are either synchronous (persisted before advance)
// or asynchronous (completed later by a disk event), exercising the leader's overlap path.

import { assert } from '../assert.js';
import { bootstrapEntries } from '../conf-change.js';
import type { Logger } from '../logger.js';
import { createMemoryStorage, type MemoryStorage } from '../memory-storage.js';
import { SeededRandom } from '../random.js';
import type { RaftConfig } from '../config.js';
import { RawNode } from '../raw-node.js';
import type {
  Entry,
  HardState,
  LogPosition,
  Message,
  NodeId,
  PersistMark,
  ReadState,
  SnapshotChunk,
  SnapshotMeta,
  SoftState,
} from '../types.js';
import { CounterStateMachine } from './state-machine.js';

export type RaftTuning = Omit<RaftConfig, 'id' | 'storage' | 'random' | 'logger' | 'applied'>;

export interface MemberOptions {
  readonly id: NodeId;
  readonly tuning: RaftTuning;
  /** Writes complete after a disk delay instead of before advance(). */
  readonly asyncWrites: boolean;
  readonly fsyncMinMs: number;
  readonly fsyncMaxMs: number;
  /** Take a snapshot (and compact) once this many entries were applied since the last; 0 never. */
  readonly snapshotEveryEntries: number;
  /** Entries kept behind a snapshot when compacting (for slightly lagging followers). */
  readonly compactKeepEntries: number;
  /** Extra bytes in each snapshot, so transfers span several chunks. */
  readonly snapshotPaddingBytes: number;
}

/** A write handed out by a Ready and not yet durable. */
interface PendingWrite {
  readonly mark: PersistMark;
  readonly doneAtMs: number;
  readonly hardState: HardState | null;
  readonly chunks: readonly SnapshotChunk[];
  readonly snapshot: SnapshotMeta | null;
  readonly entries: readonly Entry[];
  readonly liftsRejoinGuard: boolean;
}

/** What the member reports to its cluster while it runs. */
export interface MemberHooks {
  send(message: Message): void;
  /** A write will complete at `atMs`: wake the member then. */
  scheduleFsync(member: SimMember, atMs: number): void;
  entriesHanded(member: SimMember, entries: readonly Entry[]): void;
  applied(member: SimMember, entry: Entry): void;
  snapshotRestored(member: SimMember, meta: SnapshotMeta): void;
  readReady(member: SimMember, read: ReadState): void;
  softState(member: SimMember, soft: SoftState): void;
}

export class SimMember {
  storage: MemoryStorage = createMemoryStorage();
  /**
   * Durable, like the storage: the rejoin guard position a member started with empty storage
   * keeps until a Ready lifts it (RaftConfig.rejoinGuard; the server keeps it in its database).
   */
  rejoinGuard: LogPosition | null = null;
  node: RawNode | null = null;
  sm: CounterStateMachine | null = null;
  /** Bumped on every start, so events scheduled for an earlier life are ignored. */
  incarnation = 0;
  private pending: PendingWrite[] = [];
  /** Received snapshot bytes, kept in memory so the state machine can restore before they are durable. */
  private incoming: { index: number; parts: Uint8Array[] } | null = null;
  private readsWaiting: ReadState[] = [];
  /**
   * A hard state that only moved the commit index (a Ready without a persistMark): written with
   * the next synced write, as a real host may, and lost if the member crashes first.
   */
  private lazyHardState: HardState | null = null;
  private lastSnapshotIndex = 0;
  /** Starts as options.asyncWrites; scripted scenarios switch it per member. */
  asyncWrites: boolean;

  constructor(
    readonly options: MemberOptions,
    readonly logger: Logger,
    /** Disk latency jitter. */
    private readonly diskRandom: SeededRandom,
  ) {
    this.asyncWrites = options.asyncWrites;
  }

  get id(): NodeId {
    return this.options.id;
  }

  get running(): boolean {
    return this.node !== null;
  }

  /**
   * Writes the founding configuration (every founding member does the same), as a member whose
   * storage was just created: it starts under the rejoin guard.
   */
  bootstrap(voters: readonly NodeId[]): void {
    const { entries, hardState } = bootstrapEntries(voters);
    this.storage.log.append(entries);
    this.storage.stable.saveHardState(hardState);
    this.rejoinGuard = { index: this.storage.log.lastIndex(), term: hardState.term };
  }

  /** Loses the storage of a crashed member (a wiped data directory); it bootstraps afresh. */
  wipe(voters: readonly NodeId[]): void {
    assert(this.node === null, `member ${this.id} must be down to be wiped`);
    this.storage = createMemoryStorage();
    this.bootstrap(voters);
  }

  start(seed: number): void {
    assert(this.node === null, `member ${this.id} already running`);
    this.incarnation++;
    const snapshot = this.storage.snapshots.latest();
    this.sm = snapshot.index === 0 ? new CounterStateMachine() : CounterStateMachine.restore(this.storage.snapshots.latestData());
    assert(this.sm.appliedIndex === snapshot.index, 'restored state machine disagrees with its snapshot');
    this.lastSnapshotIndex = snapshot.index;
    this.node = new RawNode({
      ...this.options.tuning,
      id: this.id,
      storage: this.storage,
      random: new SeededRandom(seed),
      logger: this.logger,
      applied: snapshot.index,
      rejoinGuard: this.rejoinGuard,
    });
  }

  /** Loses everything not durable: the core, the state machine, writes in flight, staged reads. */
  crash(): void {
    this.node = null;
    this.sm = null;
    this.pending = [];
    this.incoming = null;
    this.readsWaiting = [];
    this.lazyHardState = null;
  }

  /** Runs the host loop until the node has nothing more to hand out. */
  process(nowMs: number, hooks: MemberHooks): void {
    const node = this.node;
    if (node === null) return;
    while (node.hasReady()) {
      const rd = node.ready();
      if (rd.softState) hooks.softState(this, rd.softState);
      // Messages first: nothing in rd.messages depends on rd's writes.
      for (const m of rd.messages) hooks.send(m);
      if (rd.entries.length > 0) hooks.entriesHanded(this, rd.entries);
      if (rd.persistMark === null && rd.hardState !== null) this.lazyHardState = rd.hardState;
      // A newer hard state supersedes the lazy one; else the lazy one rides with these writes.
      const write: PendingWrite | null = rd.persistMark
        ? {
            mark: rd.persistMark,
            doneAtMs: this.nextFsyncAt(nowMs),
            hardState: this.takeLazyHardState(rd.hardState),
            chunks: rd.snapshotChunks,
            snapshot: rd.snapshot,
            entries: rd.entries,
            liftsRejoinGuard: rd.liftsRejoinGuard,
          }
        : null;
      for (const chunk of rd.snapshotChunks) this.mirrorChunk(chunk);
      if (rd.snapshot) this.restoreFromIncoming(rd.snapshot, hooks);
      const sm = this.sm as CounterStateMachine;
      for (const entry of rd.committedEntries) {
        sm.apply(entry);
        hooks.applied(this, entry);
      }
      for (const read of rd.readStates) this.readsWaiting.push(read);
      if (write !== null && this.asyncWrites) {
        this.pending.push(write);
        hooks.scheduleFsync(this, write.doneAtMs);
      } else if (write !== null) {
        this.persist(write);
      }
      node.advance(rd);
      if (write !== null && !this.asyncWrites) node.onPersisted(write.mark);
    }
    this.serveReads(hooks);
    this.maybeSnapshot();
  }

  /** Completes every write whose fsync finished by `nowMs`, then reports them durable. */
  completeWrites(nowMs: number, hooks: MemberHooks): void {
    const node = this.node;
    if (node === null) return;
    let last: PersistMark | null = null;
    while (this.pending.length > 0 && (this.pending[0] as PendingWrite).doneAtMs <= nowMs) {
      const write = this.pending.shift() as PendingWrite;
      this.persist(write);
      last = write.mark;
    }
    if (last !== null) {
      node.onPersisted(last);
      this.process(nowMs, hooks);
    }
  }

  private takeLazyHardState(newer: HardState | null): HardState | null {
    const state = newer ?? this.lazyHardState;
    this.lazyHardState = null;
    return state;
  }

  private nextFsyncAt(nowMs: number): number {
    const tail = this.pending[this.pending.length - 1]?.doneAtMs ?? 0;
    const { fsyncMinMs, fsyncMaxMs } = this.options;
    const delay = fsyncMinMs + this.diskRandom.nextFloat() * (fsyncMaxMs - fsyncMinMs);
    return Math.max(tail, nowMs + delay);
  }

  /** The Ready write order: chunks, snapshot, entries, hard state. */
  private persist(write: PendingWrite): void {
    const { log, stable, snapshots } = this.storage;
    for (const chunk of write.chunks) snapshots.stage(chunk);
    if (write.snapshot) {
      snapshots.install(write.snapshot);
      log.reset({ index: write.snapshot.index, term: write.snapshot.term });
    }
    log.append(write.entries);
    if (write.hardState) stable.saveHardState(write.hardState);
    if (write.liftsRejoinGuard) this.rejoinGuard = null;
  }

  private mirrorChunk(chunk: SnapshotChunk): void {
    if (chunk.offset === 0) this.incoming = { index: chunk.snapshot.index, parts: [] };
    assert(this.incoming !== null && this.incoming.index === chunk.snapshot.index, 'snapshot chunk without a transfer');
    this.incoming.parts.push(chunk.data);
  }

  private restoreFromIncoming(meta: SnapshotMeta, hooks: MemberHooks): void {
    const incoming = this.incoming;
    assert(incoming !== null && incoming.index === meta.index, `no received data for snapshot ${meta.index}`);
    let size = 0;
    for (const p of incoming.parts) size += p.length;
    const data = new Uint8Array(size);
    let at = 0;
    for (const p of incoming.parts) {
      data.set(p, at);
      at += p.length;
    }
    this.incoming = null;
    this.sm = CounterStateMachine.restore(data);
    assert(this.sm.appliedIndex === meta.index, `snapshot ${meta.index} holds state at ${this.sm.appliedIndex}`);
    this.lastSnapshotIndex = meta.index;
    hooks.snapshotRestored(this, meta);
  }

  private serveReads(hooks: MemberHooks): void {
    const sm = this.sm;
    if (sm === null || this.readsWaiting.length === 0) return;
    const ready = this.readsWaiting.filter((r) => r.index <= sm.appliedIndex);
    if (ready.length === 0) return;
    this.readsWaiting = this.readsWaiting.filter((r) => r.index > sm.appliedIndex);
    for (const read of ready) hooks.readReady(this, read);
  }

  /** Writes handed out and not yet durable. */
  pendingWriteCount(): number {
    return this.pending.length;
  }

  /** Takes a snapshot at the applied index now and compacts the log through it minus `keep`. */
  snapshotNow(keepEntries: number): SnapshotMeta {
    const node = this.node;
    const sm = this.sm;
    assert(node !== null && sm !== null, `member ${this.id} is down`);
    const meta = node.snapshotMetaAt(sm.appliedIndex);
    this.storage.snapshots.save(meta, sm.serialize(this.options.snapshotPaddingBytes));
    this.lastSnapshotIndex = meta.index;
    const compactTo = Math.max(0, meta.index - keepEntries);
    if (compactTo >= this.storage.log.firstIndex()) {
      this.storage.log.compact(compactTo);
      node.onCompacted(compactTo);
    }
    return meta;
  }

  /** Host-driven snapshots: save the state machine at its applied index, then compact behind it. */
  private maybeSnapshot(): void {
    const { snapshotEveryEntries, compactKeepEntries } = this.options;
    const sm = this.sm;
    if (this.node === null || sm === null || snapshotEveryEntries === 0) return;
    if (sm.appliedIndex - this.lastSnapshotIndex < snapshotEveryEntries) return;
    this.snapshotNow(compactKeepEntries);
  }
}
