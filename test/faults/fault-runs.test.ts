// Short fault runs for CI: a real 3-member ensemble under one kind of fault at a time while
// sessions write, compare-and-set, read linearizably and create sequential nodes (and, in the
// last run, contend for a lock and an election). Each run checks linearizability, durability
// across the kill of every member, convergence of the state digests and exactly-once writes;
// see test/src/faults/run.ts. Long runs: `npm run test:faults -- --duration 600`.
// ARBOR_FAULT_SEED replays a failing run's seed here.

import { describe, expect, it } from 'vitest';
import { describeFailure, runFaults, type FaultRunOptions } from '../src/faults/run.js';

const SEED = Number(process.env['ARBOR_FAULT_SEED'] ?? 20261207);
const DURATION_MS = 20_000;
// Above the sum of runFaults' own bounds (the workload's stop, convergence, restarts, the
// checker, the shutdown), so that a run that goes wrong reports what went wrong instead of
// being cut off by vitest with nothing said.
const TEST_TIMEOUT_MS = 400_000;

async function passes(options: Omit<FaultRunOptions, 'seed' | 'durationMs'>): Promise<void> {
  const report = await runFaults({ ...options, seed: SEED, durationMs: DURATION_MS });
  expect(report.passed, describeFailure(report)).toBe(true);
  // The run did something: faults were applied and operations answered through them.
  expect(report.faults.length).toBeGreaterThan(0);
  expect(report.workload.ok).toBeGreaterThan(100);
  expect(report.linearizability).toBe('ok');
}

describe('fault runs on a 3-member ensemble', () => {
  it(
    'crashes: kill -9 of the leader or a follower, a follower with its disk wiped',
    async () => {
      await passes({ scenario: 'crashes', faults: ['kill-leader', 'kill-follower', 'wipe-follower'] });
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'network: partitions of the leader and of a follower, a one-way link, slow links',
    async () => {
      await passes({ scenario: 'network', faults: ['partition-leader', 'partition-follower', 'one-way-leader', 'slow-links'] });
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'pauses: SIGSTOP shorter and longer than the session timeout',
    async () => {
      await passes({ scenario: 'pauses', faults: ['pause-short', 'pause-long'] });
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'locks and leadership: never two holders or two leaders under every fault',
    async () => {
      const report = await runFaults({
        scenario: 'locks',
        faults: ['kill-leader', 'kill-follower', 'pause-short', 'pause-long', 'partition-leader', 'partition-follower', 'one-way-leader'],
        seed: SEED,
        durationMs: DURATION_MS,
        lockContenders: 4,
      });
      expect(report.passed, describeFailure(report)).toBe(true);
      expect(report.lockGrants).toBeGreaterThan(20);
      expect(report.leaderships).toBeGreaterThan(1);
    },
    TEST_TIMEOUT_MS,
  );
});
