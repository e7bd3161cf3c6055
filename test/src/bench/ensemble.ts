// Ensemble benchmark (issue 5): a real 3-member ensemble of `arbor server` processes on loopback,
// one SDK session through a follower: create, setData and getData throughput and latency at 1,
// 64 and 512 outstanding requests; then milliseconds from kill -9 of the leader to the first
// successful write. Bounded: a fixed number of operations per cell. workloads.ts runs the
// fuller set of issue 8, from 8 sessions, and the ZooKeeper comparison.
import { connect, type ArborClient } from '@arbor/client';
import { Ensemble } from '@arbor/testing';
import { runCell } from './workload/stats.js';

const OPS_PER_CELL = Number(process.env['ARBOR_BENCH_OPS'] ?? 4_000);

async function main(): Promise<void> {
  const ensemble = await Ensemble.start({ members: 3, logLevel: 'warn' });
  const rows = [];
  let failoverMs = 0;
  try {
    const leader = await ensemble.waitForLeader();
    const follower = ensemble.slots.find((s) => s.id !== leader)!;
    // Through a follower: the common case for a client (writes forwarded to the leader).
    const client: ArborClient = await connect(`127.0.0.1:${follower.clientPort}`, { sessionTimeoutMs: 10_000 });
    const payload = new Uint8Array(100);
    for (const outstanding of [1, 64, 512]) {
      const base = `/bench-${outstanding}`;
      await client.create(base, null);
      const cell = async (op: string, run: (i: number) => Promise<unknown>) => ({
        op,
        outstanding,
        ...(await runCell([client], outstanding, OPS_PER_CELL, (_, i) => run(i))),
      });
      rows.push(await cell('create', (i) => client.create(`${base}/n${i}`, payload)));
      rows.push(await cell('setData', (i) => client.setData(`${base}/n${i}`, payload)));
      rows.push(await cell('getData', (i) => client.getData(`${base}/n${i}`)));
    }
    await client.close();
    // Failover: a client of the two survivors writes until a write succeeds after the kill.
    const survivors = ensemble.slots.filter((s) => s.id !== leader).map((s) => `127.0.0.1:${s.clientPort}`);
    const writer = await connect(survivors.join(','), { sessionTimeoutMs: 10_000 });
    await writer.create('/failover', null);
    const killedAt = performance.now();
    await ensemble.kill(leader);
    const deadline = killedAt + 30_000;
    for (let i = 0; performance.now() < deadline; i++) {
      try {
        await writer.setData('/failover', new Uint8Array([i & 255]));
        failoverMs = Math.round(performance.now() - killedAt);
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    await writer.close();
  } finally {
    await ensemble.stop();
  }
  console.table(rows);
  console.log(`failover: ${failoverMs} ms from kill -9 of the leader to the first successful write`);
  console.log(JSON.stringify({ bench: 'ensemble', opsPerCell: OPS_PER_CELL, rows, failoverMs }));
}

await main();
