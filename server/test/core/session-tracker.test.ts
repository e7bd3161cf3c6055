import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LivenessBatcher, SessionTracker, negotiateTimeoutMs } from '../../src/core/session-tracker.js';

describe('negotiateTimeoutMs', () => {
  const bounds = { minMs: 4_000, maxMs: 40_000 };
  it.each([
    [10_000, 10_000],
    [1, 4_000],
    [0, 4_000],
    [-5, 4_000],
    [4_000, 4_000],
    [40_000, 40_000],
    [1e12, 40_000],
    [12_345.6, 12_346],
    [Number.NaN, 4_000],
    [Infinity, 4_000],
  ])('%d ms → %d ms', (requested, expected) => expect(negotiateTimeoutMs(requested, bounds)).toBe(expected));

  it('refuses inconsistent bounds', () => {
    expect(() => negotiateTimeoutMs(5_000, { minMs: 10_000, maxMs: 5_000 })).toThrow(/no less than the minimum/);
    expect(() => negotiateTimeoutMs(5_000, { minMs: 0, maxMs: 5_000 })).toThrow(/positive integer/);
  });
});

describe('SessionTracker', () => {
  it('returns a session again once its expiry was not proposed, and only then', () => {
    const tracker = new SessionTracker({ bucketMs: 100 });
    tracker.add(1, 1_000, 0);
    expect(tracker.expired(1_100)).toEqual([1]);
    expect(tracker.expired(1_200)).toEqual([]);
    tracker.expiryNotProposed(1);
    expect(tracker.isExpiring(1)).toBe(false);
    expect(tracker.expiring).toBe(0);
    expect(tracker.expired(1_200)).toEqual([1]);
    expect(tracker.expiring).toBe(1);
    // Unknown or not expiring: nothing happens.
    tracker.expiryNotProposed(99);
    tracker.add(2, 5_000, 0);
    tracker.expiryNotProposed(2);
    expect(tracker.expired(1_300)).toEqual([]);
  });

  it('expires sessions whose deadline passed, in deadline order, never early', () => {
    const tracker = new SessionTracker({ bucketMs: 100 });
    tracker.add(1, 5_000, 0);
    tracker.add(2, 3_000, 0);
    tracker.add(3, 4_000, 50);
    tracker.add(4, 3_000, 10);
    expect(tracker.expired(2_999)).toEqual([]);
    expect(tracker.expired(3_000)).toEqual([2]);
    expect(tracker.expired(3_100)).toEqual([4]); // deadline 3010, found at the next bucket boundary
    expect(tracker.expired(10_000)).toEqual([3, 1]);
    expect(tracker.expired(20_000)).toEqual([]);
  });

  it('orders sessions within one bucket by exact deadline, then id', () => {
    const tracker = new SessionTracker({ bucketMs: 1_000 });
    tracker.add(9, 1_000, 30);
    tracker.add(8, 1_000, 10);
    tracker.add(7, 1_000, 30);
    expect(tracker.expired(2_000)).toEqual([8, 7, 9]);
  });

  it('extends a deadline on touch', () => {
    const tracker = new SessionTracker({ bucketMs: 100 });
    tracker.add(1, 1_000, 0);
    expect(tracker.touch(1, 900)).toBe(true);
    expect(tracker.expired(1_500)).toEqual([]);
    expect(tracker.deadlineMs(1)).toBe(1_900);
    expect(tracker.expired(1_900)).toEqual([1]);
  });

  it('never moves a deadline back (a late, older liveness report)', () => {
    const tracker = new SessionTracker();
    tracker.add(1, 1_000, 500);
    expect(tracker.touch(1, 200)).toBe(true);
    expect(tracker.deadlineMs(1)).toBe(1_500);
  });

  it('returns an expiring session once, until its close applies', () => {
    const tracker = new SessionTracker({ bucketMs: 10 });
    tracker.add(1, 100, 0);
    expect(tracker.expired(200)).toEqual([1]);
    expect(tracker.isExpiring(1)).toBe(true);
    expect(tracker.expiring).toBe(1);
    // The close is still being committed: pings neither revive it nor get it proposed twice.
    expect(tracker.touch(1, 210)).toBe(false);
    expect(tracker.expired(10_000)).toEqual([]);
    expect(tracker.remainingMs(1, 210)).toBe(0);
    expect(tracker.remove(1)).toBe(true);
    expect(tracker.expiring).toBe(0);
    expect(tracker.has(1)).toBe(false);
    expect(tracker.remove(1)).toBe(false);
    expect(tracker.touch(1, 300)).toBe(false);
  });

  it('bounds one batch and returns the rest later, still in order', () => {
    const tracker = new SessionTracker({ bucketMs: 100, expireBatchMax: 3 });
    for (let id = 1; id <= 8; id++) tracker.add(id, 1_000 + (id % 2) * 500, id);
    const batches = [tracker.expired(5_000), tracker.expired(5_000), tracker.expired(5_000, 1), tracker.expired(5_000)];
    expect(batches).toEqual([[2, 4, 6], [8, 1, 3], [5], [7]]);
  });

  it('gives every session a fresh full timeout on becoming leader', () => {
    const tracker = new SessionTracker({ bucketMs: 100 });
    tracker.add(1, 1_000, 0);
    tracker.add(2, 1_000, 0);
    expect(tracker.expired(1_000)).toEqual([1, 2]);
    // Leadership changed: the close proposals may be lost, and the new term knows no last-heard times.
    tracker.onBecomeLeader(50_000, [
      { id: 1, timeoutMs: 1_000 },
      { id: 2, timeoutMs: 1_000 },
      { id: 3, timeoutMs: 4_000 },
    ]);
    expect(tracker.expiring).toBe(0);
    expect(tracker.size).toBe(3);
    expect(tracker.expired(50_999)).toEqual([]);
    expect(tracker.remainingMs(3, 50_000)).toBe(4_000);
    expect(tracker.expired(51_000)).toEqual([1, 2]);
    expect(tracker.expired(54_000)).toEqual([3]);
  });

  it('forgets sessions that onBecomeLeader does not list', () => {
    const tracker = new SessionTracker();
    tracker.add(1, 1_000, 0);
    tracker.onBecomeLeader(10, []);
    expect(tracker.has(1)).toBe(false);
    expect(tracker.expired(1e9)).toEqual([]);
  });

  it('reports the time left for ping replies', () => {
    const tracker = new SessionTracker();
    tracker.add(1, 10_000, 1_000);
    expect(tracker.remainingMs(1, 1_000)).toBe(10_000);
    expect(tracker.remainingMs(1, 4_000)).toBe(7_000);
    tracker.touch(1, 5_000);
    expect(tracker.remainingMs(1, 5_000)).toBe(10_000);
    expect(tracker.remainingMs(1, 99_000)).toBe(0);
    expect(tracker.remainingMs(2, 0)).toBeUndefined();
  });

  it('restarts a session added twice with its new timeout', () => {
    const tracker = new SessionTracker({ bucketMs: 10 });
    tracker.add(1, 100, 0);
    tracker.add(1, 1_000, 50);
    expect(tracker.size).toBe(1);
    expect(tracker.expired(500)).toEqual([]);
    expect(tracker.expired(1_050)).toEqual([1]);
  });

  it('refuses bad settings and a non-positive timeout', () => {
    expect(() => new SessionTracker({ bucketMs: 0 })).toThrow(RangeError);
    expect(() => new SessionTracker({ expireBatchMax: 0 })).toThrow(RangeError);
    expect(() => new SessionTracker().add(1, 0, 0)).toThrow(/invariant/);
  });

  it('agrees with a naive list of deadlines for random histories', () => {
    type Cmd =
      | { op: 'add'; id: number; timeoutMs: number }
      | { op: 'touch' | 'remove'; id: number }
      | { op: 'advance'; ms: number }
      | { op: 'leader' };
    const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
      fc.record({ op: fc.constant('add' as const), id: fc.integer({ min: 1, max: 12 }), timeoutMs: fc.integer({ min: 1, max: 3_000 }) }),
      fc.record({ op: fc.constantFrom('touch' as const, 'remove' as const), id: fc.integer({ min: 1, max: 12 }) }),
      fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 1_500 }) }),
      fc.record({ op: fc.constant('leader' as const) }),
    );
    fc.assert(
      fc.property(
        fc.array(cmdArb, { maxLength: 80 }),
        fc.integer({ min: 1, max: 250 }),
        fc.integer({ min: 1, max: 5 }),
        (cmds, bucketMs, batchMax) => {
          const tracker = new SessionTracker({ bucketMs, expireBatchMax: batchMax });
          const model = new Map<number, { timeoutMs: number; deadlineMs: number; expiring: boolean }>();
          let now = 0;
          for (const cmd of cmds) {
            if (cmd.op === 'add') {
              tracker.add(cmd.id, cmd.timeoutMs, now);
              model.set(cmd.id, { timeoutMs: cmd.timeoutMs, deadlineMs: now + cmd.timeoutMs, expiring: false });
            } else if (cmd.op === 'touch') {
              const s = model.get(cmd.id);
              const live = s !== undefined && !s.expiring;
              expect(tracker.touch(cmd.id, now)).toBe(live);
              if (live) s.deadlineMs = Math.max(s.deadlineMs, now + s.timeoutMs);
            } else if (cmd.op === 'remove') {
              expect(tracker.remove(cmd.id)).toBe(model.delete(cmd.id));
            } else if (cmd.op === 'leader') {
              tracker.onBecomeLeader(
                now,
                [...model].map(([id, s]) => ({ id, timeoutMs: s.timeoutMs })),
              );
              for (const s of model.values()) Object.assign(s, { deadlineMs: now + s.timeoutMs, expiring: false });
            } else if (cmd.op === 'advance') {
              now += cmd.ms;
              const got = tracker.expired(now);
              expect(got.length).toBeLessThanOrEqual(batchMax);
              const due = [...model].filter(([, s]) => !s.expiring && s.deadlineMs <= now).map(([id]) => id);
              const late = [...model].filter(([, s]) => !s.expiring && s.deadlineMs + bucketMs <= now).map(([id]) => id);
              for (const id of got) {
                const s = model.get(id);
                expect(s !== undefined && !s.expiring && s.deadlineMs <= now).toBe(true); // never early, never twice
                if (s) s.expiring = true;
              }
              const deadlines = got.map((id) => model.get(id)?.deadlineMs ?? -1);
              expect(deadlines).toEqual([...deadlines].sort((a, b) => a - b));
              // At most one bucket late: when the batch was not full, every session that much overdue came out.
              if (got.length < batchMax) for (const id of late) expect(got).toContain(id);
              expect(due.length).toBeGreaterThanOrEqual(got.length);
            }
            for (const [id, s] of model) {
              expect(tracker.isExpiring(id)).toBe(s.expiring);
              expect(tracker.remainingMs(id, now)).toBe(s.expiring ? 0 : Math.max(0, s.deadlineMs - now));
            }
            expect(tracker.size).toBe(model.size);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('expires exactly the untouched sessions among 100k', () => {
    const tracker = new SessionTracker({ bucketMs: 100 });
    const n = 100_000;
    for (let id = 1; id <= n; id++) tracker.add(id, 10_000 + (id % 20) * 1_000, 0);
    // Five rounds of liveness for everyone but every tenth session.
    for (let round = 1; round <= 5; round++) for (let id = 1; id <= n; id++) if (id % 10 !== 0) tracker.touch(id, round * 2_000);
    const expired: number[] = [];
    // Untouched sessions are due by 20 s; the others were last heard at 10 s with timeouts of 11 s or more.
    for (let now = 10_000; now <= 20_000; now += 100) expired.push(...tracker.expired(now, n));
    expect(expired).toHaveLength(n / 10);
    expect(expired.every((id) => id % 10 === 0)).toBe(true);
    expect(tracker.expired(40_000, n)).toHaveLength(n - n / 10);
  });
});

describe('LivenessBatcher', () => {
  it('sends each touched id once per interval', () => {
    const batcher = new LivenessBatcher({ intervalMs: 500 });
    batcher.touch(1);
    batcher.touch(2);
    batcher.touch(1);
    expect(batcher.pending).toBe(2);
    expect(batcher.tick(0)).toEqual([[1, 2]]);
    batcher.touch(3);
    expect(batcher.tick(499)).toEqual([]);
    expect(batcher.tick(500)).toEqual([[3]]);
    expect(batcher.tick(2_000)).toEqual([]);
  });

  it('sends the first touch after a quiet spell at the next tick', () => {
    const batcher = new LivenessBatcher({ intervalMs: 500 });
    batcher.touch(1);
    batcher.tick(0);
    batcher.touch(2);
    expect(batcher.tick(10_000)).toEqual([[2]]);
  });

  it('splits a large batch into messages', () => {
    const batcher = new LivenessBatcher({ batchIdsMax: 2 });
    for (const id of [5, 6, 7, 8, 9]) batcher.touch(id);
    expect(batcher.tick(0)).toEqual([[5, 6], [7, 8], [9]]);
    expect(batcher.pending).toBe(0);
  });

  it('does not report forgotten or cleared sessions', () => {
    const batcher = new LivenessBatcher();
    batcher.touch(1);
    batcher.touch(2);
    batcher.forget(1);
    expect(batcher.tick(0)).toEqual([[2]]);
    batcher.touch(3);
    batcher.clear();
    expect(batcher.tick(10_000)).toEqual([]);
  });

  it('refuses bad settings', () => {
    expect(() => new LivenessBatcher({ intervalMs: -1 })).toThrow(RangeError);
    expect(() => new LivenessBatcher({ batchIdsMax: 0 })).toThrow(RangeError);
  });
});
