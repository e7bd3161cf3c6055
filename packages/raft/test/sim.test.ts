// Randomized whole-cluster simulation over many seeds (src/sim/workload.ts). A failing seed
// prints the command that replays it with full debug logs:
//   RAFT_SEED=<seed> npx vitest run packages/raft/test/sim.test.ts
// RAFT_SEEDS=<n> (default 300) and RAFT_SEED_FROM=<first> widen the sweep; for thousands of
// seeds use the soak entry: node packages/raft/dist/sim/soak.js --seeds 10000.
import { describe, expect, it } from 'vitest';
import { runSimulation, type SimulationResult } from '@arbor/raft/sim';

const replaySeed = process.env.RAFT_SEED === undefined ? null : Number(process.env.RAFT_SEED);
const seedCount = Number(process.env.RAFT_SEEDS ?? 300);
const firstSeed = Number(process.env.RAFT_SEED_FROM ?? 1);

function report(result: SimulationResult): string {
  return [
    `seed ${result.seed} failed (${result.description}) after ${result.virtualMs} virtual ms:`,
    `  ${result.error}`,
    `  replay: RAFT_SEED=${result.seed} npx vitest run packages/raft/test/sim.test.ts`,
    ...result.logTail.map((l) => `    ${l}`),
  ].join('\n');
}

describe('raft simulator', () => {
  if (replaySeed !== null) {
    it(`replays seed ${replaySeed}`, () => {
      const result = runSimulation(replaySeed, { captureLogs: true });
      if (!result.ok) console.error(report(result));
      expect(result.error).toBeNull();
    });
    return;
  }

  it(`keeps every safety property and converges after healing, seeds ${firstSeed}..${firstSeed + seedCount - 1}`, () => {
    const failures: SimulationResult[] = [];
    const totals = {
      elections: 0,
      writesAcked: 0,
      readsChecked: 0,
      snapshotsInstalled: 0,
      confChanges: 0,
      transfers: 0,
      crashes: 0,
      wipes: 0,
    };
    for (let seed = firstSeed; seed < firstSeed + seedCount; seed++) {
      const result = runSimulation(seed);
      for (const key of Object.keys(totals) as (keyof typeof totals)[]) totals[key] += result.stats[key];
      if (!result.ok) failures.push(runSimulation(seed, { captureLogs: true }));
    }
    for (const failure of failures) console.error(report(failure));
    expect(failures.map((f) => `seed ${f.seed}: ${f.error}`)).toEqual([]);
    // The workload must actually exercise what it claims to check.
    expect(totals.elections).toBeGreaterThan(seedCount);
    expect(totals.writesAcked).toBeGreaterThan(10 * seedCount);
    expect(totals.readsChecked).toBeGreaterThan(5 * seedCount);
    expect(totals.snapshotsInstalled).toBeGreaterThan(0);
    expect(totals.confChanges).toBeGreaterThan(seedCount);
    expect(totals.transfers).toBeGreaterThan(seedCount);
    expect(totals.crashes).toBeGreaterThan(seedCount);
    expect(totals.wipes).toBeGreaterThan(seedCount / 10);
  }, 120_000);

  it('replays a seed exactly', () => {
    const a = runSimulation(42);
    const b = runSimulation(42);
    expect(b).toEqual(a);
  });
});
