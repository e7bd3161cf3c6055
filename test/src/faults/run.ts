// One fault run: a real ensemble, a workload, a nemesis, and the checks the issue asks for —
// (1) the history is linearizable, (2) every acknowledged write survives all members being
// killed at once and restarted, (4) the members' state digests agree once faults heal, (5)
// writes retried across connection losses applied once. A failing run keeps its history and its
// members' logs, and prints the command that replays its seed.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ensemble } from '@arbor/testing';
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
  const ensemble = await Ensemble.start({
    members: options.members ?? 3,
    peerMesh: needsMesh(options.faults),
    sessionTimeoutMinMs: 1_000,
    logLevel: 'info',
  });
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
    await Promise.all([
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
    // (2) Every member killed at once, then all restarted: nothing acknowledged may be lost.
    await ensemble.killAll();
    for (const slot of ensemble.slots) await ensemble.restart(slot.id);
    await ensemble.waitForLeader(30_000);
    const afterRestart = await ensemble.waitForConvergence(30_000).catch((e: unknown) => `(${(e as Error).message})`);
    if (digest !== '' && afterRestart !== digest)
      problems.push(`state changed across the restart of every member: ${digest} → ${afterRestart}`);
    await finalReads(ensemble.connectString, keys, recorder);
    // (5) Exactly once.
    problems.push(...(await checkSequentialCreates(ensemble.connectString, workload.sequentialCreated)));
    problems.push(...workload.stats.unexpected.map((m) => `unexpected error: ${m}`));
    // (1) Linearizability over everything, the final reads included.
    const result = checkHistory(recorder.toHistory(), { timeoutMs: 60_000 });
    verdict = result.verdict;
    if (result.verdict !== 'ok') problems.push(`linearizability: ${result.verdict}\n${formatCheckResult(result)}`);
  } catch (error) {
    problems.push(`run aborted: ${(error as Error).stack ?? String(error)}`);
  }

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
  };
  if (!report.passed) {
    const dir = options.outDir ?? join(process.cwd(), 'test', 'faults-out', `${options.scenario}-${options.seed}`);
    mkdirSync(dir, { recursive: true });
    if (recorderBox.recorder !== undefined) await recorderBox.recorder.save(join(dir, 'history.json'));
    for (const slot of ensemble.slots) writeFileSync(join(dir, `member-${slot.id}.log`), slot.log.join(''));
    writeFileSync(join(dir, 'report.json'), JSON.stringify(report, null, 2) + '\n');
    report.keptIn = dir;
  }
  await ensemble.stop();
  return report;
}

/** A failing run's message: what went wrong, where the evidence is, how to replay it. */
export function describeFailure(report: FaultRunReport): string {
  return [
    `fault run ${report.scenario} (seed ${report.seed}) failed:`,
    ...report.problems.map((p) => `- ${p}`),
    `faults: ${report.faults.map((f) => `${f.kind}@${f.target}`).join(', ') || 'none'}`,
    report.keptIn !== undefined ? `history and logs kept in ${report.keptIn}` : '',
    `replay: ${report.replay}`,
  ].join('\n');
}
