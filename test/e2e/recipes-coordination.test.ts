// Barrier, double barrier, distributed queue and shared counter on a real 3-member ensemble,
// with the leader killed in the middle of concurrent counter adds.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type ArborClient } from '@arbor/client';
import { Barrier } from '@arbor/client';
import { DoubleBarrier } from '@arbor/client';
import { DistributedQueue, type QueueItem } from '@arbor/client';
import { SharedCounter } from '@arbor/client';
import { Ensemble } from '@arbor/testing';

const text = (item: QueueItem): string => new TextDecoder().decode(item.data ?? new Uint8Array());

describe('coordination recipes on a real 3-member ensemble', () => {
  let ensemble: Ensemble;
  const clients: ArborClient[] = [];
  beforeAll(async () => {
    ensemble = await Ensemble.start({ members: 3 });
    for (let i = 0; i < 4; i++) clients.push(await connect(ensemble.connectString, { sessionTimeoutMs: 8_000 }));
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await ensemble?.stop();
  });

  it('barrier: nobody passes until it is removed', async () => {
    const [owner, ...waiters] = clients as [ArborClient, ...ArborClient[]];
    await new Barrier(owner, '/e2e/barrier').setBarrier();
    let removed = false;
    let early = 0;
    const waits = waiters.map((c) =>
      new Barrier(c, '/e2e/barrier').waitOnBarrier({ timeoutMs: 20_000 }).then(() => void (removed || early++)),
    );
    // The barrier is still up: a waiter that passes now is early.
    expect(await new Barrier(owner, '/e2e/barrier').isSet()).toBe(true);
    removed = true;
    await new Barrier(owner, '/e2e/barrier').removeBarrier();
    await Promise.all(waits);
    expect(early).toBe(0);
  });

  it('double barrier: nobody passes enter before all three entered, nobody leaves before all left', async () => {
    const count = 3;
    const barriers = clients.slice(0, count).map((c) => new DoubleBarrier(c, '/e2e/double', count));
    let entered = 0;
    const passedWith: number[] = [];
    const entering = barriers.map(async (b) => {
      const p = b.enter({ timeoutMs: 20_000 });
      entered++;
      await p;
      passedWith.push(entered);
    });
    await Promise.all(entering);
    expect(passedWith).toEqual([count, count, count]);
    const leftWithOthersIn: number[] = [];
    await Promise.all(
      barriers.map(async (b) => {
        await b.leave({ timeoutMs: 20_000 });
        leftWithOthersIn.push((await b.members()).length);
      }),
    );
    expect(leftWithOthersIn).toEqual([0, 0, 0]);
  });

  it('queue: every item taken exactly once, FIFO per producer, with three consumers', async () => {
    const perProducer = 15;
    const total = 2 * perProducer;
    const stop = new AbortController();
    let taken = 0;
    const takenBy: QueueItem[][] = [[], [], []];
    const consumers = takenBy.map(async (mine, i) => {
      const queue = new DistributedQueue(clients[i + 1] as ArborClient, '/e2e/queue');
      for (let round = 0; round <= total && taken < total; round++) {
        try {
          mine.push(await queue.take({ signal: stop.signal, timeoutMs: 20_000 }));
        } catch (error) {
          if (error === stop.signal.reason) return;
          throw error;
        }
        if (++taken === total) stop.abort(new Error('all taken'));
      }
    });
    await Promise.all(
      [0, 1].map(async (p) => {
        const queue = new DistributedQueue(clients[p] as ArborClient, '/e2e/queue');
        for (let k = 0; k < perProducer; k++) await queue.put(`${p}:${k}`);
      }),
    );
    await Promise.all(consumers);
    const all = takenBy.flat();
    expect(all.map(text).sort()).toEqual([0, 1].flatMap((p) => Array.from({ length: perProducer }, (_, k) => `${p}:${k}`)).sort());
    for (const mine of takenBy) expect(mine.map((i) => i.sequence)).toEqual([...mine.map((i) => i.sequence)].sort((x, y) => x - y));
    for (const p of [0, 1]) {
      const ofP = all.filter((i) => text(i).startsWith(`${p}:`)).sort((x, y) => x.sequence - y.sequence);
      expect(ofP.map(text)).toEqual(ofP.map((_, k) => `${p}:${k}`));
    }
  });

  it('counter: concurrent adds across a leader kill; the final value counts every successful add once', async () => {
    const addsPerWorker = 25;
    let succeeded = 0;
    // An add that failed after its write was sent (timeout, session lost) may or may not have applied.
    let inDoubt = 0;
    const failures: string[] = [];
    let killed = false;
    const leader = await ensemble.waitForLeader();
    const workers = clients.flatMap((client) =>
      [0, 1].map(async () => {
        const counter = new SharedCounter(client, '/e2e/counter');
        for (let i = 0; i < addsPerWorker; i++) {
          try {
            await counter.add(1, { timeoutMs: 20_000 });
            succeeded++;
          } catch (error) {
            const name = (error as Error).name;
            failures.push(name);
            if (name === 'OperationTimeoutError' || name === 'SessionExpiredError' || name === 'ConnectionLossError') inDoubt++;
          }
          if (!killed && succeeded >= 40) {
            killed = true;
            await ensemble.kill(leader);
          }
        }
      }),
    );
    await Promise.all(workers);
    expect(killed).toBe(true);
    await ensemble.waitForLeader();
    const final = await new SharedCounter(clients[0] as ArborClient, '/e2e/counter').get({ linearizable: true });
    // Writes are resent with their request id after a failover, so a successful add is applied
    // exactly once; only an add that failed in doubt may have applied as well.
    expect(final).toBeGreaterThanOrEqual(succeeded);
    expect(final).toBeLessThanOrEqual(succeeded + inDoubt);
    expect(succeeded).toBeGreaterThan(40);
    expect(failures.length).toBeLessThanOrEqual(clients.length * 2 * addsPerWorker - succeeded);
  }, 120_000);
});
