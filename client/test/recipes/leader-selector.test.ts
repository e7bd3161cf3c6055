import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ArborClient, LeaderLatch } from '../../src/index.js';
import { LeaderSelector } from '../../src/recipes/leader-selector/index.js';
import type { LeadershipGrant } from '../../src/recipes/leader-selector/index.js';
import { FakeEnsemble, connectString } from '../helpers/fake-ensemble.js';
import { flush, inOrder, until } from '../helpers/harness.js';

/** Resolves when the signal aborts. */
const aborted = (signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));

describe('LeaderSelector', () => {
  let ensemble: FakeEnsemble;
  let clients: ArborClient[];
  beforeEach(async () => {
    vi.useFakeTimers();
    ensemble = new FakeEnsemble(3);
    clients = Array.from(
      { length: 3 },
      () => new ArborClient(connectString(3), { transport: ensemble.transport, random: inOrder, sessionTimeoutMs: 9000 }),
    );
    await until(() => clients.every((c) => c.state === 'connected'), 'all connected');
  });
  afterEach(async () => {
    await Promise.all(clients.map((c) => c.close()));
    vi.useRealTimers();
  });

  it('never has two leaders; with autoRequeue every participant leads in turn, again and again', async () => {
    let leading = 0;
    let maxLeading = 0;
    const terms: string[] = [];
    const tokens: number[] = [];
    const selectors = clients.map(
      (client, i) =>
        new LeaderSelector(client, '/election/s', {
          id: `p${i}`,
          autoRequeue: true,
          takeLeadership: async (_signal, grant: LeadershipGrant) => {
            leading++;
            maxLeading = Math.max(maxLeading, leading);
            terms.push(`p${i}`);
            tokens.push(grant.fencingToken);
            await flush(30);
            leading--;
          },
        }),
    );
    for (const s of selectors) s.start();
    await until(() => terms.length >= 9, 'nine terms', 200_000);
    await Promise.all(selectors.map((s) => s.close()));
    expect(maxLeading).toBe(1);
    expect(new Set(terms.slice(0, 9))).toEqual(new Set(['p0', 'p1', 'p2']));
    expect([...tokens].sort((x, y) => x - y)).toEqual(tokens);
    expect(await LeaderSelector.leader(clients[0] as ArborClient, '/election/s')).toBeUndefined();
  });

  it('without autoRequeue leads once; requeue() queues again; observers see id and payload', async () => {
    const [a, b] = clients as [ArborClient, ArborClient];
    let release: (() => void) | undefined;
    let termsA = 0;
    const selector = new LeaderSelector(a, '/election/r', {
      id: 'alpha',
      payload: { port: 8080 },
      takeLeadership: () => {
        termsA++;
        return new Promise<void>((resolve) => (release = resolve));
      },
    });
    selector.start();
    await until(() => selector.hasLeadership(), 'leads');
    const observed = await LeaderSelector.leader(b, '/election/r');
    expect(observed).toMatchObject({ id: 'alpha', payload: { port: 8080 }, sessionId: a.sessionId });
    expect((await LeaderLatch.leader(b, '/election/r'))?.id).toBe('alpha');
    release?.();
    await until(() => !selector.hasLeadership(), 'relinquished');
    await flush();
    expect(await selector.leader()).toBeUndefined();
    expect(termsA).toBe(1);
    expect(selector.requeue()).toBe(true);
    await until(() => selector.hasLeadership(), 'leads again');
    expect(termsA).toBe(2);
    release?.();
    await selector.close();
  });

  it('hands leadership to the next participant when the callback returns', async () => {
    const [a, b] = clients as [ArborClient, ArborClient];
    const order: string[] = [];
    let finishA: (() => void) | undefined;
    const sa = new LeaderSelector(a, '/election/h', {
      id: 'a',
      takeLeadership: () => {
        order.push('a');
        return new Promise<void>((resolve) => (finishA = resolve));
      },
    });
    const sb = new LeaderSelector(b, '/election/h', {
      id: 'b',
      takeLeadership: async (signal) => {
        order.push('b');
        await aborted(signal);
      },
    });
    sa.start();
    await until(() => sa.hasLeadership(), 'a leads');
    sb.start();
    await flush(2000);
    expect((await sb.participants()).map((p) => p.id)).toEqual(['a', 'b']);
    expect(order).toEqual(['a']);
    finishA?.();
    await until(() => sb.hasLeadership(), 'b leads');
    expect(order).toEqual(['a', 'b']);
    await sb.close();
    expect(sb.hasLeadership()).toBe(false);
    await sa.close();
  });

  it('the signal aborts on suspension; after the callback returns, the next participant leads', async () => {
    const [a, b] = clients as [ArborClient, ArborClient];
    let abortReason: unknown;
    const sa = new LeaderSelector(a, '/election/x', {
      id: 'a',
      takeLeadership: async (signal) => {
        await aborted(signal);
        abortReason = signal.reason;
      },
    });
    const sb = new LeaderSelector(b, '/election/x', { id: 'b', takeLeadership: (signal) => aborted(signal) });
    sa.start();
    await until(() => sa.hasLeadership(), 'a leads');
    sb.start();
    await flush(2000);
    const member = ensemble.open().find((c) => c.session?.id === a.sessionId)?.member as number;
    ensemble.kill(member);
    await until(() => abortReason !== undefined, 'aborted on suspension');
    expect(String(abortReason)).toMatch(/suspended/);
    expect(sa.hasLeadership()).toBe(false);
    // a reconnects (same session) elsewhere, deletes its node; b is elected.
    for (let i = 0; i < 200 && !sb.hasLeadership(); i++) await vi.advanceTimersByTimeAsync(50);
    expect(sb.hasLeadership()).toBe(true);
    expect((await sb.leader())?.id).toBe('b');
    ensemble.revive(member);
    await sb.close();
    await sa.close();
  });

  it('a leader whose session expires learns it before another is elected', async () => {
    // a can reach member 0 only; b is on member 1.
    const a = new ArborClient('127.0.0.1:21810', { transport: ensemble.transport, random: inOrder, sessionTimeoutMs: 9000 });
    const b = new ArborClient('127.0.0.1:21811,127.0.0.1:21812', {
      transport: ensemble.transport,
      random: inOrder,
      sessionTimeoutMs: 9000,
    });
    clients.push(a, b);
    await until(() => a.state === 'connected' && b.state === 'connected', 'connected');
    const events: string[] = [];
    const sa = new LeaderSelector(a, '/election/e', {
      id: 'a',
      takeLeadership: async (signal) => {
        await aborted(signal);
        events.push('a stops');
      },
    });
    const sb = new LeaderSelector(b, '/election/e', {
      id: 'b',
      takeLeadership: async (signal) => {
        events.push('b leads');
        await aborted(signal);
      },
    });
    sa.start();
    await until(() => sa.hasLeadership(), 'a leads');
    sb.start();
    await flush(2000);
    // The member of a goes silent: a's client suspends on its own clock, before the session can expire.
    const member = ensemble.open().find((c) => c.session?.id === a.sessionId)?.member as number;
    ensemble.silence(member);
    let elapsedMs = 0;
    for (; elapsedMs < 9000 && !events.includes('a stops'); elapsedMs += 50) await vi.advanceTimersByTimeAsync(50);
    expect(events).toEqual(['a stops']);
    expect(elapsedMs).toBeLessThan(9000);
    expect(sb.hasLeadership()).toBe(false);
    ensemble.expireSession(a.sessionId);
    await until(() => sb.hasLeadership(), 'b leads');
    expect(events).toEqual(['a stops', 'b leads']);
    ensemble.revive(member);
    // a's client finds out that its session is gone when it reaches a member again.
    for (let i = 0; i < 400 && a.state !== 'lost'; i++) await vi.advanceTimersByTimeAsync(50);
    expect(a.state).toBe('lost');
    await sa.close();
    await sb.close();
  });

  it('close() aborts a running callback and resolves once it returned and the node is gone; errors are reported', async () => {
    const [a, b] = clients as [ArborClient, ArborClient];
    let returned = false;
    const sa = new LeaderSelector(a, '/election/c', {
      takeLeadership: async (signal) => {
        await aborted(signal);
        await flush(10);
        returned = true;
      },
    });
    sa.start();
    await until(() => sa.hasLeadership(), 'leads');
    await sa.close();
    expect(returned).toBe(true);
    expect(await LeaderSelector.leader(b, '/election/c')).toBeUndefined();

    const errors: unknown[] = [];
    let calls = 0;
    const failing = new LeaderSelector(b, '/election/c', {
      autoRequeue: true,
      takeLeadership: (signal) => {
        calls++;
        if (calls === 1) throw new Error('boom');
        return aborted(signal);
      },
    });
    failing.on('error', (e) => errors.push(e));
    failing.start();
    await until(() => calls === 2, 'requeued after the failure');
    expect(String(errors[0])).toMatch(/boom/);
    await failing.close();
    expect(failing.hasLeadership()).toBe(false);
  });
});
