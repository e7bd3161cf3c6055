// One randomized simulation run: options drawn from the seed, a fault phase (crashes, partitions,
// lossy network, membership changes, leadership transfers, snapshots, reads and writes), then a
// healed phase that must converge within a virtual-time budget. Same seed, same run.

import { SeededRandom } from '../random.js';
import type { NodeId } from '../types.js';
import { SafetyViolation } from './checker.js';
import { SimCluster, type ClusterOptions, type ClusterStats } from './cluster.js';
import { CALM_NETWORK, type NetworkFaults } from './network.js';

export interface SimulationOptions {
  /** Virtual milliseconds of faults. Default drawn from the seed in [2000, 5000]. */
  readonly faultPhaseMs?: number;
  /** Virtual milliseconds the healed cluster has to converge. Default 30000. */
  readonly healBudgetMs?: number;
  /** Capture debug log lines for the failure report. Default false (faster). */
  readonly captureLogs?: boolean;
  /** Log lines kept in logTail when captureLogs. Default 60. */
  readonly logTailLines?: number;
}

export interface SimulationResult {
  readonly seed: number;
  readonly ok: boolean;
  /** The violated property or the thrown error, when not ok. */
  readonly error: string | null;
  readonly description: string;
  readonly virtualMs: number;
  readonly stats: ClusterStats & { readsChecked: number; maxCommitted: number; checks: number };
  /** Last log lines before the failure (when captureLogs). */
  readonly logTail: readonly string[];
}

interface Scenario {
  readonly cluster: ClusterOptions;
  readonly faults: NetworkFaults;
  readonly actionEveryMs: number;
  readonly universe: readonly NodeId[];
}

function drawScenario(seed: number, captureLogs: boolean): Scenario {
  const r = new SeededRandom(seed ^ 0x5eed);
  const voterCount = r.chance(0.5) ? 3 : 5;
  const voters = Array.from({ length: voterCount }, (_, i) => i + 1);
  const spares = [voterCount + 1, voterCount + 2];
  const preVote = r.chance(0.8);
  const checkQuorum = r.chance(0.8);
  const electionTimeoutTicks = r.between(8, 14);
  const cluster: ClusterOptions = {
    seed,
    voters,
    spares,
    tickMs: 10,
    tickDriftRatio: r.chance(0.5) ? 0.05 : 0,
    tuning: {
      electionTimeoutTicks,
      heartbeatIntervalTicks: r.between(1, 3),
      preVote,
      checkQuorum,
      readOnlyMode: checkQuorum && r.chance(0.3) ? 'lease' : 'safe',
      maxEntriesPerAppend: r.pick([1, 4, 64]),
      maxBytesPerAppend: r.pick([64, 1024, 1 << 20]),
      maxInflightAppends: r.pick([1, 4, 64]),
      snapshotChunkBytes: r.pick([32, 100, 4096]),
      maxInflightSnapshotChunks: r.pick([1, 2, 8]),
    },
    asyncWrites: r.chance(0.7),
    fsyncMinMs: 0.5,
    fsyncMaxMs: r.pick([2, 8, 20, 60]),
    snapshotEveryEntries: r.pick([0, 10, 30, 100]),
    compactKeepEntries: r.pick([0, 5, 20]),
    snapshotPaddingBytes: r.between(0, 400),
    captureLogs,
  };
  const faults: NetworkFaults = {
    dropRate: r.pick([0, 0.01, 0.05, 0.15]),
    duplicateRate: r.pick([0, 0.02, 0.1]),
    minDelayMs: 0.5,
    maxDelayMs: r.pick([2, 5, 15]),
    slowRate: r.pick([0, 0.01, 0.05]),
  };
  return { cluster, faults, actionEveryMs: r.pick([5, 15, 40]), universe: [...voters, ...spares] };
}

function describe(s: Scenario): string {
  const t = s.cluster.tuning;
  return [
    `voters=${s.cluster.voters.length}`,
    `preVote=${t.preVote}`,
    `checkQuorum=${t.checkQuorum}`,
    `reads=${t.readOnlyMode}`,
    `async=${s.cluster.asyncWrites}`,
    `snapEvery=${s.cluster.snapshotEveryEntries}`,
    `drop=${s.faults.dropRate}`,
    `dup=${s.faults.duplicateRate}`,
    `delay<=${s.faults.maxDelayMs}ms`,
  ].join(' ');
}

export function runSimulation(seed: number, options: SimulationOptions = {}): SimulationResult {
  const scenario = drawScenario(seed, options.captureLogs ?? false);
  const cluster = new SimCluster(scenario.cluster);
  const r = new SeededRandom(seed ^ 0xfa17);
  const faultPhaseMs = options.faultPhaseMs ?? r.between(2000, 5000);
  const healBudgetMs = options.healBudgetMs ?? 30000;
  let error: string | null = null;
  try {
    cluster.network.faults = scenario.faults;
    for (let t = 0; t < faultPhaseMs; t += scenario.actionEveryMs) {
      cluster.runUntil(t);
      randomAction(cluster, r, scenario);
    }
    heal(cluster, scenario);
    const converged = convergeAfterHeal(cluster, cluster.nowMs + healBudgetMs);
    if (converged !== null) throw new SafetyViolation(`no progress after healing: ${converged}`);
    cluster.checker.checkAcknowledgedSurvive();
  } catch (e) {
    error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  }
  return {
    seed,
    ok: error === null,
    error,
    description: describe(scenario),
    virtualMs: Math.round(cluster.nowMs),
    stats: {
      ...cluster.stats,
      readsChecked: cluster.checker.readsChecked,
      maxCommitted: cluster.checker.maxCommitted,
      checks: cluster.checker.checks,
    },
    logTail: cluster.logTail(options.logTailLines ?? 60),
  };
}

function randomAction(cluster: SimCluster, r: SeededRandom, s: Scenario): void {
  const roll = r.nextFloat();
  const running = cluster.running();
  const anyone = running.length > 0 ? r.pick(running) : null;
  if (roll < 0.45) {
    const target = preferLeader(cluster, r);
    if (target !== null) cluster.proposeWrite(target, r.between(1, 100));
  } else if (roll < 0.65) {
    if (anyone !== null) cluster.readIndex(anyone.id);
  } else if (roll < 0.7) {
    // Leaders hold the most unpersisted state (thesis §10.2.1 overlap): crash them often.
    const leader = cluster.leader();
    const victim = leader !== null && r.chance(0.5) ? leader.id : r.pick(s.universe);
    if (!cluster.member(victim).running) return;
    if (r.chance(0.2) && mayWipe(cluster, victim)) cluster.wipe(victim);
    else cluster.crash(victim);
  } else if (roll < 0.76) {
    const down = s.universe.filter((id) => !cluster.member(id).running && hasState(cluster, id));
    if (down.length > 0) cluster.start(r.pick(down));
  } else if (roll < 0.8) {
    partitionRandomly(cluster, r, s.universe);
  } else if (roll < 0.84) {
    cluster.network.heal();
  } else if (roll < 0.9) {
    changeMembership(cluster, r, s);
  } else if (roll < 0.93) {
    const leader = cluster.leader();
    if (leader !== null) {
      const voters = leader.node?.status().confState.voters ?? [];
      cluster.transferLeadership(leader.id, r.pick(voters));
    }
  } else if (roll < 0.95) {
    cluster.network.faults = r.chance(0.5) ? CALM_NETWORK : s.faults;
  }
}

/**
 * Whether wiping `id` stays within the faults Raft tolerates: it is a founder (a wiped member
 * bootstraps with the founding configuration), and every other member still has the storage
 * it was caught up with — losing two members' storage is losing a quorum's memory.
 */
function mayWipe(cluster: SimCluster, id: NodeId): boolean {
  if (!cluster.options.voters.includes(id)) return false;
  for (const m of cluster.members.values()) if (m.id !== id && m.rejoinGuard !== null) return false;
  return true;
}

/** Members that ever ran (spares that never joined have nothing to restart). */
function hasState(cluster: SimCluster, id: NodeId): boolean {
  return cluster.member(id).incarnation > 0;
}

/** Clients mostly find the leader; sometimes they ask a follower and get refused. */
function preferLeader(cluster: SimCluster, r: SeededRandom): NodeId | null {
  const leader = cluster.leader();
  if (leader !== null && r.chance(0.9)) return leader.id;
  const running = cluster.running();
  return running.length > 0 ? r.pick(running).id : null;
}

function partitionRandomly(cluster: SimCluster, r: SeededRandom, universe: readonly NodeId[]): void {
  cluster.network.heal();
  const side = universe.filter(() => r.chance(0.4));
  const rest = universe.filter((id) => !side.includes(id));
  if (side.length > 0 && rest.length > 0) cluster.network.partition(side, rest);
}

/** Adds a learner, promotes one, or removes a member, keeping 3..5 voters. */
function changeMembership(cluster: SimCluster, r: SeededRandom, s: Scenario): void {
  const leader = cluster.leader();
  if (leader === null || leader.node === null) return;
  const conf = leader.node.status().confState;
  const outside = s.universe.filter((id) => !conf.voters.includes(id) && !conf.learners.includes(id));
  const options: (() => void)[] = [];
  if (outside.length > 0) {
    options.push(() => {
      const id = r.pick(outside);
      if (!cluster.member(id).running) cluster.start(id);
      cluster.proposeConfChange(leader.id, { type: 'addLearner', memberId: id, context: new Uint8Array(0) });
    });
  }
  if (conf.learners.length > 0 && conf.voters.length < 5) {
    options.push(() =>
      cluster.proposeConfChange(leader.id, { type: 'addVoter', memberId: r.pick(conf.learners), context: new Uint8Array(0) }),
    );
  }
  if (conf.voters.length > 3 || conf.learners.length > 0) {
    const removable = conf.voters.length > 3 ? [...conf.voters, ...conf.learners] : [...conf.learners];
    options.push(() =>
      cluster.proposeConfChange(leader.id, { type: 'removeMember', memberId: r.pick(removable), context: new Uint8Array(0) }),
    );
  }
  if (options.length > 0) r.pick(options)();
}

/** Ends the fault phase: a calm, fully connected network; members of the configuration running. */
function heal(cluster: SimCluster, s: Scenario): void {
  cluster.network.heal();
  cluster.network.faults = CALM_NETWORK;
  for (const id of s.universe) {
    const m = cluster.member(id);
    if (!m.running && hasState(cluster, id)) cluster.start(id);
  }
}

/** Operators shut down members once their removal has committed (they would only campaign). */
function stopRemovedMembers(cluster: SimCluster, conf: { voters: readonly NodeId[]; learners: readonly NodeId[] }): void {
  for (const m of cluster.running()) if (!conf.voters.includes(m.id) && !conf.learners.includes(m.id)) cluster.crash(m.id);
}

/**
 * After healing, a leader must emerge and commit a fresh write, and every member of its
 * configuration must apply it and reach the same state. Returns null on success, else why not.
 */
function convergeAfterHeal(cluster: SimCluster, deadlineMs: number): string | null {
  let marker: { index: number; term: number } | null = null;
  let nextProposalMs = cluster.nowMs;
  const done = (): boolean => {
    const leader = cluster.leader();
    if (leader === null || leader.node === null) return false;
    const status = leader.node.status();
    const members = [...status.confState.voters, ...status.confState.learners];
    // A partitioned, deposed leader may still think it leads: act only on a current one.
    const current = cluster.running().every((m) => !members.includes(m.id) || (m.node?.status().term ?? 0) <= status.term);
    if (!current) return false;
    if (status.confIndex <= status.commit) stopRemovedMembers(cluster, status.confState);
    for (const id of members) if (!cluster.member(id).running) cluster.start(id);
    if (marker === null || leader.node.logTerm(marker.index) !== marker.term) {
      if (cluster.nowMs < nextProposalMs) return false;
      nextProposalMs = cluster.nowMs + 200;
      const result = cluster.proposeWrite(leader.id, 1);
      marker = result.ok ? { index: result.index, term: result.term } : null;
      return false;
    }
    const hash = cluster.checker.stateHashAt(marker.index);
    if (hash === undefined || status.commit < marker.index) return false;
    for (const id of [...status.confState.voters, ...status.confState.learners]) {
      const sm = cluster.member(id).sm;
      if (sm === null || sm.appliedIndex < marker.index) return false;
    }
    return true;
  };
  if (cluster.runUntilCondition(done, deadlineMs)) return null;
  const leader = cluster.leader();
  const states = [...cluster.members.values()]
    .map(
      (m) =>
        `${m.id}:${m.node ? `${m.node.status().role}/t${m.node.status().term}/c${m.node.status().commit}/a${m.sm?.appliedIndex}` : 'down'}`,
    )
    .join(' ');
  return `leader=${leader?.id ?? 'none'} marker=${marker === null ? 'none' : `${(marker as { index: number }).index}`} ${states}`;
}
