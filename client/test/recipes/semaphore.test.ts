import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import type { ArborClient } from '../../src/index.js';
import { RecipeTimeoutError } from '../../src/index.js';
import { Semaphore } from '../../src/recipes/semaphore/index.js';
import type { SemaphoreLease } from '../../src/recipes/semaphore/index.js';
import { FakeEnsemble } from '../helpers/fake-ensemble.js';
import { flush, sessions, until, watchEvents } from '../helpers/harness.js';

describe('Semaphore', () => {
  let ensemble: FakeEnsemble;
  let clients: ArborClient[];
  beforeEach(async () => {
    vi.useFakeTimers();
    ensemble = new FakeEnsemble(3);
    clients = await sessions(ensemble, 6);
  });
  afterEach(async () => {
    await Promise.all(clients.map((c) => c.close()));
    vi.useRealTimers();
  });

  /** Waits until `n` acquirers are queued at the gate. */
  const waitingAt = async (client: ArborClient, path: string, n: number): Promise<void> => {
    for (let i = 0; i < 200; i++) {
      if ((await Semaphore.participants(client, path)).waiters.length === n) return;
      await flush();
    }
    throw new Error(`never ${n} waiters`);
  };

  it('never grants more than N leases at once under contention, and does reach N', async () => {
    for (const maxLeases of [1, 2, 3]) {
      let holding = 0;
      let maxHolding = 0;
      let sections = 0;
      await Promise.all(
        clients.map(async (client) => {
          const semaphore = new Semaphore(client, `/sem/c${maxLeases}`, maxLeases);
          for (let round = 0; round < 3; round++) {
            const lease = await semaphore.acquire();
            holding++;
            maxHolding = Math.max(maxHolding, holding);
            await flush(400);
            holding--;
            sections++;
            await lease.release();
          }
        }),
      );
      expect(sections).toBe(18);
      expect(maxHolding).toBe(maxLeases);
      const after = await Semaphore.participants(clients[0] as ArborClient, `/sem/c${maxLeases}`);
      expect(after.holders).toEqual([]);
      expect(after.waiters).toEqual([]);
    }
  });

  it('acquire(count) takes several leases together; a count over N is refused', async () => {
    const [a, b, c] = clients as [ArborClient, ArborClient, ArborClient];
    const semaphore = new Semaphore(a, '/sem/n', 3);
    await expect(semaphore.acquire(4)).rejects.toBeInstanceOf(RangeError);
    await expect(semaphore.acquire(0)).rejects.toBeInstanceOf(RangeError);
    const one = await new Semaphore(b, '/sem/n', 3).acquire();
    let two: SemaphoreLease[] | undefined;
    const pending = new Semaphore(c, '/sem/n', 3).acquire(3).then((leases) => (two = leases));
    await waitingAt(a, '/sem/n', 1);
    await flush();
    expect(two).toBeUndefined();
    // Behind the waiter for three, a waiter for one waits too (arrival order), and times out.
    const behind = semaphore.acquire(1, { timeoutMs: 100 }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(100);
    expect(await behind).toBeInstanceOf(RecipeTimeoutError);
    await one.release();
    await pending;
    expect(two).toHaveLength(3);
    const view = await Semaphore.participants(a, '/sem/n');
    expect(view.maxLeases).toBe(3);
    expect(view.holders.map((h) => h.sessionId)).toEqual([c.sessionId, c.sessionId, c.sessionId]);
    for (const lease of two ?? []) await lease.release();
  });

  it('serves waiters in arrival order, with growing fencing tokens', async () => {
    const [a, ...rest] = clients as [ArborClient, ...ArborClient[]];
    const first = await new Semaphore(a, '/sem/f', 1).acquire();
    const order: number[] = [];
    const pending: Promise<SemaphoreLease>[] = [];
    for (const [i, client] of rest.entries()) {
      pending.push(
        new Semaphore(client, '/sem/f', 1).acquire().then((lease) => {
          order.push(i);
          return lease;
        }),
      );
      await waitingAt(a, '/sem/f', i + 1);
    }
    const view = await Semaphore.participants(a, '/sem/f');
    expect(view.holders.map((h) => h.sessionId)).toEqual([a.sessionId]);
    expect(view.waiters.map((w) => w.sessionId)).toEqual(rest.map((c) => c.sessionId));
    let previous = first;
    await first.release();
    for (const p of pending) {
      const lease = await p;
      expect(lease.fencingToken).toBeGreaterThan(previous.fencingToken);
      previous = lease;
      await lease.release();
    }
    expect(order).toEqual([0, 1, 2, 3, 4]);
  });

  it('a release wakes a constant number of waiters (no herd), and waiters do not poll', async () => {
    const [a, b, ...waiting] = clients as [ArborClient, ArborClient, ...ArborClient[]];
    const la = await new Semaphore(a, '/sem/h', 2).acquire();
    const lb = await new Semaphore(b, '/sem/h', 2).acquire();
    const pending: Promise<SemaphoreLease>[] = [];
    for (const [i, client] of waiting.entries()) {
      pending.push(new Semaphore(client, '/sem/h', 2).acquire());
      await waitingAt(a, '/sem/h', i + 1);
    }
    await flush();
    // Time passes with no release: nobody looks at the queue again.
    const reads = (): number =>
      ensemble.allRequests().filter((r) => ['getChildren', 'getChildren2', 'exists', 'getData'].includes(r.op)).length;
    const before = reads();
    await vi.advanceTimersByTimeAsync(5000);
    expect(reads()).toBe(before);

    const events = watchEvents(ensemble);
    await la.release();
    const granted = await pending[0];
    await flush();
    const woken = new Set(events.filter((e) => e.session !== a.sessionId).map((e) => e.session));
    // The head of the gate (granted) and the next one (now at the head); never the two behind them.
    expect([...woken].sort()).toEqual([waiting[0]?.sessionId, waiting[1]?.sessionId].sort());
    expect(events.filter((e) => e.session !== a.sessionId).length).toBeLessThanOrEqual(3);
    events.length = 0;

    await lb.release();
    const second = await pending[1];
    await flush();
    const woken2 = new Set(events.filter((e) => e.session !== b.sessionId).map((e) => e.session));
    expect([...woken2].sort()).toEqual([waiting[1]?.sessionId, waiting[2]?.sessionId].sort());
    for (const lease of [granted, second]) await lease?.release();
    for (const p of pending.slice(2)) await (await p).release();
  });

  it('gives up after timeoutMs or on abort, removing its nodes, and the next waiter is still served', async () => {
    const [a, b, c, d] = clients as [ArborClient, ArborClient, ArborClient, ArborClient];
    const held = await new Semaphore(a, '/sem/t', 1).acquire();
    const timedOut = new Semaphore(b, '/sem/t', 1).acquire({ timeoutMs: 1000 }).catch((e: unknown) => e);
    await waitingAt(a, '/sem/t', 1);
    const controller = new AbortController();
    const aborted = new Semaphore(c, '/sem/t', 1).acquire({ signal: controller.signal }).catch((e: unknown) => e);
    await waitingAt(a, '/sem/t', 2);
    const later = new Semaphore(d, '/sem/t', 1).acquire();
    await waitingAt(a, '/sem/t', 3);
    const reason = new Error('stop');
    controller.abort(reason);
    expect(await aborted).toBe(reason);
    await vi.advanceTimersByTimeAsync(1000);
    expect(await timedOut).toBeInstanceOf(RecipeTimeoutError);
    await flush();
    const view = await Semaphore.participants(a, '/sem/t');
    expect(view.holders.map((h) => h.sessionId)).toEqual([a.sessionId]);
    expect(view.waiters.map((w) => w.sessionId)).toEqual([d.sessionId]);
    await held.release();
    const lease = await later;
    expect(lease.fencingToken).toBeGreaterThan(held.fencingToken);
    await lease.release();
  });

  it('releases through await using', async () => {
    const [a] = clients as [ArborClient];
    let path = '';
    {
      await using lease = await new Semaphore(a, '/sem/u', 2).acquire();
      path = lease.path;
      expect(ensemble.nodes.has(path)).toBe(true);
    }
    expect(ensemble.nodes.has(path)).toBe(false);
  });

  it('signals lease lost on session expiry (the lease goes to the waiter) and on suspension', async () => {
    const [a, b, c] = clients as [ArborClient, ArborClient, ArborClient];
    const lease = await new Semaphore(a, '/sem/l', 1).acquire();
    const next = new Semaphore(b, '/sem/l', 1).acquire();
    await waitingAt(c, '/sem/l', 1);
    ensemble.expireSession(a.sessionId);
    await until(() => lease.lost.aborted, 'lost signal');
    expect(String(lease.lost.reason)).toMatch(/lease .* may be lost/);
    const granted = await next;
    expect(granted.fencingToken).toBeGreaterThan(lease.fencingToken);
    await lease.release();
    const member = ensemble.open().find((conn) => conn.session?.id === b.sessionId)?.member as number;
    ensemble.kill(member);
    await until(() => granted.lost.aborted, 'lost on suspension');
    expect(String(granted.lost.reason)).toMatch(/suspended/);
    ensemble.revive(member);
  });

  it('a waiter rides out a failover and is served in turn', async () => {
    const [a, b] = clients as [ArborClient, ArborClient];
    const held = await new Semaphore(a, '/sem/w', 1).acquire();
    const next = new Semaphore(b, '/sem/w', 1).acquire();
    await waitingAt(a, '/sem/w', 1);
    const member = ensemble.open().find((c) => c.session?.id === b.sessionId)?.member as number;
    ensemble.kill(member);
    for (let i = 0; i < 100 && b.state !== 'reconnected'; i++) await vi.advanceTimersByTimeAsync(50);
    expect(b.state).toBe('reconnected');
    await held.release();
    const lease = await next;
    expect(lease.lost.aborted).toBe(false);
    await lease.release();
    ensemble.revive(member);
  });
});
