// Shared by the benchmarks: running a cell of operations at a fixed concurrency, and latency
// percentiles.

/** Latency percentiles of a sample, in ms, rounded to 10 µs. */
export function percentiles(samples: Float64Array | number[]): { p50Ms: number; p99Ms: number; p999Ms: number } {
  const sorted = Float64Array.from(samples).sort();
  const at = (p: number): number => +(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0).toFixed(2);
  return { p50Ms: at(0.5), p99Ms: at(0.99), p999Ms: at(0.999) };
}

/** What one cell of a benchmark measured. */
export interface Cell {
  ops: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  errors: number;
}

/**
 * Runs `count` operations with `outstanding` of them in flight at every moment, worker w on
 * session w mod the number of sessions. An operation that fails is counted, not retried.
 */
export async function runCell<S>(
  sessions: readonly S[],
  outstanding: number,
  count: number,
  op: (session: S, i: number) => Promise<unknown>,
): Promise<Cell> {
  const latencies = new Float64Array(count);
  let next = 0;
  let errors = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: outstanding }, async (_, w) => {
      const session = sessions[w % sessions.length] as S;
      for (let i = next++; i < count; i = next++) {
        const t0 = performance.now();
        try {
          await op(session, i);
        } catch {
          errors++;
        }
        latencies[i] = performance.now() - t0;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { ops: count, opsPerSec: Math.round(count / seconds), ...percentiles(latencies), errors };
}
