// The read-write lock, the semaphore, the leader selector and introspection against a real
// 3-member ensemble (member processes, real sockets and SQLite), with members killed mid-test.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type ArborClient } from '@arbor/client';
import { ReadWriteLock } from '@arbor/client';
import { Semaphore } from '@arbor/client';
import { LeaderSelector } from '@arbor/client';
import { participantsOf } from '@arbor/client';
import { Ensemble, waitFor } from '@arbor/testing';

/** Some real work inside a critical section: one round trip (no sleep). */
const work = async (client: ArborClient): Promise<void> => {
  await client.exists('/');
};

describe('lock recipes on a real 3-member ensemble', () => {
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

  /** Kills the leader once `ready()` holds (from inside the workload), and restarts it afterwards. */
  function leaderKiller(): { trigger: () => void; done: () => Promise<void> } {
    let killing: Promise<number> | undefined;
    return {
      trigger: () => {
        killing ??= ensemble.waitForLeader().then(async (id) => {
          await ensemble.kill(id);
          return id;
        });
      },
      done: async () => {
        const id = await killing;
        if (id !== undefined) await ensemble.restart(id);
        await ensemble.waitForLeader();
      },
    };
  }

  it('read-write lock: readers overlap, a writer is always alone, across a leader kill', { timeout: 120_000 }, async () => {
    const killer = leaderKiller();
    let readers = 0;
    let writers = 0;
    let maxReaders = 0;
    let violations = 0;
    let sections = 0;
    const writeTokens: number[] = [];
    await Promise.all(
      clients.map(async (client, i) => {
        const lock = new ReadWriteLock(client, '/e2e/rw');
        for (let round = 0; round < 6; round++) {
          const write = (i + round) % 3 === 0;
          const lease = write ? await lock.acquireWrite({ timeoutMs: 60_000 }) : await lock.acquireRead({ timeoutMs: 60_000 });
          if (write) {
            writers++;
            writeTokens.push(lease.fencingToken);
          } else readers++;
          if (writers > 1 || (writers === 1 && readers > 0)) violations++;
          maxReaders = Math.max(maxReaders, readers);
          await work(client).catch(() => undefined);
          if (write) writers--;
          else readers--;
          if (++sections === 10) killer.trigger();
          await lease.release();
        }
      }),
    );
    await killer.done();
    expect(violations).toBe(0);
    expect(sections).toBe(30);
    expect(maxReaders).toBeGreaterThan(1);
    expect([...writeTokens].sort((a, b) => a - b)).toEqual(writeTokens);
    expect(await participantsOf(clients[0] as ArborClient, '/e2e/rw')).toMatchObject({ holders: [], waiters: [] });
  });

  it('read-write lock: a writer whose session expires learns it before the waiter is granted', { timeout: 120_000 }, async () => {
    const leader = await ensemble.waitForLeader();
    const follower = ensemble.slots.find((s) => s.id !== leader) as (typeof ensemble.slots)[number];
    // The holder can reach one member only; when that member dies its session expires.
    const pinned = await connect(`127.0.0.1:${follower.clientPort}`, { sessionTimeoutMs: 3_000 });
    const holder = await new ReadWriteLock(pinned, '/e2e/rw-expiry').acquireWrite({ timeoutMs: 10_000 });
    const waiter = clients[0] as ArborClient;
    let lostAt = 0;
    let grantedAt = 0;
    holder.lost.addEventListener('abort', () => (lostAt = performance.now()), { once: true });
    const granted = new ReadWriteLock(waiter, '/e2e/rw-expiry').acquireWrite({ timeoutMs: 60_000 }).then((lease) => {
      grantedAt = performance.now();
      return lease;
    });
    await waitFor(
      'the waiter queued',
      async () => ((await participantsOf(waiter, '/e2e/rw-expiry')).waiters.length === 1 ? true : undefined),
      10_000,
    );
    await ensemble.kill(follower.id);
    const lease = await granted;
    expect(lostAt).toBeGreaterThan(0);
    expect(lostAt).toBeLessThan(grantedAt);
    expect(lease.fencingToken).toBeGreaterThan(holder.fencingToken);
    await lease.release();
    await pinned.close().catch(() => undefined);
    await ensemble.restart(follower.id);
    await ensemble.waitForLeader();
  });

  it(
    'semaphore: never more than N leases across a leader kill; introspection shows holders and waiters',
    { timeout: 120_000 },
    async () => {
      const maxLeases = 2;
      const killer = leaderKiller();
      let holding = 0;
      let maxHolding = 0;
      let sections = 0;
      let sawQueue = false;
      await Promise.all(
        clients.map(async (client) => {
          const semaphore = new Semaphore(client, '/e2e/sem', maxLeases, { payload: client.sessionId });
          for (let round = 0; round < 5; round++) {
            const lease = await semaphore.acquire({ timeoutMs: 60_000 });
            holding++;
            maxHolding = Math.max(maxHolding, holding);
            if (!sawQueue) {
              const view = await participantsOf(client, '/e2e/sem').catch(() => undefined);
              if (view !== undefined && view.holders.length > 0) {
                expect(view.kind).toBe('semaphore');
                expect(view.holders.length).toBeLessThanOrEqual(maxLeases);
                sawQueue = view.waiters.length > 0;
              }
            } else await work(client).catch(() => undefined);
            holding--;
            if (++sections === 8) killer.trigger();
            await lease.release();
          }
        }),
      );
      await killer.done();
      expect(sections).toBe(25);
      expect(maxHolding).toBeLessThanOrEqual(maxLeases);
      expect(maxHolding).toBeGreaterThan(0);
      const left = await Semaphore.participants(clients[0] as ArborClient, '/e2e/sem');
      expect({ holders: left.holders.map((h) => h.path), waiters: left.waiters.map((w) => w.path) }).toEqual({ holders: [], waiters: [] });
    },
  );

  it('leader selector: never two leaders across a leader kill, and leadership keeps moving', { timeout: 120_000 }, async () => {
    let leading = 0;
    let maxLeading = 0;
    const terms: number[] = [];
    const killer = leaderKiller();
    const selectors = clients.slice(0, 3).map(
      (client, i) =>
        new LeaderSelector(client, '/e2e/selector', {
          id: `candidate-${i}`,
          payload: { index: i },
          autoRequeue: true,
          takeLeadership: async (signal) => {
            leading++;
            maxLeading = Math.max(maxLeading, leading);
            terms.push(i);
            try {
              if (!signal.aborted) await work(client).catch(() => undefined);
            } finally {
              leading--;
            }
          },
        }),
    );
    for (const s of selectors) s.start();
    await waitFor('six terms', async () => (terms.length >= 6 ? true : undefined), 30_000);
    killer.trigger();
    const before = terms.length;
    await killer.done();
    await waitFor('six more terms after the kill', async () => (terms.length >= before + 6 ? true : undefined), 60_000);
    const observed = await LeaderSelector.leader(clients[4] as ArborClient, '/e2e/selector');
    expect(observed === undefined || /^candidate-\d$/.test(observed.id)).toBe(true);
    await Promise.all(selectors.map((s) => s.close()));
    expect(maxLeading).toBe(1);
    expect(new Set(terms)).toEqual(new Set([0, 1, 2]));
  });
});
