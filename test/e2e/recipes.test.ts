// The recipes against a real 3-member ensemble (member processes, real sockets and SQLite).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LeaderLatch, Mutex, connect, type ArborClient } from '@arbor/client';
import { Ensemble } from '@arbor/testing';

describe('recipes on a real 3-member ensemble', () => {
  let ensemble: Ensemble;
  const clients: ArborClient[] = [];
  beforeAll(async () => {
    ensemble = await Ensemble.start({ members: 3 });
    for (let i = 0; i < 5; i++) clients.push(await connect(ensemble.connectString, { sessionTimeoutMs: 8_000 }));
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await ensemble?.stop();
  });

  it('mutex: five sessions contending never hold the lock together, and tokens grow', async () => {
    let holders = 0;
    let maxHolders = 0;
    const tokens: number[] = [];
    await Promise.all(
      clients.map(async (client) => {
        const mutex = new Mutex(client, '/locks/e2e');
        for (let round = 0; round < 4; round++) {
          const lease = await mutex.acquire({ timeoutMs: 20_000 });
          holders++;
          maxHolders = Math.max(maxHolders, holders);
          tokens.push(lease.fencingToken);
          await new Promise((r) => setTimeout(r, 2));
          holders--;
          await lease.release();
        }
      }),
    );
    expect(maxHolders).toBe(1);
    expect(tokens).toHaveLength(20);
    expect([...tokens].sort((a, b) => a - b)).toEqual(tokens);
  });

  it('leader latch: exactly one leader, and leadership moves when it closes', async () => {
    const latches = clients.slice(0, 3).map((c, i) => new LeaderLatch(c, '/election/e2e', { id: `candidate-${i}` }));
    await Promise.all(latches.map((l) => l.start()));
    await Promise.race(latches.map((l) => l.awaitLeadership({ timeoutMs: 10_000 })));
    expect(latches.filter((l) => l.hasLeadership())).toHaveLength(1);
    const first = latches.find((l) => l.hasLeadership())!;
    await first.close();
    const rest = latches.filter((l) => l !== first);
    await Promise.race(rest.map((l) => l.awaitLeadership({ timeoutMs: 10_000 })));
    expect(rest.filter((l) => l.hasLeadership())).toHaveLength(1);
    await Promise.all(rest.map((l) => l.close()));
  });
});
