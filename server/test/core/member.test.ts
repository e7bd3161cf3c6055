// Whole-member simulation: three core Members (server/src/core/member.ts) with in-memory
// storage, an in-memory network and fake client links, driven by explicit ticks — no sockets,
// no timers, no disk, fully deterministic. The real-process counterpart is test/e2e.

import { describe, expect, it } from 'vitest';
import {
  CreateMode,
  ErrorCode,
  EventType,
  Ops,
  PROTOCOL_VERSION,
  XID_WATCH_EVENT,
  type ConnectRequest,
  type DecodedRequest,
  type ServerFrame,
} from '@arbor/protocol';
import { SeededRandom, bootstrapEntries, createMemoryStorage, type MemoryStorage, type NodeId } from '@arbor/raft';
import { ZnodeTree, restoreFromChunksSync } from '@arbor/tree';
import type { ClientLink } from '../../src/core/client-port.js';
import { decodeLogEntry } from '../../src/core/log-entry.js';
import { Member, snapshotInterval, type MemberOptions, type PeerEnvelope } from '../../src/core/member.js';

const TICK_MS = 50;
const OPEN = [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }];

class FakeLink implements ClientLink {
  readonly frames: ServerFrame[] = [];
  closed: string | null = null;
  constructor(
    readonly id: number,
    readonly remoteAddress = '127.0.0.1',
  ) {}
  /** Runs after each frame is recorded, synchronously, as the listener's back-pressure drain does. */
  onSend: ((frame: ServerFrame) => void) | null = null;
  send(frame: ServerFrame): void {
    if (this.closed !== null) return;
    this.frames.push(frame);
    this.onSend?.(frame);
  }
  close(reason: string): void {
    this.closed = reason;
  }
  responses(): { xid: number; err: number; res?: unknown }[] {
    return this.frames.filter((f) => 'xid' in f && 'err' in f && f.xid > 0) as { xid: number; err: number; res?: unknown }[];
  }
}

class SimEnsemble {
  readonly members = new Map<NodeId, Member>();
  readonly storages = new Map<NodeId, MemoryStorage>();
  readonly down = new Set<NodeId>();
  private queue: { from: NodeId; to: NodeId; envelopes: PeerEnvelope[] }[] = [];
  nowMs = 0;
  /** Turns the members handed to host.yieldTurn (with `yieldTurns`), run only by runDeferredTurns. */
  readonly deferredTurns: (() => void)[] = [];
  /** Snapshots each member saved. */
  readonly snapshotsSaved = new Map<NodeId, number>();
  /** persist() calls of each member, and every envelope list each sent, in order. */
  readonly persists = new Map<NodeId, number>();
  readonly sent: { from: NodeId; to: NodeId; envelopes: PeerEnvelope[] }[] = [];
  private nextLink = 1;

  constructor(
    readonly ids: NodeId[],
    private readonly extra: Partial<MemberOptions> & { yieldTurns?: boolean; deferProcess?: boolean } = {},
  ) {
    for (const id of ids) {
      const storage = createMemoryStorage();
      const { entries, hardState } = bootstrapEntries(ids);
      storage.log.append(entries);
      storage.stable.saveHardState(hardState);
      this.storages.set(id, storage);
      this.start(id);
    }
  }

  start(id: NodeId): void {
    const storage = this.storages.get(id)!;
    const random = new SeededRandom(id * 7919);
    const latest = storage.snapshots.latest();
    const tree = latest.index === 0 ? new ZnodeTree() : restoreFromChunksSync([storage.snapshots.latestData()]);
    let member: Member | null = null;
    member = new Member(
      {
        nowMs: () => this.nowMs,
        wallMs: () => 1_800_000_000_000 + this.nowMs,
        random,
        randomBytes: (n) => Uint8Array.from({ length: n }, () => random.nextInt(256)),
        persist: (rd) => {
          this.persists.set(id, (this.persists.get(id) ?? 0) + 1);
          // Synchronous disk: durable before the next input.
          for (const chunk of rd.snapshotChunks) storage.snapshots.stage(chunk);
          if (rd.snapshot) {
            storage.snapshots.install(rd.snapshot);
            storage.log.reset({ index: rd.snapshot.index, term: rd.snapshot.term });
          }
          storage.log.append(rd.entries);
          if (rd.hardState) storage.stable.saveHardState(rd.hardState);
          const mark = rd.persistMark;
          if (mark !== null) queueMicrotask(() => member?.onPersisted(mark));
        },
        installSnapshot: () => restoreFromChunksSync([storage.snapshots.latestData()]),
        saveSnapshot: (meta, chunks) => {
          this.snapshotsSaved.set(id, (this.snapshotsSaved.get(id) ?? 0) + 1);
          storage.snapshots.save(meta, concat(chunks));
          return Promise.resolve();
        },
        sendPeer: (to, envelopes) => {
          this.queue.push({ from: id, to, envelopes });
          this.sent.push({ from: id, to, envelopes });
        },
        ...(this.extra.yieldTurns === true ? { yieldTurn: (next: () => void) => void this.deferredTurns.push(next) } : {}),
        // As member-runtime.ts does, unless a test asks for the synchronous host.
        ...(this.extra.deferProcess !== false ? { deferProcess: (run: () => void) => queueMicrotask(run) } : {}),
        fatal: (error) => {
          throw error;
        },
      },
      {
        id,
        storage,
        tree,
        appliedIndex: latest.index,
        electionTicks: 10,
        heartbeatTicks: 1,
        tickMs: TICK_MS,
        sessionTimeoutMinMs: 1_000,
        sessionTimeoutMaxMs: 10_000,
        ...this.extra,
      },
    );
    this.members.set(id, member);
    this.down.delete(id);
  }

  crash(id: NodeId): void {
    this.members.get(id)?.stop('crash');
    this.members.delete(id);
    this.down.add(id);
  }

  /** Delivers every queued message and settles persistence callbacks. */
  async settle(): Promise<void> {
    for (let round = 0; round < 100; round++) {
      // A few microtask hops: a deferred process() (deferProcess) runs one hop after its input.
      for (let hop = 0; hop < 5; hop++) await Promise.resolve();
      if (this.queue.length === 0) return;
      const batch = this.queue;
      this.queue = [];
      for (const { from, to, envelopes } of batch) {
        if (this.down.has(to) || this.down.has(from)) continue;
        // Through msgpack-like copying is not needed: nothing is mutated after sending.
        this.members.get(to)?.onPeerEnvelopes(from, envelopes);
      }
    }
  }

  async run(ticks: number, until?: () => boolean): Promise<void> {
    for (let i = 0; i < ticks; i++) {
      if (until?.()) return;
      this.nowMs += TICK_MS;
      for (const m of this.members.values()) m.tick();
      await this.settle();
    }
    if (until !== undefined && !until()) throw new Error(`condition not reached within ${ticks} ticks`);
  }

  /** Runs the deferred turns (and those they defer), delivering messages after each. */
  async runDeferredTurns(): Promise<number> {
    let turns = 0;
    for (let next = this.deferredTurns.shift(); next !== undefined; next = this.deferredTurns.shift()) {
      next();
      turns++;
      await this.settle();
    }
    return turns;
  }

  leader(): Member | undefined {
    return [...this.members.values()].find((m) => m.isLeader);
  }

  link(): FakeLink {
    return new FakeLink(this.nextLink++);
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function createReq(xid: number, requestId: number, path: string, mode: number = CreateMode.PERSISTENT): DecodedRequest {
  return { xid, op: 1, name: 'create', requestId, args: { path, data: null, acl: OPEN, mode } } as DecodedRequest;
}

/** A handshake as the client listener hands it to the member: a new session unless `fields` say otherwise. */
function connectRequest(fields: Partial<ConnectRequest> = {}): ConnectRequest {
  return {
    protocolVersion: PROTOCOL_VERSION,
    sessionId: 0,
    password: null,
    timeoutMs: 4_000,
    lastZxid: 0,
    readOnly: false,
    auth: [],
    ...fields,
  };
}

async function openSession(sim: SimEnsemble, member: Member, timeoutMs = 4_000): Promise<{ link: FakeLink; sessionId: number }> {
  const link = sim.link();
  member.onConnect(link, connectRequest({ timeoutMs }));
  await sim.run(50, () => link.frames.length > 0);
  const hello = link.frames[0] as { sessionId?: number; err?: number };
  expect(hello.err).toBeUndefined();
  return { link, sessionId: hello.sessionId! };
}

describe('the member core in a simulated 3-member ensemble', () => {
  it('a request let in by an answer, inside the apply that made it, is proposed without re-entering the Raft loop', async () => {
    // The client listener hands a held request to the member as soon as an answer brings the
    // connection under its outstanding limit — synchronously, from inside the apply that answered.
    const sim = new SimEnsemble([1, 2, 3]);
    await sim.run(100, () => sim.leader() !== undefined);
    const leader = sim.leader()!;
    const { link } = await openSession(sim, leader);
    const held = Array.from({ length: 10 }, (_, i) => createReq(i + 2, i + 2, `/held${i}`));
    link.onSend = (frame) => {
      const next = 'xid' in frame && frame.xid > 0 ? held.shift() : undefined;
      if (next !== undefined) leader.onRequest(link, next);
    };
    leader.onRequest(link, createReq(1, 1, '/first'));
    await sim.run(50, () => link.responses().length === 11);
    expect(link.responses().map((r) => [r.xid, r.err, (r as { message?: string }).message])).toEqual(
      Array.from({ length: 11 }, (_, i) => [i + 1, 0, undefined]),
    );
    expect(link.closed).toBeNull();
  });

  it('with deferProcess, requests taken in one callback share one Ready: one persist, one append per follower', async () => {
    const appendsTo = (sim: SimEnsemble, from: NodeId, since: number): Map<NodeId, number> => {
      const counts = new Map<NodeId, number>();
      for (const { from: f, to, envelopes } of sim.sent.slice(since))
        if (f === from && envelopes.some((e) => e.k === 'raft' && e.m.type === 'append' && e.m.entries.length > 0))
          counts.set(to, (counts.get(to) ?? 0) + 1);
      return counts;
    };
    for (const deferProcess of [false, true]) {
      const sim = new SimEnsemble([1, 2, 3], { deferProcess });
      await sim.run(100, () => sim.leader() !== undefined);
      const leader = sim.leader()!;
      const { link } = await openSession(sim, leader);
      await sim.run(5);
      const persistsBefore = sim.persists.get(leader.id) ?? 0;
      const sentBefore = sim.sent.length;
      // As a socket read hands the member several requests in one callback.
      for (let i = 1; i <= 10; i++) leader.onRequest(link, createReq(i, i, `/batch${i}`));
      await Promise.resolve();
      const persists = (sim.persists.get(leader.id) ?? 0) - persistsBefore;
      const appends = [...appendsTo(sim, leader.id, sentBefore).values()];
      if (deferProcess) {
        expect(persists).toBe(1);
        expect(appends).toEqual([1, 1]);
      } else {
        expect(persists).toBe(10);
        expect(appends).toEqual([10, 10]);
      }
      await sim.run(50, () => link.responses().length === 10);
      expect(link.responses().map((r) => [r.xid, r.err])).toEqual(Array.from({ length: 10 }, (_, i) => [i + 1, 0]));
      expect(new Set([...sim.members.values()].map((m) => m.tree.digest())).size).toBe(1);
    }
  });

  it('snapshots less often as the tree grows: the interval is the configured count or the znode count, whichever is more', async () => {
    expect(snapshotInterval(50_000, 1_000)).toBe(50_000);
    expect(snapshotInterval(50_000, 1_000_000)).toBe(1_000_000);
    const sim = new SimEnsemble([1, 2, 3], { snapshotEveryEntries: 50, compactKeepEntries: 10 });
    await sim.run(100, () => sim.leader() !== undefined);
    const leader = sim.leader()!;
    const { link } = await openSession(sim, leader);
    for (let i = 1; i <= 800; i++) {
      leader.onRequest(link, createReq(i, i, `/n${i}`));
      if (i % 50 === 0) await sim.settle();
    }
    await sim.run(50, () => link.responses().length === 800);
    // Every 50 entries would be 16 snapshots; growing with the tree (50, ~100, ~200, ~400, ~800) about 5.
    for (const id of sim.ids) {
      expect(sim.snapshotsSaved.get(id)).toBeGreaterThanOrEqual(4);
      expect(sim.snapshotsSaved.get(id)).toBeLessThanOrEqual(6);
    }
    expect(leader.lastSnapshot?.znodes).toBeGreaterThanOrEqual(400);
  });

  it('serialises a snapshot over several turns while Raft goes on; what commits meanwhile is applied after, in order', async () => {
    // One chunk per turn; 4 KiB nodes, so the tree at the snapshot spans several 1 MiB chunks.
    const sim = new SimEnsemble([1, 2, 3], { snapshotEveryEntries: 700, snapshotSliceMs: 0, compactKeepEntries: 100, yieldTurns: true });
    await sim.run(100, () => sim.leader() !== undefined);
    const leader = sim.leader()!;
    const { link } = await openSession(sim, leader);
    const data = new Uint8Array(4096).fill(1);
    const create = (i: number): DecodedRequest =>
      ({
        xid: i,
        op: 1,
        name: 'create',
        requestId: i,
        args: { path: `/big${i}`, data, acl: OPEN, mode: CreateMode.PERSISTENT },
      }) as DecodedRequest;
    let xid = 0;
    while (sim.deferredTurns.length === 0 && xid < 1_000) {
      leader.onRequest(link, create(++xid));
      await sim.settle();
    }
    expect(sim.deferredTurns.length).toBeGreaterThan(0);
    // The members are mid-snapshot: their trees are held still at the snapshot's index.
    const held = [...sim.members.values()].map((m) => ({ m, applied: m.appliedIndex, digest: m.tree.digest() }));
    for (let i = 0; i < 20; i++) leader.onRequest(link, create(++xid));
    await sim.run(5);
    for (const { m, applied, digest } of held) {
      expect(m.appliedIndex).toBe(applied);
      expect(m.tree.digest()).toBe(digest);
      // Raft went on: the 20 creates are committed, only their apply waits.
      expect(m.node.status().commit).toBeGreaterThan(applied);
    }
    expect(link.responses()).toHaveLength(xid - 20);
    const turns = await sim.runDeferredTurns();
    expect(turns).toBeGreaterThan(held.length);
    await sim.run(5);
    // Every write answered once, in order; every member at the same state.
    expect(link.responses().map((r) => r.xid)).toEqual(Array.from({ length: xid }, (_, i) => i + 1));
    expect(new Set([...sim.members.values()].map((m) => m.tree.digest())).size).toBe(1);
    // Each saved snapshot is the tree as it was held, not as it is now.
    for (const { m, applied, digest } of held) {
      expect(m.lastSnapshot).toMatchObject({ index: applied });
      const saved = restoreFromChunksSync([sim.storages.get(m.id)!.snapshots.latestData()]);
      expect(saved.digest()).toBe(digest);
    }
  });

  it('elects a leader, opens sessions through any member and applies writes everywhere alike', async () => {
    const sim = new SimEnsemble([1, 2, 3]);
    await sim.run(100, () => sim.leader() !== undefined);
    const follower = [...sim.members.values()].find((m) => !m.isLeader)!;
    const { link } = await openSession(sim, follower);
    for (let i = 1; i <= 20; i++) follower.onRequest(link, createReq(i, i, `/n${i}`));
    // A read pipelined behind the writes sees all of them (answered in order, after them).
    follower.onRequest(link, { xid: 21, op: 8, name: 'getChildren', args: { path: '/' } } as DecodedRequest);
    await sim.run(50, () => link.responses().length === 21);
    const responses = link.responses();
    expect(responses.map((r) => r.xid)).toEqual(Array.from({ length: 21 }, (_, i) => i + 1));
    expect(responses.every((r) => r.err === 0)).toBe(true);
    expect((responses[20]!.res as { children: string[] }).children).toHaveLength(20);
    // Metrics count answered requests by op, with the time each waited.
    expect(follower.counters.requests['create']).toBe(20);
    expect(follower.counters.requests['getChildren']).toBe(1);
    expect(follower.counters.latencyMsSum['create']).toBeGreaterThan(0);
    // Commit latency: the session's creation and the 20 creates, each from arrival here to apply
    // (forwarded to the leader, replicated, applied), on the simulated clock; the leader's clients made none.
    expect(follower.counters.commits).toBe(21);
    expect(follower.counters.commitMsSum).toBeGreaterThan(0);
    expect(sim.leader()?.counters.commits).toBe(0);
    await sim.run(5);
    const digests = new Set([...sim.members.values()].map((m) => m.tree.digest()));
    expect(digests.size).toBe(1);
  });

  it('answers a write retried after a leader crash with its original result, exactly once', async () => {
    const sim = new SimEnsemble([1, 2, 3]);
    await sim.run(100, () => sim.leader() !== undefined);
    const leader = sim.leader()!;
    const { link, sessionId } = await openSession(sim, leader);
    leader.onRequest(link, createReq(1, 1, '/seq-', CreateMode.PERSISTENT_SEQUENTIAL));
    await sim.run(20, () => link.responses().length === 1);
    const first = link.responses()[0]!.res as { path: string };
    sim.crash(leader.id);
    await sim.run(200, () => sim.leader() !== undefined);
    const next = sim.leader()!;
    // The client lost the answer and resumes its session elsewhere, retrying with the same request id.
    const password = (link.frames[0] as { password: Uint8Array }).password;
    const link2 = sim.link();
    next.onConnect(link2, connectRequest({ sessionId, password }));
    await sim.run(20, () => link2.frames.length > 0);
    next.onRequest(link2, createReq(7, 1, '/seq-', CreateMode.PERSISTENT_SEQUENTIAL));
    await sim.run(50, () => link2.responses().length === 1);
    expect(link2.responses()[0]).toMatchObject({ xid: 7, err: 0, res: { path: first.path } });
    expect(next.tree.getChildren('/', []).children.filter((c) => c.startsWith('seq-'))).toEqual([first.path.slice(1)]);
  });

  it('expires a silent session on the leader and deletes its ephemerals on every member', async () => {
    const sim = new SimEnsemble([1, 2, 3]);
    await sim.run(100, () => sim.leader() !== undefined);
    const follower = [...sim.members.values()].find((m) => !m.isLeader)!;
    const { link } = await openSession(sim, follower, 1_000);
    follower.onRequest(link, createReq(1, 1, '/eph', CreateMode.EPHEMERAL));
    await sim.run(20, () => link.responses().length === 1);
    expect([...sim.members.values()].every((m) => m.tree.exists('/eph') !== null)).toBe(true);
    // The session stays alive while it pings (through the follower's liveness batches)...
    for (let i = 0; i < 10; i++) {
      follower.onRequest(link, { xid: -2, op: 11, name: 'ping', args: {} } as DecodedRequest);
      await sim.run(6);
    }
    expect(sim.leader()!.tree.exists('/eph')).not.toBeNull();
    // ...and expires once it falls silent.
    await sim.run(60, () => [...sim.members.values()].every((m) => m.tree.exists('/eph') === null));
    expect(link.frames.some((f) => 'notice' in f && f.notice === 'sessionExpired')).toBe(true);
    expect(link.closed).not.toBeNull();
  });

  it('reaps a container whose reap proposal was refused while this member stayed leader', async () => {
    const sim = new SimEnsemble([1, 2, 3]);
    await sim.run(100, () => sim.leader() !== undefined);
    const leader = sim.leader()!;
    const { link } = await openSession(sim, leader);
    leader.onRequest(link, createReq(1, 1, '/box', CreateMode.CONTAINER));
    leader.onRequest(link, createReq(2, 2, '/box/x'));
    await sim.run(20, () => link.responses().length === 2);
    // A leadership transfer that cannot finish (its target is down) makes Raft refuse every
    // proposal until it times out, an election timeout later; the leader stays leader throughout.
    const target = [...sim.members.values()].find((m) => m !== leader)!.id;
    sim.crash(target);
    leader.onRequest(link, {
      xid: 3,
      op: Ops.delete.code,
      name: 'delete',
      requestId: 3,
      args: { path: '/box/x', version: -1 },
    } as DecodedRequest);
    await sim.settle();
    expect(link.responses()).toHaveLength(3);
    expect(leader.node.transferLeadership(target)).toEqual({ ok: true });
    const refused = leader.counters.proposalsRejected;
    await sim.run(1);
    // The container is due and its reap proposal was refused.
    expect(leader.counters.proposalsRejected).toBeGreaterThan(refused);
    expect(leader.tree.exists('/box')).not.toBeNull();
    await sim.run(100, () => [...sim.members.values()].every((m) => m.tree.exists('/box') === null));
    expect(leader.isLeader).toBe(true);
    // Raft took one reap of /box: refused ones were tried again, none while another was in flight.
    const log = sim.storages.get(leader.id)!.log;
    const reaps = log
      .entries(log.firstIndex(), log.lastIndex() + 1, Infinity)
      .filter((e) => e.type === 'normal')
      .map((e) => decodeLogEntry(e.index, e.data).op)
      .filter((op) => op.type === 'reap' && op.path === '/box');
    expect(reaps).toHaveLength(1);
  });

  it('expires a session whose expiry proposal was refused while this member stayed leader', async () => {
    const sim = new SimEnsemble([1, 2, 3]);
    await sim.run(100, () => sim.leader() !== undefined);
    const leader = sim.leader()!;
    const { sessionId } = await openSession(sim, leader, 1_000);
    // As above: a transfer to a member that is down refuses proposals for an election timeout
    // (10 ticks), and the session's deadline (20 ticks after it opened) falls inside it.
    await sim.run(14);
    const target = [...sim.members.values()].find((m) => m !== leader)!.id;
    sim.crash(target);
    expect(leader.node.transferLeadership(target)).toEqual({ ok: true });
    const refused = leader.counters.proposalsRejected;
    await sim.run(9);
    expect(leader.counters.proposalsRejected).toBeGreaterThan(refused);
    expect(leader.tree.getSession(sessionId)).not.toBeUndefined();
    await sim.run(100, () => [...sim.members.values()].every((m) => m.tree.getSession(sessionId) === undefined));
    expect(leader.isLeader).toBe(true);
  });

  it('setWatches with one-shot and persistent watches: the replay in zxid order, each change once, then the one-shot events it does not cover', async () => {
    const sim = new SimEnsemble([1, 2, 3]);
    await sim.run(100, () => sim.leader() !== undefined);
    const leader = sim.leader()!;
    const { link, sessionId } = await openSession(sim, leader);
    const write = async (req: DecodedRequest): Promise<void> => {
      const answered = link.responses().length;
      leader.onRequest(link, req);
      await sim.run(20, () => link.responses().length === answered + 1);
      expect(link.responses().at(-1)?.err).toBe(0);
    };
    const setData = (xid: number, path: string) =>
      ({ xid, op: Ops.setData.code, name: 'setData', requestId: xid, args: { path, data: null, version: -1 } }) as DecodedRequest;
    await write(createReq(1, 1, '/mix'));
    await write(createReq(2, 2, '/mix/cfg'));
    await write(createReq(3, 3, '/mix/doomed'));
    const lastZxid = leader.appliedIndex;
    // Missed by the client: each would fire one of its one-shot watches, and its recursive watch.
    await write(setData(4, '/mix/cfg'));
    await write(createReq(5, 5, '/mix/later'));
    await write(setData(6, '/mix/cfg'));
    await write({
      xid: 7,
      op: Ops.delete.code,
      name: 'delete',
      requestId: 7,
      args: { path: '/mix/doomed', version: -1 },
    } as DecodedRequest);
    const missed = leader.appliedIndex;

    const password = (link.frames[0] as { password: Uint8Array }).password;
    const again = sim.link();
    leader.onConnect(again, connectRequest({ sessionId, password, lastZxid }));
    await sim.run(20, () => again.frames.length > 0);
    leader.onRequest(again, {
      xid: 8,
      op: Ops.setWatches.code,
      name: 'setWatches',
      args: {
        lastZxid,
        data: ['/mix/cfg', '/mix/doomed'],
        exist: ['/mix/later'],
        child: ['/mix'],
        persistent: [],
        persistentRecursive: ['/mix'],
      },
    } as DecodedRequest);
    await sim.run(5, () => again.responses().length === 1);
    const events = again.frames
      .filter((f) => 'xid' in f && f.xid === XID_WATCH_EVENT)
      .map((f) => f as { zxid: number; type: number; path: string })
      .map((e) => [e.zxid, e.type, e.path]);
    expect(events).toEqual([
      // The replay, with the changes' own zxids: the client fires its one-shot watches from these.
      [lastZxid + 1, EventType.NodeDataChanged, '/mix/cfg'],
      [lastZxid + 2, EventType.NodeCreated, '/mix/later'],
      [lastZxid + 3, EventType.NodeDataChanged, '/mix/cfg'],
      [lastZxid + 4, EventType.NodeDeleted, '/mix/doomed'],
      // A recursive watch hears no NodeChildrenChanged: the child watch's event is sent, last.
      [missed, EventType.NodeChildrenChanged, '/mix'],
    ]);
    expect(again.frames.at(-1)).toMatchObject({ xid: 8, err: 0 });
  });

  it('refuses a reconnect with a wrong password and one to an unknown session', async () => {
    const sim = new SimEnsemble([1, 2, 3]);
    await sim.run(100, () => sim.leader() !== undefined);
    const leader = sim.leader()!;
    const { sessionId } = await openSession(sim, leader);
    const bad = sim.link();
    leader.onConnect(bad, connectRequest({ sessionId, password: new Uint8Array(16) }));
    await sim.run(5, () => bad.frames.length > 0);
    // The same answer as for a session that does not exist: nothing tells a guesser it is live.
    expect(bad.frames[0]).toMatchObject({ err: ErrorCode.SESSIONEXPIRED });
    const gone = sim.link();
    leader.onConnect(gone, connectRequest({ sessionId: 12345, password: new Uint8Array(16) }));
    await sim.run(5, () => gone.frames.length > 0);
    expect(gone.frames[0]).toMatchObject({ err: ErrorCode.SESSIONEXPIRED });
    expect((gone.frames[0] as { message?: string }).message?.replace('0x3039', 'ID')).toBe(
      (bad.frames[0] as { message?: string }).message?.replace(`0x${sessionId.toString(16)}`, 'ID'),
    );
    expect(gone.closed).not.toBeNull();
  });
});
