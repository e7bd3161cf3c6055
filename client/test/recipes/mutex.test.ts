import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ContenderGoneError, Mutex, NoNodeError, RecipeTimeoutError } from '../../src/index.js';
import type { MutexLease, ArborClient } from '../../src/index.js';
import { FakeEnsemble } from '../helpers/fake-ensemble.js';
import { flush, sessions, until } from '../helpers/harness.js';

describe('Mutex', () => {
  let ensemble: FakeEnsemble;
  let clients: ArborClient[];
  beforeEach(async () => {
    vi.useFakeTimers();
    ensemble = new FakeEnsemble(3);
    clients = await sessions(ensemble, 5);
  });
  afterEach(async () => {
    await Promise.all(clients.map((c) => c.close()));
    vi.useRealTimers();
  });

  const waitersOf = async (mutex: Mutex, n: number): Promise<void> => {
    for (let i = 0; i < 200; i++) {
      if ((await mutex.participants()).length === n) return;
      await flush();
    }
    throw new Error(`never ${n} participants`);
  };

  it('excludes mutually: with five sessions contending, the holder count never exceeds 1', async () => {
    let holders = 0;
    let maxHolders = 0;
    let sections = 0;
    await Promise.all(
      clients.map(async (client) => {
        const mutex = new Mutex(client, '/locks/a');
        for (let round = 0; round < 3; round++) {
          const lease = await mutex.acquire();
          holders++;
          maxHolders = Math.max(maxHolders, holders);
          await flush(50);
          holders--;
          sections++;
          await lease.release();
        }
      }),
    );
    expect(sections).toBe(15);
    expect(maxHolders).toBe(1);
    expect(await new Mutex(clients[0] as ArborClient, '/locks/a').participants()).toEqual([]);
  });

  it('grants in arrival order, with growing fencing tokens, and introspection shows holder and waiters', async () => {
    const [a, ...rest] = clients as [ArborClient, ...ArborClient[]];
    const first = await new Mutex(a, '/locks/f').acquire();
    const order: number[] = [];
    const leases: Promise<MutexLease>[] = [];
    for (let i = 0; i < rest.length; i++) {
      const mutex = new Mutex(rest[i] as ArborClient, '/locks/f');
      leases.push(
        mutex.acquire().then((lease) => {
          order.push(i);
          return lease;
        }),
      );
      await waitersOf(mutex, i + 2);
    }
    const observer = new Mutex(a, '/locks/f');
    const holder = await observer.holder();
    expect(holder?.sessionId).toBe(a.sessionId);
    expect(holder?.sequence).toBe(first.fencingToken);
    expect((await observer.waiters()).map((w) => w.sessionId)).toEqual(rest.map((c) => c.sessionId));
    let previous = first;
    await first.release();
    for (let i = 0; i < rest.length; i++) {
      const lease = await (leases[i] as Promise<MutexLease>);
      expect(lease.fencingToken).toBeGreaterThan(previous.fencingToken);
      previous = lease;
      await lease.release();
    }
    expect(order).toEqual([0, 1, 2, 3]);
  });

  it('wakes one waiter per release (no herd)', async () => {
    const [a, ...rest] = clients as [ArborClient, ...ArborClient[]];
    const first = await new Mutex(a, '/locks/h').acquire();
    const pending = rest.map((c) => new Mutex(c, '/locks/h').acquire());
    await waitersOf(new Mutex(a, '/locks/h'), 5);
    await flush();
    // Exactly one waiter watches the holder's node (the holder itself watches it too, to learn of its deletion).
    const watching = ensemble
      .open()
      .filter((c) => c.session?.id !== a.sessionId && (c.watches.exist.has(first.path) || c.watches.data.has(first.path)));
    expect(watching).toHaveLength(1);
    const listingsBefore = ensemble.allRequests().filter((r) => r.op === 'getChildren' || r.op === 'getChildren2').length;
    await first.release();
    const second = await (pending[0] as Promise<MutexLease>);
    await flush();
    const listingsAfter = ensemble.allRequests().filter((r) => r.op === 'getChildren' || r.op === 'getChildren2').length;
    // Only the woken waiter looked at the queue again.
    expect(listingsAfter - listingsBefore).toBe(1);
    await second.release();
    for (const p of pending.slice(1)) await (await p).release();
  });

  it('gives up after timeoutMs and removes its contender node', async () => {
    const [a, b] = clients as [ArborClient, ArborClient];
    const held = await new Mutex(a, '/locks/t').acquire();
    const waiting = new Mutex(b, '/locks/t').acquire({ timeoutMs: 1000 });
    const outcome = waiting.catch((e: unknown) => e);
    await waitersOf(new Mutex(a, '/locks/t'), 2);
    await vi.advanceTimersByTimeAsync(1000);
    expect(await outcome).toBeInstanceOf(RecipeTimeoutError);
    await flush();
    expect((await new Mutex(a, '/locks/t').participants()).map((p) => p.sessionId)).toEqual([a.sessionId]);
    await held.release();
  });

  it('gives up when aborted and removes its contender node', async () => {
    const [a, b] = clients as [ArborClient, ArborClient];
    const held = await new Mutex(a, '/locks/x').acquire();
    const controller = new AbortController();
    const outcome = new Mutex(b, '/locks/x').acquire({ signal: controller.signal }).catch((e: unknown) => e);
    await waitersOf(new Mutex(a, '/locks/x'), 2);
    const reason = new Error('stop');
    controller.abort(reason);
    expect(await outcome).toBe(reason);
    await flush();
    expect(await new Mutex(a, '/locks/x').participants()).toHaveLength(1);
    await held.release();
  });

  it('is reentrant when asked: holds are counted and the node goes with the last release', async () => {
    const [a, b] = clients as [ArborClient, ArborClient];
    const mutex = new Mutex(a, '/locks/r', { reentrant: true });
    const outer = await mutex.acquire();
    const inner = await mutex.acquire();
    expect(inner).toBe(outer);
    expect(await mutex.participants()).toHaveLength(1);
    await inner.release();
    expect(outer.released).toBe(false);
    expect(ensemble.nodes.has(outer.path)).toBe(true);
    await outer.release();
    expect(ensemble.nodes.has(outer.path)).toBe(false);
    // Not reentrant by default: a second acquire on the same object queues behind the first.
    const plain = new Mutex(b, '/locks/r');
    const held = await plain.acquire();
    const second = plain.acquire({ timeoutMs: 500 }).catch((e: unknown) => e);
    await waitersOf(plain, 2);
    await vi.advanceTimersByTimeAsync(500);
    expect(await second).toBeInstanceOf(RecipeTimeoutError);
    await held.release();
  });

  it('releases through await using', async () => {
    const [a] = clients as [ArborClient];
    const mutex = new Mutex(a, '/locks/u');
    let path = '';
    {
      await using lease = await mutex.acquire();
      path = lease.path;
      expect(ensemble.nodes.has(path)).toBe(true);
    }
    expect(ensemble.nodes.has(path)).toBe(false);
  });

  it('signals lost when the session expires, and the next waiter gets the lock', async () => {
    const [a, b] = clients as [ArborClient, ArborClient];
    const lease = await new Mutex(a, '/locks/l').acquire();
    const next = new Mutex(b, '/locks/l').acquire();
    await waitersOf(new Mutex(b, '/locks/l'), 2);
    expect(lease.lost.aborted).toBe(false);
    ensemble.expireSession(a.sessionId);
    await until(() => lease.lost.aborted, 'lost signal');
    expect(String(lease.lost.reason)).toMatch(/may be lost/);
    const granted = await next;
    expect(granted.fencingToken).toBeGreaterThan(lease.fencingToken);
    await lease.release(); // the session is gone: a release is a no-op, not an error
    await granted.release();
  });

  it('signals lost when the session is suspended', async () => {
    const [a] = clients as [ArborClient];
    const lease = await new Mutex(a, '/locks/s').acquire();
    const member = ensemble.open().find((c) => c.session?.id === a.sessionId)?.member as number;
    ensemble.kill(member);
    await until(() => lease.lost.aborted, 'lost on suspension');
    expect(String(lease.lost.reason)).toMatch(/suspended/);
    ensemble.revive(member);
  });

  it('a holder whose member goes silent learns it before the session timeout could expire the session', async () => {
    const [a] = clients as [ArborClient];
    const lease = await new Mutex(a, '/locks/q').acquire();
    const member = ensemble.open().find((c) => c.session?.id === a.sessionId)?.member as number;
    ensemble.silence(member);
    let elapsedMs = 0;
    for (; elapsedMs < 9000 && !lease.lost.aborted; elapsedMs += 100) await vi.advanceTimersByTimeAsync(100);
    expect(lease.lost.aborted).toBe(true);
    expect(elapsedMs).toBeLessThan(9000);
    ensemble.revive(member);
  });

  it('a waiter rides out a failover of its connection and still gets the lock in turn', async () => {
    const [a, b] = clients as [ArborClient, ArborClient];
    const held = await new Mutex(a, '/locks/w').acquire();
    const next = new Mutex(b, '/locks/w').acquire();
    await waitersOf(new Mutex(a, '/locks/w'), 2);
    const member = ensemble.open().find((c) => c.session?.id === b.sessionId)?.member as number;
    ensemble.kill(member);
    for (let i = 0; i < 100 && b.state !== 'reconnected'; i++) await vi.advanceTimersByTimeAsync(50);
    expect(b.state).toBe('reconnected');
    await held.release();
    const lease = await next;
    expect(lease.fencingToken).toBeGreaterThan(held.fencingToken);
    expect(lease.lost.aborted).toBe(false);
    await lease.release();
    ensemble.revive(member);
  });

  it('a waiter whose session expires fails with ContenderGoneError or the session error', async () => {
    const [a, b] = clients as [ArborClient, ArborClient];
    const held = await new Mutex(a, '/locks/g').acquire();
    const outcome = new Mutex(b, '/locks/g').acquire().catch((e: unknown) => e);
    await waitersOf(new Mutex(a, '/locks/g'), 2);
    ensemble.expireSession(b.sessionId);
    const error = await outcome;
    expect(error).toBeInstanceOf(Error);
    expect(error instanceof ContenderGoneError || (error as Error).name === 'SessionExpiredError').toBe(true);
    await held.release();
  });

  it('commitIfHeld writes only while the lock node exists', async () => {
    const [a] = clients as [ArborClient];
    ensemble.seed('/data', 'v0');
    const lease = await new Mutex(a, '/locks/c').acquire();
    const [result] = await lease.commitIfHeld([{ op: 'setData', path: '/data', data: 'v1' }]);
    expect(result?.op).toBe('setData');
    expect(ensemble.dataOf('/data')).toBe('v1');
    ensemble.remove(lease.path);
    await expect(lease.commitIfHeld([{ op: 'setData', path: '/data', data: 'v2' }])).rejects.toBeInstanceOf(NoNodeError);
    expect(ensemble.dataOf('/data')).toBe('v1');
    expect(lease.lost.aborted).toBe(true);
    await lease.release();
  });
});
