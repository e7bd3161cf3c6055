import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ArborClient } from '../../src/index.js';
import { CounterContentionError, CounterFormatError, CounterRangeError, SharedCounter } from '../../src/recipes/counter/index.js';
import { FakeEnsemble } from '../helpers/fake-ensemble.js';
import { flush, sessions, until } from '../helpers/harness.js';

describe('SharedCounter', () => {
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

  it('reads the initial value until the first write, which creates the node; add returns the new value', async () => {
    const [a] = clients as [ArborClient];
    const counter = new SharedCounter(a, '/c/basic/n', { initialValue: 10 });
    expect(await counter.get()).toBe(10);
    expect(await counter.getVersioned()).toEqual({ value: 10, version: -1 });
    expect(ensemble.nodes.has('/c/basic/n')).toBe(false);
    expect(await counter.add(5)).toBe(15);
    expect(ensemble.dataOf('/c/basic/n')).toBe('15');
    expect(await counter.increment()).toBe(16);
    expect(await counter.decrement()).toBe(15);
    expect(await counter.add(-20)).toBe(-5);
    expect(await counter.get()).toBe(-5);
    await counter.set(7);
    expect(await counter.get()).toBe(7);
  });

  it('concurrent adds from several sessions sum exactly', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.integer({ min: -1000, max: 1000 }), { maxLength: 6 }), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: -5, max: 5 }),
        async (deltasBySession, initialValue) => {
          const path = `/c/sum/${run++}`;
          const results = await Promise.all(
            deltasBySession.flatMap((deltas, s) => {
              const counter = new SharedCounter(clients[s % clients.length] as ArborClient, path, { initialValue });
              // Each session's adds are all in flight at once, racing the other sessions'.
              return deltas.map((d) => counter.add(d));
            }),
          );
          const all = deltasBySession.flat();
          const expected = initialValue + all.reduce((x, y) => x + y, 0);
          expect(results).toHaveLength(all.length);
          expect(await new SharedCounter(clients[0] as ArborClient, path, { initialValue }).get()).toBe(expected);
          // One version per successful add (the first one created the node at version 0).
          if (all.length > 0) expect(ensemble.nodes.get(path)?.stat.version).toBe(all.length - 1);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('compareAndSet succeeds only from the expected value; concurrent CAS increments never lose one', async () => {
    const [a, b] = clients as [ArborClient, ArborClient];
    const counter = new SharedCounter(a, '/c/cas');
    expect(await counter.compareAndSet(1, 2)).toEqual({ succeeded: false, value: 0 });
    expect(await counter.compareAndSet(0, 2)).toEqual({ succeeded: true, value: 2 });
    expect(await new SharedCounter(b, '/c/cas').compareAndSet(0, 9)).toEqual({ succeeded: false, value: 2 });
    // Every session increments by CAS in a loop: the successes add up to the final value.
    let succeeded = 0;
    await Promise.all(
      clients.map(async (client) => {
        const mine = new SharedCounter(client, '/c/cas');
        for (let i = 0; i < 5; i++) {
          for (let tries = 0; tries < 100; tries++) {
            const seen = await mine.get();
            if ((await mine.compareAndSet(seen, seen + 1)).succeeded) {
              succeeded++;
              break;
            }
          }
        }
      }),
    );
    expect(succeeded).toBe(clients.length * 5);
    expect(await counter.get()).toBe(2 + succeeded);
  });

  it('refuses values beyond the safe integers, and non-counter data, writing nothing', async () => {
    const [a] = clients as [ArborClient];
    expect(() => new SharedCounter(a, '/c/r', { initialValue: 0.5 })).toThrow(CounterRangeError);
    const counter = new SharedCounter(a, '/c/r', { initialValue: Number.MAX_SAFE_INTEGER - 1 });
    await expect(counter.add(1.5)).rejects.toBeInstanceOf(CounterRangeError);
    await expect(counter.add(2 ** 53)).rejects.toBeInstanceOf(CounterRangeError);
    expect(await counter.add(1)).toBe(Number.MAX_SAFE_INTEGER);
    await expect(counter.add(1)).rejects.toThrow(/not an integer within/);
    expect(await counter.get()).toBe(Number.MAX_SAFE_INTEGER);
    await expect(counter.compareAndSet(Number.MAX_SAFE_INTEGER, Infinity)).rejects.toBeInstanceOf(CounterRangeError);
    ensemble.set('/c/r', '9007199254740993');
    await expect(counter.get()).rejects.toBeInstanceOf(CounterRangeError);
    ensemble.set('/c/r', 'twelve');
    await expect(counter.add(1)).rejects.toBeInstanceOf(CounterFormatError);
    expect(ensemble.dataOf('/c/r')).toBe('twelve');
  });

  it('gives up after attemptsMax rounds lost to other writers, having added nothing', async () => {
    const [a] = clients as [ArborClient];
    ensemble.seed('/c/busy', '0');
    const counter = new SharedCounter(a, '/c/busy', { attemptsMax: 3 });
    let others = 0;
    // Another writer gets in before every setData of ours.
    ensemble.intercept = (request) => {
      if (request.op === 'setData') {
        others++;
        ensemble.set('/c/busy', String(others * 100));
      }
      return undefined;
    };
    await expect(counter.add(1)).rejects.toBeInstanceOf(CounterContentionError);
    ensemble.intercept = () => undefined;
    expect(others).toBe(3);
    expect(await counter.get()).toBe(300);
  });

  it('an add whose answer is lost is applied exactly once (the write is resent with its request id)', async () => {
    const [a] = clients as [ArborClient];
    const counter = new SharedCounter(a, '/c/lost');
    await counter.add(1);
    let lost = 0;
    ensemble.intercept = (request) => (request.op === 'setData' && lost++ === 0 ? 'loseAnswer' : undefined);
    const adding = counter.add(10);
    for (let i = 0; i < 100 && a.state !== 'reconnected'; i++) await vi.advanceTimersByTimeAsync(50);
    expect(await adding).toBe(11);
    ensemble.intercept = () => undefined;
    expect(await counter.get()).toBe(11);
  });

  it('onChange reports each new value in order, the initial value on deletion, and changes missed during a failover', async () => {
    const [a, b] = clients as [ArborClient, ArborClient];
    const seen: number[] = [];
    const errors: unknown[] = [];
    const watcher = new SharedCounter(b, '/c/w', { initialValue: 3 });
    const subscription = watcher.onChange((value) => seen.push(value), { onError: (e) => errors.push(e) });
    expect(await subscription.ready).toBe(3);
    const writer = new SharedCounter(a, '/c/w', { initialValue: 3 });
    await writer.add(1);
    await until(() => seen.length === 1, 'first change');
    await writer.add(1);
    await until(() => seen.length === 2, 'second change');
    await a.delete('/c/w');
    await until(() => seen.length === 3, 'deletion');
    expect(seen).toEqual([4, 5, 3]);
    // The watcher's member goes away; a change made meanwhile is reported after the reconnect.
    await writer.set(42);
    await until(() => seen.length === 4, 'set');
    const member = ensemble.open().find((conn) => conn.session?.id === b.sessionId)?.member as number;
    ensemble.kill(member);
    await until(() => b.state === 'suspended', 'suspended');
    ensemble.set('/c/w', '43');
    for (let i = 0; i < 100 && b.state !== 'reconnected'; i++) await vi.advanceTimersByTimeAsync(50);
    ensemble.revive(member);
    await until(() => seen.length === 5, 'missed change reported');
    expect(seen).toEqual([4, 5, 3, 42, 43]);
    subscription.close();
    await writer.add(1);
    await flush();
    expect(seen).toHaveLength(5);
    expect(errors).toEqual([]);
  });

  it('onChange ends through onError when the session is lost', async () => {
    const [a, b] = clients as [ArborClient, ArborClient];
    const errors: unknown[] = [];
    const subscription = new SharedCounter(b, '/c/e').onChange(() => undefined, { onError: (e) => errors.push(e) });
    await subscription.ready;
    await new SharedCounter(a, '/c/e').add(1);
    await flush();
    ensemble.expireSession(b.sessionId);
    await until(() => errors.length === 1, 'onError');
    expect((errors[0] as Error).name).toBe('SessionExpiredError');
  });
});
