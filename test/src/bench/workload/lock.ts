// One lock recipe for every system, so that the lock workload compares the services and not
// two implementations: ZooKeeper's documented recipe (ephemeral sequential node, watch the
// next lower one, no herd effect), as Curator's InterProcessMutex does it.
import type { BenchSession } from './system.js';
import { percentiles } from './stats.js';

const sequenceOf = (name: string): number => Number(name.slice(name.lastIndexOf('-') + 1));

async function acquire(session: BenchSession, dir: string): Promise<string> {
  const mine = await session.create(`${dir}/lock-`, new Uint8Array(0), 'ephemeralSequential');
  const myName = mine.slice(dir.length + 1);
  for (;;) {
    const queue = (await session.getChildren(dir)).sort((a, b) => sequenceOf(a) - sequenceOf(b));
    const at = queue.indexOf(myName);
    if (at < 0) throw new Error(`lost the lock node ${mine}`);
    if (at === 0) return mine;
    const { exists, changed } = await session.existsWatch(`${dir}/${queue[at - 1] as string}`);
    if (exists) await changed;
  }
}

/**
 * `cycles` acquire/release cycles shared by one contender per session, on one lock: cycles per
 * second and the latency of acquire (queueing included).
 */
export async function lockCycles(
  sessions: readonly BenchSession[],
  dir: string,
  cycles: number,
): Promise<{ ops: number; opsPerSec: number; p50Ms: number; p99Ms: number; p999Ms: number; errors: number }> {
  await (sessions[0] as BenchSession).create(dir, new Uint8Array(0));
  const waits: number[] = [];
  let started = 0;
  let errors = 0;
  const t0 = performance.now();
  await Promise.all(
    sessions.map(async (session) => {
      while (started++ < cycles) {
        const asked = performance.now();
        try {
          const held = await acquire(session, dir);
          waits.push(performance.now() - asked);
          await session.delete(held);
        } catch {
          errors++;
        }
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  return { ops: cycles, opsPerSec: Math.round(cycles / seconds), ...percentiles(waits), errors };
}
