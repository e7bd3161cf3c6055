import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ChildList, SUBLIST_PAIRS_MAX } from '../src/child-list.js';

/** The naive model: a sorted array of [name, id]. */
class Model {
  entries: [string, number][] = [];
  has(name: string): boolean {
    return this.entries.some(([n]) => n === name);
  }
  insert(name: string, id: number): void {
    this.entries.push([name, id]);
    this.entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }
  remove(name: string): number {
    const i = this.entries.findIndex(([n]) => n === name);
    return this.entries.splice(i, 1)[0]![1];
  }
  page(after: string | undefined, limit: number): { names: string[]; more: boolean } {
    const rest = this.entries.map(([n]) => n).filter((n) => after === undefined || n > after);
    return { names: rest.slice(0, limit), more: rest.length > limit };
  }
}

type Step = { kind: 'insert' | 'remove'; key: number } | { kind: 'page'; after: number | null; limit: number };

const name = (k: number): string => `c${(k * 2654435761) % 100003}`.padEnd(6, '_');

function check(steps: Step[], keySpace: number): void {
  const list = new ChildList();
  const model = new Model();
  let nextId = 0;
  for (const step of steps) {
    if (step.kind === 'page') {
      const after = step.after === null ? undefined : name(step.after % keySpace);
      expect(list.page(after, step.limit)).toEqual(model.page(after, step.limit));
      continue;
    }
    const n = name(step.key % keySpace);
    if (step.kind === 'insert' && !model.has(n)) {
      list.insert(n, nextId);
      model.insert(n, nextId++);
    } else if (step.kind === 'remove' && model.has(n)) {
      expect(list.remove(n)).toBe(model.remove(n));
    }
    expect(list.size).toBe(model.entries.length);
  }
  for (const [n, id] of model.entries) expect(list.get(n)).toBe(id);
  expect(list.get('absent')).toBe(-1);
  expect(list.page(undefined, Infinity).names).toEqual(model.entries.map(([n]) => n));
}

describe('ChildList', () => {
  const step = (keys: number): fc.Arbitrary<Step> =>
    fc.oneof(
      { weight: 6, arbitrary: fc.record({ kind: fc.constant('insert' as const), key: fc.nat(keys) }) },
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('remove' as const), key: fc.nat(keys) }) },
      {
        weight: 1,
        arbitrary: fc.record({
          kind: fc.constant('page' as const),
          after: fc.option(fc.nat(keys)),
          limit: fc.integer({ min: 1, max: 50 }),
        }),
      },
    );

  it('agrees with a sorted array while small', () => {
    fc.assert(
      fc.property(fc.array(step(60), { maxLength: 200 }), (steps) => check(steps, 60)),
      { numRuns: 100 },
    );
  });

  it('agrees with a sorted array across splits, merges and the small/large switch', () => {
    const keys = SUBLIST_PAIRS_MAX * 4;
    fc.assert(
      fc.property(fc.array(step(keys), { minLength: 1500, maxLength: 4000 }), (steps) => check(steps, keys)),
      { numRuns: 8 },
    );
  });

  it('fills in order, empties in order, and refills', () => {
    const list = new ChildList();
    const n = SUBLIST_PAIRS_MAX * 5;
    for (let i = 0; i < n; i++) expect(list.append(`k${String(i).padStart(6, '0')}`, i)).toBe(true);
    expect(list.append('k000000', 0)).toBe(false);
    expect(list.page('k000099', 3).names).toEqual(['k000100', 'k000101', 'k000102']);
    for (let i = 0; i < n; i++) expect(list.remove(`k${String(i).padStart(6, '0')}`)).toBe(i);
    expect(list.size).toBe(0);
    expect(list.page(undefined, 5)).toEqual({ names: [], more: false });
    for (let i = n - 1; i >= 0; i--) list.insert(`k${String(i).padStart(6, '0')}`, i);
    expect(list.get('k001234')).toBe(1234);
  });

  it('inserts 200,000 random names without quadratic cost', () => {
    const list = new ChildList();
    const start = performance.now();
    for (let i = 0; i < 200_000; i++) list.insert(`n${(i * 7919) % 200_000}`, i);
    expect(list.size).toBe(200_000);
    expect(performance.now() - start).toBeLessThan(5000);
  });
});
