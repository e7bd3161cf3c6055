import { describe, expect, it } from 'vitest';
import { ReplyOrder } from '../../src/core/reply-order.js';

describe('ReplyOrder', () => {
  it('releases answers in request order whatever the order they complete in', () => {
    const out: string[] = [];
    const q = new ReplyOrder<string>((s) => out.push(s));
    const a = q.take();
    const b = q.take();
    const c = q.take();
    q.fill(c, ['c']);
    q.fill(b, ['event-b', 'b']);
    expect(out).toEqual([]);
    expect(q.outstanding).toBe(3);
    q.fill(a, ['a']);
    expect(out).toEqual(['a', 'event-b', 'b', 'c']);
    expect(q.outstanding).toBe(0);
  });

  it('refuses a ticket filled twice or never taken', () => {
    const q = new ReplyOrder<number>(() => undefined);
    const t = q.take();
    q.fill(t, [1]);
    expect(() => q.fill(t, [1])).toThrow(/not waiting/);
    expect(() => q.fill(99, [1])).toThrow(/not waiting/);
  });

  it('clear drops waiting slots and later tickets still work', () => {
    const out: number[] = [];
    const q = new ReplyOrder<number>((n) => out.push(n));
    const first = q.take();
    q.take();
    expect(q.clear()).toBe(2);
    expect(() => q.fill(first, [1])).toThrow(/not waiting/);
    const next = q.take();
    q.fill(next, [7]);
    expect(out).toEqual([7]);
  });

  it('keeps order over a long seeded run', () => {
    const out: number[] = [];
    const q = new ReplyOrder<number>((n) => out.push(n));
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const waiting: number[] = [];
    for (let i = 0; i < 2000; i++) {
      waiting.push(q.take());
      if (rand(3) === 0 || i === 1999) {
        while (waiting.length > 0) {
          const [t] = waiting.splice(rand(waiting.length), 1);
          q.fill(t!, [t!]);
        }
      }
    }
    expect(out).toEqual(Array.from({ length: 2000 }, (_, i) => i));
  });

  it('computes a function-filled slot only once every earlier slot is released (read-your-writes)', () => {
    const out: string[] = [];
    const q = new ReplyOrder<string>((s) => out.push(s));
    let state = 'old';
    const write = q.take();
    const read = q.take();
    q.fill(read, () => [`read saw ${state}`]);
    expect(out).toEqual([]);
    state = 'new';
    q.fill(write, ['write done']);
    expect(out).toEqual(['write done', 'read saw new']);
  });
});
