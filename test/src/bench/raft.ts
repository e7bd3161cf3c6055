// Raft-core benchmark (issue 4), in the deterministic simulator (@arbor/raft/sim), so the
// figures are the algorithm's, not the machine's: (1) simulated milliseconds from the crash of a
// leader to a new leader, over many seeds, with the server's default timing (50 ms ticks,
// election timeout 10 ticks, heartbeat 1 tick, pre-vote and check-quorum on, 1–3 ms links,
// 1–5 ms fsyncs); (2) entries per second of wall time through three cores and the simulator,
// which bounds what the core costs a member per committed entry; (3) entries per second through
// the cores alone: RawNodes wired to each other by a synchronous in-memory loop (no simulator,
// no disk, no network, no checker), what consensus itself costs per entry.
import { RawNode, SeededRandom, bootstrapEntries, createMemoryStorage, type Message, type NodeId } from '@arbor/raft';
import { SimCluster, type ClusterOptions } from '@arbor/raft/sim';

const SEEDS = Number(process.env['ARBOR_BENCH_RAFT_SEEDS'] ?? 300);
const WRITES = Number(process.env['ARBOR_BENCH_RAFT_WRITES'] ?? 50_000);

function options(seed: number, members = 3): ClusterOptions {
  return {
    seed,
    voters: Array.from({ length: members }, (_, i) => i + 1),
    spares: [],
    tickMs: 50,
    tickDriftRatio: 0.01,
    tuning: { electionTimeoutTicks: 10, heartbeatIntervalTicks: 1 },
    asyncWrites: true,
    fsyncMinMs: 1,
    fsyncMaxMs: 5,
    snapshotEveryEntries: 10_000,
    compactKeepEntries: 1_000,
    snapshotPaddingBytes: 0,
    captureLogs: false,
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
}

function electionAfterCrash(seed: number, members: number): number {
  const cluster = new SimCluster(options(seed, members));
  if (!cluster.runUntilCondition(() => cluster.leader() !== null, 30_000)) throw new Error(`seed ${seed}: no first leader`);
  // Let the leader settle (heartbeats flowing), then crash it.
  cluster.runUntil(cluster.nowMs + 1_000);
  const leader = cluster.leader();
  if (leader === null) throw new Error(`seed ${seed}: no leader to crash`);
  cluster.crash(leader.id);
  const crashedAt = cluster.nowMs;
  const elected = cluster.runUntilCondition(() => {
    const l = cluster.leader();
    return l !== null && l.id !== leader.id;
  }, crashedAt + 30_000);
  if (!elected) throw new Error(`seed ${seed}: no new leader within 30 s`);
  return cluster.nowMs - crashedAt;
}

function throughput(members: number): { members: number; entries: number; wallMs: number; entriesPerSec: number } {
  const cluster = new SimCluster(options(1, members));
  if (!cluster.runUntilCondition(() => cluster.leader() !== null, 30_000)) throw new Error('no leader');
  const start = performance.now();
  let proposed = 0;
  while (proposed < WRITES) {
    const leader = cluster.leader();
    if (leader === null) {
      cluster.runUntil(cluster.nowMs + 10);
      continue;
    }
    // Batches of 100 per simulated millisecond: the core sees what a busy member's turn brings.
    for (let i = 0; i < 100 && proposed < WRITES; i++, proposed++) cluster.proposeWrite(leader.id, 1);
    cluster.runUntil(cluster.nowMs + 1);
  }
  cluster.runUntilCondition(() => cluster.stats.writesAcked >= WRITES, cluster.nowMs + 60_000);
  const wallMs = performance.now() - start;
  return {
    members,
    entries: cluster.stats.writesAcked,
    wallMs: Math.round(wallMs),
    entriesPerSec: Math.round((cluster.stats.writesAcked / wallMs) * 1000),
  };
}

/**
 * The cores alone: every member's Ready is persisted to memory at once and its messages are
 * delivered in order by one loop; the leader gets batches of 100 proposals (a busy turn).
 * Counts the normal entries the leader hands out as committed.
 */
function coreAlone(members: number): { members: number; entries: number; wallMs: number; entriesPerSec: number } {
  const ids: NodeId[] = Array.from({ length: members }, (_, i) => i + 1);
  const { entries: founding, hardState } = bootstrapEntries(ids);
  const nodes = new Map<NodeId, RawNode>();
  const storages = new Map<NodeId, ReturnType<typeof createMemoryStorage>>();
  for (const id of ids) {
    const storage = createMemoryStorage();
    storage.log.append(founding);
    storage.stable.saveHardState(hardState);
    storages.set(id, storage);
    nodes.set(id, new RawNode({ id, storage, random: new SeededRandom(id), electionTimeoutTicks: 10, heartbeatIntervalTicks: 1 }));
  }
  const queue: Message[] = [];
  let committed = 0;
  // Member 1 campaigns first and leads throughout.
  const LEADER: NodeId = 1;
  const drain = (id: NodeId): void => {
    const node = nodes.get(id) as RawNode;
    while (node.hasReady()) {
      const rd = node.ready();
      for (const m of rd.messages) queue.push(m);
      const storage = storages.get(id) as ReturnType<typeof createMemoryStorage>;
      storage.log.append(rd.entries);
      if (rd.hardState !== null) storage.stable.saveHardState(rd.hardState);
      if (id === LEADER) for (const e of rd.committedEntries) if (e.type === 'normal') committed++;
      node.advance(rd);
      if (rd.persistMark !== null) node.onPersisted(rd.persistMark);
    }
  };
  const deliverAll = (): void => {
    for (let i = 0; i < queue.length; i++) {
      const m = queue[i] as Message;
      (nodes.get(m.to) as RawNode).step(m);
      drain(m.to);
    }
    queue.length = 0;
  };
  (nodes.get(1) as RawNode).campaign();
  drain(1);
  for (let round = 0; round < 10 && nodes.get(1)?.status().role !== 'leader'; round++) deliverAll();
  if (nodes.get(1)?.status().role !== 'leader') throw new Error('core alone: no leader');
  deliverAll();
  committed = 0;
  const leader = nodes.get(1) as RawNode;
  const data = new Uint8Array(100);
  const start = performance.now();
  while (committed < WRITES) {
    for (let i = 0; i < 100; i++) if (!leader.propose(data).ok) throw new Error('core alone: proposal refused');
    drain(1);
    deliverAll();
  }
  const wallMs = performance.now() - start;
  return { members, entries: committed, wallMs: Math.round(wallMs), entriesPerSec: Math.round((committed / wallMs) * 1000) };
}

const elections = [3, 5].map((members) => {
  const times: number[] = [];
  for (let seed = 1; seed <= SEEDS; seed++) times.push(electionAfterCrash(seed, members));
  times.sort((a, b) => a - b);
  return {
    members,
    seeds: SEEDS,
    p50Ms: Math.round(percentile(times, 0.5)),
    p99Ms: Math.round(percentile(times, 0.99)),
    maxMs: Math.round(times[times.length - 1] ?? 0),
  };
});
const core = [3, 5].map((members) => throughput(members));
const alone = [3, 5].map((members) => coreAlone(members));
console.table(elections.map((e) => ({ bench: 'new leader after a leader crash (simulated ms)', ...e })));
console.table(core.map((c) => ({ bench: 'cores + simulator, wall time', ...c })));
console.table(alone.map((c) => ({ bench: 'cores alone, wall time', ...c })));
console.log(JSON.stringify({ bench: 'raft', elections, core, alone }));
