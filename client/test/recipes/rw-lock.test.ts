import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';

import type { ArborClient } from '../../src/index.js';
import { ContenderGoneError, NoNodeError, RecipeTimeoutError } from '../../src/index.js';
import { ReadWriteLock, decideReadWrite, readWriteHolders } from '../../src/recipes/rw-lock/index.js';
import type { ReadWriteLease } from '../../src/recipes/rw-lock/index.js';
import type { Contender } from '../../src/recipes/queue.js';
import { FakeEnsemble } from '../helpers/fake-ensemble.js';
import { flush, sessions, until, watchEvents } from '../helpers/harness.js';

const contender = (mode: 'read' | 'write', sequence: number): Contender => {
  const name = `_c_x-${mode}-${String(sequence).padStart(10, '0')}`;
  return { name, path: `/l/${name}`, sequence };
};

describe('decideReadWrite (pure)', () => {
  it('agrees with a naive model: a writer holds alone at the head, readers hold until the first writer', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom<'read' | 'write'>('read', 'write'), { minLength: 1, maxLength: 12 }), (modes) => {
        const queue = modes.map((m, i) => contender(m, i * 3 + 1));
        const holders = readWriteHolders(queue).map((c) => c.sequence);
        const granted = queue.filter((c) => decideReadWrite(queue, c).granted).map((c) => c.sequence);
        expect(granted).toEqual(holders);
        // Naive: walk from the head; a writer at the head holds alone; otherwise readers up to the first writer.
        const model: number[] = [];
        for (const [i, m] of modes.entries()) {
          if (m === 'write') {
            if (i === 0) model.push(queue[0]!.sequence);
            break;
          }
          model.push(queue[i]!.sequence);
        }
        expect(holders).toEqual(model);
        const writers = queue.filter((c, i) => modes[i] === 'write' && holders.includes(c.sequence));
        expect(writers.length === 0 || holders.length === 1).toBe(true);
        // Whom each waiter watches: a writer its predecessor, a reader the nearest writer ahead.
        for (const [i, c] of queue.entries()) {
          const d = decideReadWrite(queue, c);
          if (d.granted) continue;
          if (modes[i] === 'write') expect(d.watch).toBe(queue[i - 1]);
          else {
            const ahead = queue.slice(0, i).filter((_, j) => modes[j] === 'write');
            expect(d.watch).toBe(ahead[ahead.length - 1]);
          }
        }
      }),
    );
  });
});

describe('ReadWriteLock', () => {
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

  const waitForParticipants = async (lock: ReadWriteLock, n: number): Promise<void> => {
    for (let i = 0; i < 200; i++) {
      if ((await lock.participants()).length === n) return;
      await flush();
    }
    throw new Error(`never ${n} participants`);
  };

  it('under contention readers overlap and a writer is always alone (random mixes of five sessions)', async () => {
    let runs = 0;
    let maxReaders = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(fc.boolean(), { minLength: 1, maxLength: 4 }), { minLength: 5, maxLength: 5 }), async (plans) => {
        const path = `/rw/prop-${runs++}`;
        let readers = 0;
        let writers = 0;
        let violations = 0;
        let sections = 0;
        await Promise.all(
          clients.map(async (client, i) => {
            const shared = new ReadWriteLock(client, path);
            for (const write of plans[i] as boolean[]) {
              const lease = write ? await shared.acquireWrite() : await shared.acquireRead();
              if (write) writers++;
              else readers++;
              if (writers > 1 || (writers === 1 && readers > 0)) violations++;
              maxReaders = Math.max(maxReaders, readers);
              await flush(30);
              if (write) writers--;
              else readers--;
              sections++;
              await lease.release();
            }
          }),
        );
        expect(violations).toBe(0);
        expect(sections).toBe(plans.flat().length);
        expect(await new ReadWriteLock(clients[0]!, path).participants()).toEqual([]);
      }),
      { numRuns: 12, seed: 7 },
    );
    // Across the runs, readers did hold the lock together.
    expect(maxReaders).toBeGreaterThan(1);
  });

  it('readers share the lock; a writer waits for them; a reader queued behind the writer waits for the writer', async () => {
    const [a, b, c, d] = clients as [ArborClient, ArborClient, ArborClient, ArborClient];
    const r1 = await new ReadWriteLock(a, '/rw/s').acquireRead();
    const r2 = await new ReadWriteLock(b, '/rw/s').acquireRead();
    const observer = new ReadWriteLock(a, '/rw/s');
    expect((await observer.holders()).map((h) => h.sessionId)).toEqual([a.sessionId, b.sessionId]);
    let written = false;
    const w = new ReadWriteLock(c, '/rw/s').acquireWrite().then((lease) => {
      written = true;
      return lease;
    });
    await waitForParticipants(observer, 3);
    let lateRead = false;
    const r3 = new ReadWriteLock(d, '/rw/s').acquireRead().then((lease) => {
      lateRead = true;
      return lease;
    });
    await waitForParticipants(observer, 4);
    expect((await observer.waiters()).map((p) => [p.sessionId, p.mode])).toEqual([
      [c.sessionId, 'write'],
      [d.sessionId, 'read'],
    ]);
    await r1.release();
    await flush();
    expect(written).toBe(false);
    await r2.release();
    const writeLease = await w;
    expect(writeLease.mode).toBe('write');
    expect(writeLease.fencingToken).toBeGreaterThan(r2.fencingToken);
    await flush();
    expect(lateRead).toBe(false);
    expect((await observer.holders()).map((h) => h.mode)).toEqual(['write']);
    await writeLease.release();
    const readLease = await r3;
    expect(readLease.fencingToken).toBeGreaterThan(writeLease.fencingToken);
    await readLease.release();
  });

  it('wakes only the waiters that can be granted (no herd): counts watch notifications per release', async () => {
    const [a, b, c, d, e] = clients as [ArborClient, ArborClient, ArborClient, ArborClient, ArborClient];
    const observer = new ReadWriteLock(a, '/rw/h');
    const w1 = await new ReadWriteLock(a, '/rw/h').acquireWrite();
    const readers = [b, c].map((client) => new ReadWriteLock(client, '/rw/h').acquireRead());
    await waitForParticipants(observer, 3);
    const w2 = new ReadWriteLock(d, '/rw/h').acquireWrite();
    await waitForParticipants(observer, 4);
    const late = new ReadWriteLock(e, '/rw/h').acquireRead();
    await waitForParticipants(observer, 5);
    await flush();
    const events = watchEvents(ensemble);
    const others = (releaser: ArborClient): { session: number; path: string }[] => events.filter((ev) => ev.session !== releaser.sessionId);

    // The writer's release wakes the two readers behind it (both get the lock), not the writer or reader further back.
    await w1.release();
    const [rb, rc] = (await Promise.all(readers)) as [ReadWriteLease, ReadWriteLease];
    await flush();
    expect(
      others(a)
        .map((ev) => ev.session)
        .sort(),
    ).toEqual([b.sessionId, c.sessionId].sort());
    events.length = 0;

    // The first reader's release wakes nobody: the writer watches the reader just ahead of it.
    await rb.release();
    await flush();
    expect(others(b)).toEqual([]);
    events.length = 0;

    // The last reader's release wakes exactly the writer.
    await rc.release();
    const lease2 = await w2;
    await flush();
    expect(others(c).map((ev) => ev.session)).toEqual([d.sessionId]);
    events.length = 0;

    await lease2.release();
    const lateLease = await late;
    await flush();
    expect(others(d).map((ev) => ev.session)).toEqual([e.sessionId]);
    await lateLease.release();
  });

  it('gives up after timeoutMs or on abort and removes its node', async () => {
    const [a, b, c] = clients as [ArborClient, ArborClient, ArborClient];
    const held = await new ReadWriteLock(a, '/rw/t').acquireWrite();
    const timedOut = new ReadWriteLock(b, '/rw/t').acquireRead({ timeoutMs: 1000 }).catch((e: unknown) => e);
    const controller = new AbortController();
    const aborted = new ReadWriteLock(c, '/rw/t').acquireWrite({ signal: controller.signal }).catch((e: unknown) => e);
    const observer = new ReadWriteLock(a, '/rw/t');
    await waitForParticipants(observer, 3);
    const reason = new Error('stop');
    controller.abort(reason);
    expect(await aborted).toBe(reason);
    await vi.advanceTimersByTimeAsync(1000);
    expect(await timedOut).toBeInstanceOf(RecipeTimeoutError);
    await flush();
    expect((await observer.participants()).map((p) => p.sessionId)).toEqual([a.sessionId]);
    await held.release();
  });

  it('releases through await using', async () => {
    const [a] = clients as [ArborClient];
    let path = '';
    {
      await using lease = await new ReadWriteLock(a, '/rw/u').acquireRead();
      path = lease.path;
      expect(ensemble.nodes.has(path)).toBe(true);
    }
    expect(ensemble.nodes.has(path)).toBe(false);
  });

  it('a writer whose session expires learns it (lost), and the readers waiting get the lock', async () => {
    const [a, b, c] = clients as [ArborClient, ArborClient, ArborClient];
    const lease = await new ReadWriteLock(a, '/rw/l').acquireWrite();
    const r1 = new ReadWriteLock(b, '/rw/l').acquireRead();
    const r2 = new ReadWriteLock(c, '/rw/l').acquireRead();
    await waitForParticipants(new ReadWriteLock(b, '/rw/l'), 3);
    ensemble.expireSession(a.sessionId);
    await until(() => lease.lost.aborted, 'lost signal');
    expect(String(lease.lost.reason)).toMatch(/write lock .* may be lost/);
    const granted = await Promise.all([r1, r2]);
    expect(granted.every((g) => g.fencingToken > lease.fencingToken)).toBe(true);
    await lease.release(); // the session is gone: a no-op
    for (const g of granted) await g.release();
  });

  it('a holder is told when its session is suspended', async () => {
    const [a] = clients as [ArborClient];
    const lease = await new ReadWriteLock(a, '/rw/s2').acquireRead();
    const member = ensemble.open().find((c) => c.session?.id === a.sessionId)?.member as number;
    ensemble.kill(member);
    await until(() => lease.lost.aborted, 'lost on suspension');
    expect(String(lease.lost.reason)).toMatch(/suspended/);
    ensemble.revive(member);
  });

  it('a waiter whose session expires fails; commitIfHeld writes only while held', async () => {
    const [a, b] = clients as [ArborClient, ArborClient];
    const held = await new ReadWriteLock(a, '/rw/g').acquireWrite();
    const outcome = new ReadWriteLock(b, '/rw/g').acquireRead().catch((e: unknown) => e);
    await waitForParticipants(new ReadWriteLock(a, '/rw/g'), 2);
    ensemble.expireSession(b.sessionId);
    const error = await outcome;
    expect(error instanceof ContenderGoneError || (error as Error).name === 'SessionExpiredError').toBe(true);
    ensemble.seed('/data', 'v0');
    await held.commitIfHeld([{ op: 'setData', path: '/data', data: 'v1' }]);
    expect(ensemble.dataOf('/data')).toBe('v1');
    ensemble.remove(held.path);
    await expect(held.commitIfHeld([{ op: 'setData', path: '/data', data: 'v2' }])).rejects.toBeInstanceOf(NoNodeError);
    expect(held.lost.aborted).toBe(true);
    await held.release();
  });
});
