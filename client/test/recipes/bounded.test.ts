import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RecipeTimeoutError } from '../../src/index.js';
import { bounded } from '../../src/recipes/queue.js';

/** Lets rejections settle and Node's unhandled-rejection check run. */
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 20));

describe('bounded (the recipes’ deadline and abort race)', () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
  beforeEach(() => {
    unhandled.length = 0;
    process.on('unhandledRejection', onUnhandled);
  });
  afterEach(() => void process.off('unhandledRejection', onUnhandled));

  it('given an aborted signal, rejects with its reason and leaves no rejection of the call unobserved', async () => {
    // As in DistributedQueue.take: a call made with a signal that has just aborted rejects with
    // the signal's reason, and bounded gives up at once without waiting for it. CI saw this
    // surface as an unhandled rejection of "all taken" (recipes-coordination.test.ts).
    const stop = new AbortController();
    stop.abort(new Error('all taken'));
    const call = Promise.reject(stop.signal.reason as Error);
    await expect(bounded(call, { deadlineMs: Infinity, signal: stop.signal, what: 'take /q' })).rejects.toBe(stop.signal.reason);
    await settle();
    expect(unhandled).toEqual([]);
  });

  it('past its deadline, rejects with RecipeTimeoutError, and a later rejection of the call is observed', async () => {
    let fail!: (e: Error) => void;
    const call = new Promise<never>((_, reject) => (fail = reject));
    await expect(bounded(call, { deadlineMs: performance.now() - 1, what: 'acquire /l' })).rejects.toBeInstanceOf(RecipeTimeoutError);
    fail(new Error('connection lost'));
    await settle();
    expect(unhandled).toEqual([]);
  });

  it('aborted while waiting, rejects with the reason; the call rejecting after that is observed', async () => {
    const stop = new AbortController();
    let fail!: (e: Error) => void;
    const call = new Promise<never>((_, reject) => (fail = reject));
    const waiting = bounded(call, { deadlineMs: Infinity, signal: stop.signal, what: 'take /q' });
    stop.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
    fail(new Error('later'));
    await settle();
    expect(unhandled).toEqual([]);
  });

  it('still resolves and rejects with the call when the call settles first', async () => {
    await expect(bounded(Promise.resolve(7), { deadlineMs: Infinity, what: 'x' })).resolves.toBe(7);
    await expect(bounded(Promise.reject(new Error('no node')), { deadlineMs: Infinity, what: 'x' })).rejects.toThrow('no node');
  });
});
