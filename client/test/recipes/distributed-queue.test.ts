import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ArborClient } from '../../src/index.js';
import { RecipeTimeoutError } from '../../src/index.js';
import { DistributedQueue } from '../../src/recipes/distributed-queue/index.js';
import type { QueueItem } from '../../src/recipes/distributed-queue/index.js';
import { FakeEnsemble } from '../helpers/fake-ensemble.js';
import { flush, sessions, until } from '../helpers/harness.js';

const text = (item: QueueItem): string => new TextDecoder().decode(item.data ?? new Uint8Array());

describe('DistributedQueue', () => {
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

  it('put, peek, size and take: FIFO by sequence with one consumer', async () => {
    const [a] = clients as [ArborClient];
    const queue = new DistributedQueue(a, '/q/basic');
    expect(await queue.size()).toBe(0);
    expect(await queue.peek()).toBeUndefined();
    expect(await queue.poll()).toBeUndefined();
    const puts = [];
    for (const word of ['one', 'two', 'three']) puts.push(await queue.put(word));
    expect(puts.map((p) => p.sequence)).toEqual([...puts.map((p) => p.sequence)].sort((x, y) => x - y));
    expect(await queue.size()).toBe(3);
    const head = await queue.peek();
    expect(head !== undefined && text(head)).toBe('one');
    expect(await queue.size()).toBe(3);
    expect(text(await queue.take())).toBe('one');
    expect(text((await queue.poll()) as QueueItem)).toBe('two');
    const last = await queue.take({ timeoutMs: 1000 });
    expect(text(last)).toBe('three');
    expect(last.sequence).toBe(puts[2]?.sequence);
    expect(await queue.size()).toBe(0);
  });

  it('take waits on an empty queue by watching its children, and a put wakes it', async () => {
    const [a, b] = clients as [ArborClient, ArborClient];
    let got: QueueItem | undefined;
    const taking = new DistributedQueue(a, '/q/wait').take().then((item) => (got = item));
    await until(() => ensemble.open().some((c) => c.watches.child.has('/q/wait')), 'watching children');
    await flush();
    const requests = (): number => ensemble.allRequests().filter((r) => r.op !== 'ping').length;
    const before = requests();
    await vi.advanceTimersByTimeAsync(5000);
    expect(requests()).toBe(before);
    expect(got).toBeUndefined();
    await new DistributedQueue(b, '/q/wait').put('hello');
    await taking;
    expect(got !== undefined && text(got)).toBe('hello');
  });

  it('take gives up after timeoutMs or on abort, taking nothing', async () => {
    const [a, b] = clients as [ArborClient, ArborClient];
    const timed = new DistributedQueue(a, '/q/t').take({ timeoutMs: 1000 }).catch((e: unknown) => e);
    const controller = new AbortController();
    const aborted = new DistributedQueue(b, '/q/t').take({ signal: controller.signal }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(1000);
    expect(await timed).toBeInstanceOf(RecipeTimeoutError);
    const reason = new Error('stop');
    controller.abort(reason);
    expect(await aborted).toBe(reason);
    await new DistributedQueue(a, '/q/t').put('kept');
    expect(await new DistributedQueue(a, '/q/t').size()).toBe(1);
  });

  it('every item is taken exactly once, FIFO per producer, with several producers and consumers', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 1, max: 3 }),
        async (perProducer, consumerCount) => {
          const path = `/q/p${run++}`;
          const total = perProducer.reduce((x, y) => x + y, 0);
          const stop = new AbortController();
          const takenBy: QueueItem[][] = Array.from({ length: consumerCount }, () => []);
          let taken = 0;
          const consumers = takenBy.map(async (mine, i) => {
            const queue = new DistributedQueue(clients[i % clients.length] as ArborClient, path);
            for (let round = 0; round <= total && taken < total; round++) {
              try {
                mine.push(await queue.take({ signal: stop.signal }));
              } catch (error) {
                if (error === stop.signal.reason) return;
                throw error;
              }
              if (++taken === total) stop.abort(new Error('all taken'));
            }
          });
          const producers = perProducer.map(async (n, p) => {
            const queue = new DistributedQueue(clients[(p + 1) % clients.length] as ArborClient, path);
            for (let k = 0; k < n; k++) await queue.put(`${p}:${k}`);
          });
          await Promise.all(producers);
          if (total === 0) stop.abort(new Error('nothing to take'));
          await Promise.all(consumers);
          const all = takenBy.flat();
          // Exactly once: every item put is taken, none twice.
          expect(all.map(text).sort()).toEqual(perProducer.flatMap((n, p) => Array.from({ length: n }, (_, k) => `${p}:${k}`)).sort());
          // Each consumer takes in increasing sequence order...
          for (const mine of takenBy) expect(mine.map((i) => i.sequence)).toEqual([...mine.map((i) => i.sequence)].sort((x, y) => x - y));
          // ...and each producer's items carry increasing sequences in put order (FIFO per producer).
          for (let p = 0; p < perProducer.length; p++) {
            const ofP = all.filter((i) => text(i).startsWith(`${p}:`)).sort((x, y) => x.sequence - y.sequence);
            expect(ofP.map(text)).toEqual(ofP.map((_, k) => `${p}:${k}`));
          }
          expect(await new DistributedQueue(clients[0] as ArborClient, path).size()).toBe(0);
        },
      ),
      { numRuns: 25 },
    );
  });

  it('a claim whose answer is lost is resent once: the item is returned, not lost, not doubled', async () => {
    const [a, b] = clients as [ArborClient, ArborClient];
    const queue = new DistributedQueue(a, '/q/lost');
    await queue.put('x');
    await queue.put('y');
    let lost = 0;
    ensemble.intercept = (request) => (request.op === 'delete' && lost++ === 0 ? 'loseAnswer' : undefined);
    const taking = queue.take();
    for (let i = 0; i < 100 && a.state !== 'reconnected'; i++) await vi.advanceTimersByTimeAsync(50);
    const item = await taking;
    expect(text(item)).toBe('x');
    expect(lost).toBeGreaterThan(0);
    ensemble.intercept = () => undefined;
    expect(text(await new DistributedQueue(b, '/q/lost').take())).toBe('y');
    expect(await queue.size()).toBe(0);
  });

  it('a waiting consumer rides out the loss of its member; a session loss rejects it', async () => {
    const [a, b, c] = clients as [ArborClient, ArborClient, ArborClient];
    const taking = new DistributedQueue(a, '/q/f').take();
    await until(() => ensemble.open().some((conn) => conn.session?.id === a.sessionId && conn.watches.child.has('/q/f')), 'watching');
    const member = ensemble.open().find((conn) => conn.session?.id === a.sessionId)?.member as number;
    ensemble.kill(member);
    await until(() => a.state === 'suspended', 'suspended');
    for (let i = 0; i < 100 && a.state !== 'reconnected'; i++) await vi.advanceTimersByTimeAsync(50);
    ensemble.revive(member);
    await new DistributedQueue(b, '/q/f').put('after failover');
    expect(text(await taking)).toBe('after failover');

    const lost = new DistributedQueue(c, '/q/f').take().catch((e: unknown) => e);
    await until(() => ensemble.open().some((conn) => conn.session?.id === c.sessionId && conn.watches.child.has('/q/f')), 'c watching');
    ensemble.expireSession(c.sessionId);
    expect(((await lost) as Error).name).toBe('SessionExpiredError');
  });
});
