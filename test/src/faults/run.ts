// One fault run: a real ensemble, a workload, a nemesis, and the checks the issue asks for —
// (1) the history is linearizable, (2) every acknowledged write survives all members being
// killed at once and restarted, (4) the members' state digests agree once faults heal, (5)
// writes retried across connection losses applied once. A failing run keeps its history and its
// members' logs, and prints the command that replays its seed.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ensemble, type UnexpectedExit } from '@arbor/testing';
import { HistoryRecorder, checkHistory, formatCheckResult, type CheckResult } from '../linearizability/index.js';
import { connect } from '@arbor/client';
import { Nemesis, needsMesh, type FaultKind, type FaultRecord } from './nemesis.js';
import { Rng } from './random.js';
import { LockWorkload, overlaps, tokensOutOfOrder } from './lock-workload.js';
import { RegisterWorkload, checkSequentialCreates, finalReads, setupRegisters, type WorkloadStats } from './register-workload.js';

export interface FaultRunOptions {
  /** A name for reports and the replay command. */
  scenario: string;
  faults: readonly FaultKind[];
  seed: number;
  /** How long the workload runs under faults. */
  durationMs: number;
  members?: 3 | 5;
  clients?: number;
  keys?: number;
  sessionTimeoutMs?: number;
  /** Also run lock and election contenders (this many sessions) and check (3): one holder, one leader. */
  lockContenders?: number;
  /** Where a failing run leaves its history and logs. Default: test/faults-out/<scenario>-<seed>. */
  outDir?: string;
  log?: (message: string) => void;
}

export interface FaultRunReport {
  scenario: string;
  seed: number;
  passed: boolean;
  problems: string[];
  faults: FaultRecord[];
  workload: WorkloadStats;
  operations: number;
  /** With lockContenders: grants of the lock and of leadership seen. */
  lockGrants?: number;
  leaderships?: number;
  linearizability: CheckResult['verdict'];
  digest: string;
  replay: string;
  /** Set when the run failed: where its history and logs are. */
  keptIn?: string;
  /** How long each phase of the run took, in ms, in order: a slow or stuck phase shows here. */
  phases: Record<string, number>;
}

/** How long the workload may take to stop once its time is up (its calls finish or time out). */
const STOP_GRACE_MS = 60_000;
/** How long the ensemble may take to shut down (members killed, proxies closed). */
const SHUTDOWN_MS = 30_000;

/** Resolves true if `promise` settles within `ms` (its rejection is rethrown), false if not. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true as const), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** What a member that ended by itself left behind, for the report. */
function describeExit(exit: UnexpectedExit): string {
  const how = exit.signal !== null ? `signal ${exit.signal}` : `code ${exit.code}`;
  const tail = exit.logTail.trimEnd().split('\n').slice(-12).join('\n');
  return `member ${exit.id} exited by itself (${how}); its last log lines:\n${tail}`;
}

export function replayCommand(options: Pick<FaultRunOptions, 'scenario' | 'seed' | 'durationMs'>): string {
  return `npm run test:faults -- --scenario ${options.scenario} --seed ${options.seed} --duration ${Math.round(options.durationMs / 1000)}`;
}

export async function runFaults(options: FaultRunOptions): Promise<FaultRunReport> {
  const log = options.log ?? (() => {});
  const sessionTimeoutMs = options.sessionTimeoutMs ?? 4_000;
  const keys = options.keys ?? 6;
  const rng = new Rng(options.seed);
  const problems: string[] = [];
  const phases: Record<string, number> = {};
  let phaseStart = performance.now();
  const phaseDone = (name: string): void => {
    const now = performance.now();
    phases[name] = Math.round(now - phaseStart);
    log(`${name}: ${phases[name]} ms`);
    phaseStart = now;
  };
  const ensemble = await Ensemble.start({
    members: options.members ?? 3,
    peerMesh: needsMesh(options.faults),
    sessionTimeoutMinMs: 1_000,
    logLevel: 'info',
  });
  phaseDone('start');
  const recorderBox: { recorder?: HistoryRecorder } = {};
  let workload: RegisterWorkload | undefined;
  const locksBox: { locks?: LockWorkload | undefined } = {};
  let faults: FaultRecord[] = [];
  let verdict: CheckResult['verdict'] = 'unknown';
  let digest = '';
  try {
    const setup = await connect(ensemble.connectString, { sessionTimeoutMs: 10_000 });
    const initial = await setupRegisters(setup, keys);
    await setup.close();
    const recorder = new HistoryRecorder({ initial });
    recorderBox.recorder = recorder;
    workload = new RegisterWorkload(
      {
        connectString: ensemble.connectString,
        clients: options.clients ?? 6,
        keys,
        sessionTimeoutMs,
        requestTimeoutMs: 3_000,
        rng: rng.fork(100),
        log,
      },
      recorder,
    );
    const locks =
      options.lockContenders === undefined
        ? undefined
        : new LockWorkload({
            connectString: ensemble.connectString,
            contenders: options.lockContenders,
            sessionTimeoutMs,
            lockPath: '/locks/fault-run',
            electionPath: '/election/fault-run',
            rng: rng.fork(300),
            log,
          });
    locksBox.locks = locks;
    const nemesis = new Nemesis(ensemble, rng.fork(200), { kinds: options.faults, sessionTimeoutMs, log });
    const endAt = performance.now() + options.durationMs;
    const timeUp = (): boolean => performance.now() >= endAt;
    let nemesisError: unknown;
    const running = Promise.all([
      workload.run(timeUp),
      locks?.run(timeUp),
      nemesis.run(timeUp).then(
        (records) => (faults = records),
        (error: unknown) => {
          nemesisError = error;
          faults = nemesis.faults;
        },
      ),
    ]);
    if (!(await settlesWithin(running, options.durationMs + STOP_GRACE_MS))) {
      // The checks below still run on what was recorded; whatever is stuck is named here.
      faults = nemesis.faults;
      problems.push([`the workload did not stop within ${STOP_GRACE_MS / 1000} s of its end`, ...(locks?.activity() ?? [])].join('\n  '));
    }
    phaseDone('workload');
    if (nemesisError !== undefined) problems.push(`the ensemble did not recover: ${(nemesisError as Error).message}`);
    log(`workload done: ${JSON.stringify(workload.stats)}; ${faults.length} faults`);
    if (locks !== undefined) {
      // (3) Never two holders of the lock, never two leaders, fencing tokens in grant order.
      problems.push(...overlaps(locks.lockHolds, 'two lock holders'), ...tokensOutOfOrder(locks.lockHolds));
      problems.push(...overlaps(locks.leaderships, 'two leaders'));
      if (locks.lockHolds.length === 0) problems.push('the lock was never granted');
      if (locks.leaderships.length === 0) problems.push('nobody was ever elected');
      log(`locks: ${locks.lockHolds.length} grants, ${locks.leaderships.length} leaderships, ${locks.acquireFailures} acquire timeouts`);
    }

    // (4) Faults healed, load stopped: every member must reach the same state.
    try {
      digest = await ensemble.waitForConvergence(30_000);
    } catch (error) {
      problems.push(`members did not converge: ${(error as Error).message}`);
    }
    phaseDone('convergence');
    // (2) Every member killed at once, then all restarted: nothing acknowledged may be lost.
    await ensemble.killAll();
    for (const slot of ensemble.slots) await ensemble.restart(slot.id);
    await ensemble.waitForLeader(30_000);
    const afterRestart = await ensemble.waitForConvergence(30_000).catch((e: unknown) => `(${(e as Error).message})`);
    if (digest !== '' && afterRestart !== digest)
      problems.push(`state changed across the restart of every member: ${digest} → ${afterRestart}`);
    phaseDone('restart of every member');
    await finalReads(ensemble.connectString, keys, recorder);
    // (5) Exactly once.
    problems.push(...(await checkSequentialCreates(ensemble.connectString, workload.sequentialCreated)));
    problems.push(...workload.stats.unexpected.map((m) => `unexpected error: ${m}`));
    phaseDone('final reads');
    // (1) Linearizability over everything, the final reads included.
    const result = checkHistory(recorder.toHistory(), { timeoutMs: 60_000 });
    verdict = result.verdict;
    if (result.verdict !== 'ok') problems.push(`linearizability: ${result.verdict}\n${formatCheckResult(result)}`);
    phaseDone('linearizability check');
  } catch (error) {
    problems.push(`run aborted: ${(error as Error).stack ?? String(error)}`);
  }
  // A member that crashed is a failure whatever else held, and the first thing to read.
  problems.unshift(...ensemble.unexpectedExits().map(describeExit));
  const stopped = ensemble.stop().catch((error: unknown) => problems.push(`the ensemble failed to shut down: ${String(error)}`));
  if (!(await settlesWithin(stopped, SHUTDOWN_MS))) problems.push(`the ensemble did not shut down within ${SHUTDOWN_MS / 1000} s`);
  phaseDone('shutdown');

  const report: FaultRunReport = {
    scenario: options.scenario,
    seed: options.seed,
    passed: problems.length === 0,
    problems,
    faults,
    workload: workload?.stats ?? { ok: 0, indefinite: 0, unexpected: [], sessionsLost: 0 },
    operations: recorderBox.recorder?.size ?? 0,
    ...(locksBox.locks !== undefined
      ? { lockGrants: locksBox.locks.lockHolds.length, leaderships: locksBox.locks.leaderships.length }
      : {}),
    linearizability: verdict,
    digest,
    replay: replayCommand(options),
    phases,
  };
  if (!report.passed) {
    const dir = options.outDir ?? join(process.cwd(), 'test', 'faults-out', `${options.scenario}-${options.seed}`);
    mkdirSync(dir, { recursive: true });
    if (recorderBox.recorder !== undefined) await recorderBox.recorder.save(join(dir, 'history.json'));
    for (const slot of ensemble.slots) writeFileSync(join(dir, `member-${slot.id}.log`), slot.log.join(''));
    writeFileSync(join(dir, 'report.json'), JSON.stringify(report, null, 2) + '\n');
    report.keptIn = dir;
  }
  return report;
}

/** A failing run's message: what went wrong, where the evidence is, how to replay it. */
export function describeFailure(report: FaultRunReport): string {
  return [
    `fault run ${report.scenario} (seed ${report.seed}) failed:`,
    ...report.problems.map((p) => `- ${p}`),
    `faults: ${report.faults.map((f) => `${f.kind}@${f.target}`).join(', ') || 'none'}`,
    `phases (ms): ${Object.entries(report.phases)
      .map(([name, ms]) => `${name} ${ms}`)
      .join(', ')}`,
    report.keptIn !== undefined ? `history and logs kept in ${report.keptIn}` : '',
    `replay: ${report.replay}`,
  ].join('\n');
}
