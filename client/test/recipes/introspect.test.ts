import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ArborClient, LeaderLatch, Mutex } from '../../src/index.js';
import { participantsOf } from '../../src/recipes/introspect/index.js';
import { ReadWriteLock } from '../../src/recipes/rw-lock/index.js';
import { Semaphore } from '../../src/recipes/semaphore/index.js';
import { FakeEnsemble, connectString } from '../helpers/fake-ensemble.js';
import { flush, inOrder, until } from '../helpers/harness.js';

describe('participantsOf', () => {
  let ensemble: FakeEnsemble;
  let clients: ArborClient[];
  beforeEach(async () => {
    vi.useFakeTimers();
    ensemble = new FakeEnsemble(3);
    clients = Array.from(
      { length: 4 },
      () => new ArborClient(connectString(3), { transport: ensemble.transport, random: inOrder, sessionTimeoutMs: 9000 }),
    );
    await until(() => clients.every((c) => c.state === 'connected'), 'all connected');
  });
  afterEach(async () => {
    await Promise.all(clients.map((c) => c.close()));
    vi.useRealTimers();
  });

  const waitForCount = async (client: ArborClient, path: string, n: number): Promise<void> => {
    for (let i = 0; i < 200; i++) {
      const view = await participantsOf(client, path);
      if (view.holders.length + view.waiters.length === n) return;
      await flush();
    }
    throw new Error(`never ${n} participants at ${path}`);
  };

  it('a mutex: the holder and the waiters, in the shape of Mutex.participants(), with how long they waited', async () => {
    const [a, b, c] = clients as [ArborClient, ArborClient, ArborClient];
    const held = await new Mutex(a, '/i/m').acquire();
    const pending = [b, c].map((client) => new Mutex(client, '/i/m').acquire());
    await waitForCount(a, '/i/m', 3);
    const own = await new Mutex(a, '/i/m').participants();
    const view = await participantsOf(a, '/i/m', { nowMs: Date.now() + 1500 });
    expect(view.kind).toBe('mutex');
    expect(view.holders.map((h) => h.sessionId)).toEqual([a.sessionId]);
    expect(view.waiters.map((w) => w.sessionId)).toEqual([b.sessionId, c.sessionId]);
    expect([...view.holders, ...view.waiters].map(({ role: _r, waitedMs: _w, ...p }) => p)).toEqual(own);
    for (const p of [...view.holders, ...view.waiters]) expect(p.waitedMs).toBeGreaterThanOrEqual(1500);
    await held.release();
    for (const p of pending) await (await p).release();
  });

  it('a read-write lock: readers together as holders, then the writer and readers behind it as waiters', async () => {
    const [a, b, c, d] = clients as [ArborClient, ArborClient, ArborClient, ArborClient];
    const r1 = await new ReadWriteLock(a, '/i/rw').acquireRead();
    const r2 = await new ReadWriteLock(b, '/i/rw').acquireRead();
    const w = new ReadWriteLock(c, '/i/rw').acquireWrite();
    await waitForCount(a, '/i/rw', 3);
    const r3 = new ReadWriteLock(d, '/i/rw').acquireRead();
    await waitForCount(a, '/i/rw', 4);
    const view = await participantsOf(a, '/i/rw');
    expect(view.kind).toBe('readWriteLock');
    expect(view.holders.map((h) => [h.sessionId, h.mode])).toEqual([
      [a.sessionId, 'read'],
      [b.sessionId, 'read'],
    ]);
    expect(view.waiters.map((h) => [h.sessionId, h.mode])).toEqual([
      [c.sessionId, 'write'],
      [d.sessionId, 'read'],
    ]);
    await r1.release();
    await r2.release();
    await (await w).release();
    await (await r3).release();
  });

  it('a semaphore: the granted leases and the acquirers waiting, with N and payloads', async () => {
    const [a, b, c] = clients as [ArborClient, ArborClient, ArborClient];
    const la = await new Semaphore(a, '/i/s', 2, { payload: 'A' }).acquire();
    const lb = await new Semaphore(b, '/i/s', 2, { payload: 'B' }).acquire();
    const pending = new Semaphore(c, '/i/s', 2, { payload: 'C' }).acquire();
    await waitForCount(a, '/i/s', 3);
    const view = await participantsOf(a, '/i/s');
    expect(view.kind).toBe('semaphore');
    expect(view.maxLeases).toBe(2);
    expect(view.holders.map((h) => [h.sessionId, h.payload])).toEqual([
      [a.sessionId, 'A'],
      [b.sessionId, 'B'],
    ]);
    expect(view.waiters.map((h) => [h.sessionId, h.payload])).toEqual([[c.sessionId, 'C']]);
    await la.release();
    const lc = await pending;
    await lb.release();
    await lc.release();
    expect(await participantsOf(a, '/i/s')).toMatchObject({ kind: 'semaphore', holders: [], waiters: [] });
  });

  it('an election: the leader with its id and payload, then the others; a missing path is empty', async () => {
    const [a, b] = clients as [ArborClient, ArborClient];
    const latches = [a, b].map((client, i) => new LeaderLatch(client, '/i/e', { id: `n${i}`, payload: { port: i } }));
    for (const l of latches) await l.start();
    await (latches[0] as LeaderLatch).awaitLeadership({ timeoutMs: 1000 });
    const view = await participantsOf(b, '/i/e');
    expect(view.kind).toBe('election');
    expect(view.holders.map((h) => [h.id, h.payload, h.sessionId])).toEqual([['n0', { port: 0 }, a.sessionId]]);
    expect(view.waiters.map((h) => h.id)).toEqual(['n1']);
    for (const l of latches) await l.close();
    expect(await participantsOf(b, '/i/none')).toEqual({ path: '/i/none', kind: 'empty', holders: [], waiters: [] });
  });
});
