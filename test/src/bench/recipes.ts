// Recipe benchmark (issue 7): on a real 3-member ensemble, lock acquire/release cycles per
// second with 8 contenders (each its own session, spread over the members) on one Mutex, and
// watch notification latency — from a setData call on one member to the persistent-watch event
// on a session of another member. Bounded by a fixed duration and a fixed number of writes.
import { Mutex, connect, type ArborClient } from '@arbor/client';
import { Ensemble } from '@arbor/testing';

const LOCK_SECONDS = Number(process.env['ARBOR_BENCH_LOCK_SECONDS'] ?? 10);
const WATCH_WRITES = Number(process.env['ARBOR_BENCH_WATCH_WRITES'] ?? 1_000);
const CONTENDERS = 8;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
}

const round = (n: number): number => +n.toFixed(2);

async function lockCycles(ensemble: Ensemble): Promise<Record<string, number>> {
  const clients: ArborClient[] = [];
  for (let i = 0; i < CONTENDERS; i++) {
    const slot = ensemble.slots[i % ensemble.slots.length]!;
    clients.push(await connect(`127.0.0.1:${slot.clientPort}`, { sessionTimeoutMs: 10_000 }));
  }
  const waits: number[] = [];
  let cycles = 0;
  const endAt = performance.now() + LOCK_SECONDS * 1000;
  const start = performance.now();
  await Promise.all(
    clients.map(async (client) => {
      const mutex = new Mutex(client, '/bench/lock');
      while (performance.now() < endAt) {
        const t0 = performance.now();
        const lease = await mutex.acquire({ timeoutMs: 30_000 });
        waits.push(performance.now() - t0);
        await lease.release();
        cycles++;
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  await Promise.all(clients.map((c) => c.close()));
  waits.sort((a, b) => a - b);
  return {
    contenders: CONTENDERS,
    cyclesPerSec: Math.round(cycles / elapsed),
    acquireP50Ms: round(percentile(waits, 0.5)),
    acquireP99Ms: round(percentile(waits, 0.99)),
  };
}

async function watchLatency(ensemble: Ensemble): Promise<Record<string, number>> {
  const [a, b] = ensemble.slots;
  const writer = await connect(`127.0.0.1:${a!.clientPort}`, { sessionTimeoutMs: 10_000 });
  const watcher = await connect(`127.0.0.1:${b!.clientPort}`, { sessionTimeoutMs: 10_000 });
  await writer.create('/bench/watched', null, { createParents: true });
  const watch = await watcher.addWatch('/bench/watched');
  const events = watch[Symbol.asyncIterator]();
  const latencies: number[] = [];
  for (let i = 0; i < WATCH_WRITES; i++) {
    const t0 = performance.now();
    const seen = events.next();
    await writer.setData('/bench/watched', new Uint8Array([i & 255]));
    const next = await seen;
    if (next.done === true) throw new Error('the watch ended');
    latencies.push(performance.now() - t0);
  }
  await watch.close();
  await Promise.all([writer.close(), watcher.close()]);
  latencies.sort((x, y) => x - y);
  return { writes: WATCH_WRITES, p50Ms: round(percentile(latencies, 0.5)), p99Ms: round(percentile(latencies, 0.99)) };
}

async function main(): Promise<void> {
  const ensemble = await Ensemble.start({ members: 3, logLevel: 'warn' });
  try {
    const lock = await lockCycles(ensemble);
    const watch = await watchLatency(ensemble);
    console.table([{ bench: 'lock', ...lock }]);
    console.table([{ bench: 'watch (write on one member → event on another)', ...watch }]);
    console.log(JSON.stringify({ bench: 'recipes', lock, watch }));
  } finally {
    await ensemble.stop();
  }
}

await main();
