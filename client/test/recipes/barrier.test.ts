import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ArborClient } from '../../src/index.js';
import { RecipeTimeoutError } from '../../src/index.js';
import { Barrier } from '../../src/recipes/barrier/index.js';
import { FakeEnsemble } from '../helpers/fake-ensemble.js';
import { flush, sessions, until } from '../helpers/harness.js';

const memberOf = (ensemble: FakeEnsemble, client: ArborClient): number =>
  ensemble.open().find((c) => c.session?.id === client.sessionId)?.member as number;

describe('Barrier', () => {
  let ensemble: FakeEnsemble;
  let clients: ArborClient[];
  beforeEach(async () => {
    vi.useFakeTimers();
    ensemble = new FakeEnsemble(3);
    clients = await sessions(ensemble, 4);
  });
  afterEach(async () => {
    await Promise.all(clients.map((c) => c.close()));
    vi.useRealTimers();
  });

  it('passes at once when the barrier is down', async () => {
    const [a] = clients as [ArborClient];
    await new Barrier(a, '/b/none').waitOnBarrier({ timeoutMs: 1000 });
    expect(await new Barrier(a, '/b/none').isSet()).toBe(false);
  });

  it('setBarrier and removeBarrier say whether they changed anything', async () => {
    const [a, b] = clients as [ArborClient, ArborClient];
    expect(await new Barrier(a, '/b/s/deep').setBarrier()).toBe(true);
    expect(await new Barrier(b, '/b/s/deep').setBarrier()).toBe(false);
    expect(await new Barrier(b, '/b/s/deep').isSet()).toBe(true);
    expect(await new Barrier(b, '/b/s/deep').removeBarrier()).toBe(true);
    expect(await new Barrier(a, '/b/s/deep').removeBarrier()).toBe(false);
  });

  it('nobody passes while the barrier is up; everyone passes once it is removed, by watch and not by polling', async () => {
    const [owner, ...waiters] = clients as [ArborClient, ...ArborClient[]];
    await new Barrier(owner, '/b/w').setBarrier();
    let removed = false;
    const passedEarly: number[] = [];
    let passed = 0;
    const waits = waiters.map((c, i) =>
      new Barrier(c, '/b/w').waitOnBarrier().then(() => {
        if (!removed) passedEarly.push(i);
        passed++;
      }),
    );
    const existsBefore = (): number => ensemble.allRequests().filter((r) => r.op === 'exists').length;
    await until(() => ensemble.open().filter((c) => c.watches.data.has('/b/w')).length === waiters.length, 'every waiter watches');
    // Each waiter synced its member before reading (a barrier raised elsewhere is seen even
    // through a member that lags): sync comes before the watching read on every connection.
    for (const c of ensemble.open().filter((x) => x.watches.data.has('/b/w'))) {
      const ops = c.requests.map((r) => r.op);
      expect(ops.indexOf('sync')).toBeGreaterThanOrEqual(0);
      expect(ops.indexOf('sync')).toBeLessThan(ops.lastIndexOf('getData'));
    }
    const settled = existsBefore();
    // Time passes: a polling waiter would ask again.
    await vi.advanceTimersByTimeAsync(5000);
    expect(existsBefore()).toBe(settled);
    expect(passed).toBe(0);
    // A change of the node's data is not a removal.
    await owner.setData('/b/w', 'still up');
    await flush();
    expect(passed).toBe(0);
    removed = true;
    await new Barrier(owner, '/b/w').removeBarrier();
    await Promise.all(waits);
    expect(passedEarly).toEqual([]);
    expect(passed).toBe(waiters.length);
  });

  it('a removal lets waiters pass even if the barrier is set again at once', async () => {
    const [owner, waiter] = clients as [ArborClient, ArborClient];
    const barrier = new Barrier(owner, '/b/again');
    await barrier.setBarrier();
    const wait = new Barrier(waiter, '/b/again').waitOnBarrier();
    await until(() => ensemble.open().some((c) => c.session?.id === waiter.sessionId && c.watches.data.has('/b/again')), 'watching');
    await Promise.all([barrier.removeBarrier(), barrier.setBarrier()]);
    await wait;
    expect(await barrier.isSet()).toBe(true);
  });

  it('gives up after timeoutMs, and when aborted', async () => {
    const [owner, waiter] = clients as [ArborClient, ArborClient];
    await new Barrier(owner, '/b/t').setBarrier();
    const timed = new Barrier(waiter, '/b/t').waitOnBarrier({ timeoutMs: 1000 }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(999);
    await flush();
    const controller = new AbortController();
    const aborted = new Barrier(waiter, '/b/t').waitOnBarrier({ signal: controller.signal }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(1);
    expect(await timed).toBeInstanceOf(RecipeTimeoutError);
    const reason = new Error('stop');
    controller.abort(reason);
    expect(await aborted).toBe(reason);
  });

  it('a waiter rides out the loss of its member and passes when the barrier goes', async () => {
    const [owner, waiter] = clients as [ArborClient, ArborClient];
    await new Barrier(owner, '/b/f').setBarrier();
    let passed = false;
    const wait = new Barrier(waiter, '/b/f').waitOnBarrier().then(() => (passed = true));
    await until(() => ensemble.open().some((c) => c.session?.id === waiter.sessionId && c.watches.data.has('/b/f')), 'watching');
    const member = memberOf(ensemble, waiter);
    ensemble.kill(member);
    await until(() => waiter.state === 'suspended', 'suspended');
    // Removed (by another client) while the waiter is away: the re-registered watch reports it.
    ensemble.remove('/b/f');
    expect(passed).toBe(false);
    for (let i = 0; i < 100 && waiter.state !== 'reconnected'; i++) await vi.advanceTimersByTimeAsync(50);
    expect(waiter.state).toBe('reconnected');
    await wait;
    expect(passed).toBe(true);
    ensemble.revive(member);
  });

  it('a waiter whose session is lost rejects with the session error', async () => {
    const [owner, waiter] = clients as [ArborClient, ArborClient];
    await new Barrier(owner, '/b/x').setBarrier();
    const outcome = new Barrier(waiter, '/b/x').waitOnBarrier().catch((e: unknown) => e);
    await until(() => ensemble.open().some((c) => c.session?.id === waiter.sessionId && c.watches.data.has('/b/x')), 'watching');
    ensemble.expireSession(waiter.sessionId);
    const error = (await outcome) as Error;
    expect(error.name).toBe('SessionExpiredError');
    // The barrier itself is persistent: still up.
    expect(await new Barrier(owner, '/b/x').isSet()).toBe(true);
  });
});
