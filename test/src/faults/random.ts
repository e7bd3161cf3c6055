// A seeded random source, so that a fault run's schedule and workload choices replay from its
// seed. (The real processes' timing does not replay; the seed narrows a failure down to the
// same faults at the same moments, which is usually enough to reproduce it.) The generator is
// @arbor/raft's SeededRandom; Rng only keeps the fault runs' vocabulary and their salted forks.

import { SeededRandom } from '@arbor/raft';

export class Rng {
  private readonly source: SeededRandom;
  constructor(readonly seed: number) {
    this.source = new SeededRandom(seed);
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.source.nextFloat();
  }

  /** Uniform integer in [min, max]. */
  int(min: number, max: number): number {
    return this.source.between(min, max);
  }

  pick<T>(items: readonly T[]): T {
    return this.source.pick(items);
  }

  /** An independent stream for one part of a run (a client, the nemesis), still fixed by the seed. */
  fork(salt: number): Rng {
    return new Rng((Math.imul(this.seed ^ 0x85ebca6b, 31) + salt * 0x27d4eb2f) >>> 0);
  }
}
