import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ArborClient } from '../../src/index.js';
import { ContenderGoneError, RecipeTimeoutError } from '../../src/index.js';
import { DoubleBarrier } from '../../src/recipes/double-barrier/index.js';
import { FakeEnsemble } from '../helpers/fake-ensemble.js';
import { flush, sessions, until } from '../helpers/harness.js';

/** Member nodes under a barrier path, straight from the fake's tree. */
const memberNodes = (ensemble: FakeEnsemble, path: string): string[] =>
  [...(ensemble.nodes.get(path)?.children ?? [])].filter((n) => n.includes('member-'));

describe('DoubleBarrier', () => {
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

  it('rejects a count that is not a positive integer, and leave() before enter()', async () => {
    const [a] = clients as [ArborClient];
    expect(() => new DoubleBarrier(a, '/db/bad', 0)).toThrow(RangeError);
    expect(() => new DoubleBarrier(a, '/db/bad', 1.5)).toThrow(RangeError);
    await expect(new DoubleBarrier(a, '/db/bad', 2).leave()).rejects.toThrow(/leave\(\) while idle/);
  });

  it('nobody passes enter() before count members have entered, and nobody returns from leave() before all have left', async () => {
    const count = 4;
    const barriers = clients.slice(0, count).map((c) => new DoubleBarrier(c, '/db/a', count));
    let entered = 0;
    const passedWith: number[] = [];
    const entering: Promise<void>[] = [];
    for (const [i, barrier] of barriers.entries()) {
      entering.push(barrier.enter().then(() => void passedWith.push(entered)));
      await until(() => memberNodes(ensemble, '/db/a').length === i + 1, `member ${i} in`);
      entered = i + 1;
      // Time passes and every frame is delivered: nobody may pass yet (unless this was the last).
      await vi.advanceTimersByTimeAsync(2000);
      if (entered < count) expect(passedWith).toEqual([]);
    }
    await Promise.all(entering);
    expect(passedWith).toEqual([count, count, count, count]);
    expect(ensemble.nodes.has('/db/a/ready')).toBe(true);

    // Leave one at a time, in an order that puts the lowest member neither first nor last.
    const order = [2, 0, 3, 1];
    let returned = 0;
    const leaving: Promise<void>[] = [];
    for (const [k, i] of order.entries()) {
      leaving.push((barriers[i] as DoubleBarrier).leave().then(() => void returned++));
      await vi.advanceTimersByTimeAsync(2000);
      await flush();
      if (k < order.length - 1) {
        expect(returned).toBe(0);
        expect(memberNodes(ensemble, '/db/a').length).toBeGreaterThan(0);
      }
    }
    await Promise.all(leaving);
    expect(returned).toBe(count);
    expect(memberNodes(ensemble, '/db/a')).toEqual([]);
    // The last one out deleted `ready`: the path is ready for another round.
    await until(() => !ensemble.nodes.has('/db/a/ready'), 'ready deleted');
    expect(barriers.every((b) => b.phase === 'left')).toBe(true);
  });

  it('waiters watch `ready`, not poll: time alone sends no request', async () => {
    const [a, b] = clients as [ArborClient, ArborClient];
    const first = new DoubleBarrier(a, '/db/p', 2).enter();
    await until(() => ensemble.open().some((c) => c.watches.exist.has('/db/p/ready')), 'watching ready');
    await flush();
    const requests = (): number => ensemble.allRequests().filter((r) => r.op !== 'ping').length;
    const before = requests();
    await vi.advanceTimersByTimeAsync(5000);
    expect(requests()).toBe(before);
    const second = new DoubleBarrier(b, '/db/p', 2);
    await Promise.all([first, second.enter()]);
  });

  it('a member beyond count passes at once; a second round on the same path works', async () => {
    const [a, b, c] = clients as [ArborClient, ArborClient, ArborClient];
    const x = new DoubleBarrier(a, '/db/r', 2);
    const y = new DoubleBarrier(b, '/db/r', 2);
    await Promise.all([x.enter(), y.enter()]);
    const late = new DoubleBarrier(c, '/db/r', 2);
    await late.enter();
    await Promise.all([x.leave(), y.leave(), late.leave()]);
    await until(() => !ensemble.nodes.has('/db/r/ready'), 'ready deleted');
    // Round two, with the same objects: again nobody passes alone.
    let passed = 0;
    const again = x.enter().then(() => void passed++);
    await vi.advanceTimersByTimeAsync(2000);
    expect(passed).toBe(0);
    await Promise.all([again, y.enter()]);
    expect(passed).toBe(1);
    await Promise.all([x.leave(), y.leave()]);
  });

  it('enter() gives up after timeoutMs or on abort, removing its member node', async () => {
    const [a, b] = clients as [ArborClient, ArborClient];
    const timed = new DoubleBarrier(a, '/db/t', 3).enter({ timeoutMs: 1000 }).catch((e: unknown) => e);
    const controller = new AbortController();
    const aborted = new DoubleBarrier(b, '/db/t', 3).enter({ signal: controller.signal }).catch((e: unknown) => e);
    await until(() => memberNodes(ensemble, '/db/t').length === 2, 'two in');
    await vi.advanceTimersByTimeAsync(1000);
    expect(await timed).toBeInstanceOf(RecipeTimeoutError);
    const reason = new Error('stop');
    controller.abort(reason);
    expect(await aborted).toBe(reason);
    await until(() => memberNodes(ensemble, '/db/t').length === 0, 'nodes removed');
    expect(ensemble.nodes.has('/db/t/ready')).toBe(false);
  });

  it('a session lost while waiting in enter() rejects with ContenderGoneError, and the member no longer counts', async () => {
    const [a, b, c] = clients as [ArborClient, ArborClient, ArborClient];
    const outcome = new DoubleBarrier(a, '/db/x', 3).enter().catch((e: unknown) => e);
    await until(() => memberNodes(ensemble, '/db/x').length === 1, 'a in');
    ensemble.expireSession(a.sessionId);
    const error = (await outcome) as Error;
    expect(error).toBeInstanceOf(ContenderGoneError);
    expect(error.message).toMatch(/session/);
    expect(memberNodes(ensemble, '/db/x')).toEqual([]);
    // Two more members are not enough: the lost one is not counted.
    let passed = 0;
    const rest = [b, c].map((cl) =>
      new DoubleBarrier(cl, '/db/x', 3).enter({ timeoutMs: 3000 }).then(
        () => void passed++,
        (e: unknown) => e,
      ),
    );
    await vi.advanceTimersByTimeAsync(3000);
    const results = await Promise.all(rest);
    expect(passed).toBe(0);
    expect(results.every((r) => r instanceof RecipeTimeoutError)).toBe(true);
  });

  it('a session lost while waiting in leave() rejects with ContenderGoneError, and the others can still finish', async () => {
    const [a, b, c] = clients as [ArborClient, ArborClient, ArborClient];
    const [x, y, z] = [a, b, c].map((cl) => new DoubleBarrier(cl, '/db/l', 3)) as [DoubleBarrier, DoubleBarrier, DoubleBarrier];
    await Promise.all([x.enter(), y.enter(), z.enter()]);
    const xLeaving = x.leave().catch((e: unknown) => e);
    await flush();
    ensemble.expireSession(a.sessionId);
    const error = (await xLeaving) as Error;
    expect(error).toBeInstanceOf(ContenderGoneError);
    await Promise.all([y.leave(), z.leave()]);
    expect(memberNodes(ensemble, '/db/l')).toEqual([]);
  });

  it('a waiting member rides out the loss of its member and passes when the others arrive', async () => {
    const [a, b, c] = clients as [ArborClient, ArborClient, ArborClient];
    // a's member is member 1 so that b and c (on member 0) keep working while it is down.
    let passed = false;
    const waiting = new DoubleBarrier(a, '/db/f', 3).enter().then(() => (passed = true));
    await until(() => memberNodes(ensemble, '/db/f').length === 1, 'a in');
    const member = ensemble.open().find((conn) => conn.session?.id === a.sessionId)?.member as number;
    ensemble.kill(member);
    await until(() => a.state === 'suspended', 'a suspended');
    for (let i = 0; i < 100 && a.state !== 'reconnected'; i++) await vi.advanceTimersByTimeAsync(50);
    expect(a.state).toBe('reconnected');
    expect(passed).toBe(false);
    await Promise.all([new DoubleBarrier(b, '/db/f', 3).enter(), new DoubleBarrier(c, '/db/f', 3).enter()]);
    await waiting;
    expect(passed).toBe(true);
    ensemble.revive(member);
  });
});
