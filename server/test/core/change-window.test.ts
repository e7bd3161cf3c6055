import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { EventType } from '@arbor/protocol';
import type { WatchTrigger } from '@arbor/protocol';
import { ChangeWindow, reregisterOneShot } from '../../src/core/change-window.js';
import type { OneShotNodeStat, ReplayResult } from '../../src/core/change-window.js';
import { WatchRegistry } from '../../src/core/watch-registry.js';
import { change } from './triggers.js';

const T = EventType;
const brief = (result: ReplayResult): unknown => (result.truncated ? result : result.triggers.map((t) => [t.type, t.path, t.zxid]));

function windowWith(options: { changesMax?: number; bytesMax?: number } = {}): ChangeWindow {
  const window = new ChangeWindow({ startZxid: 0, ...options });
  window.record(change.create('/a', 1));
  window.record(change.setData('/a', 2));
  window.record(change.create('/a/b', 3));
  window.record(change.create('/a/b/c', 4));
  window.record(change.setData('/ab', 5));
  window.record(change.delete('/a/b/c', 6));
  return window;
}

describe('ChangeWindow.since', () => {
  const cases: [string, number, { persistent?: string[]; persistentRecursive?: string[] }, unknown][] = [
    [
      'persistent: the path itself and its direct children',
      0,
      { persistent: ['/a'] },
      [
        [T.NodeCreated, '/a', 1],
        [T.NodeDataChanged, '/a', 2],
        [T.NodeChildrenChanged, '/a', 3],
      ],
    ],
    ['only changes after the zxid', 2, { persistent: ['/a'] }, [[T.NodeChildrenChanged, '/a', 3]]],
    ['nothing after the newest zxid', 6, { persistent: ['/a'], persistentRecursive: ['/'] }, []],
    [
      'recursive: the subtree, never NodeChildrenChanged',
      2,
      { persistentRecursive: ['/a'] },
      [
        [T.NodeCreated, '/a/b', 3],
        [T.NodeCreated, '/a/b/c', 4],
        [T.NodeDeleted, '/a/b/c', 6],
      ],
    ],
    ["recursive: '/ab' is not under '/a'", 4, { persistentRecursive: ['/a'] }, [[T.NodeDeleted, '/a/b/c', 6]]],
    [
      'recursive on the root',
      3,
      { persistentRecursive: ['/'] },
      [
        [T.NodeCreated, '/a/b/c', 4],
        [T.NodeDataChanged, '/ab', 5],
        [T.NodeDeleted, '/a/b/c', 6],
      ],
    ],
    [
      'persistent and recursive together: each change once, in order',
      3,
      { persistent: ['/a/b', '/a/b/c'], persistentRecursive: ['/a/b'] },
      [
        [T.NodeCreated, '/a/b/c', 4],
        [T.NodeChildrenChanged, '/a/b', 4],
        [T.NodeDeleted, '/a/b/c', 6],
        [T.NodeChildrenChanged, '/a/b', 6],
      ],
    ],
    ['persistent on a path that never existed', 0, { persistent: ['/none'] }, []],
    ['no watches', 0, {}, []],
  ];
  it.each(cases)('%s', (_name, zxid, filter, expected) => {
    expect(brief(windowWith().since(zxid, filter))).toEqual(expected);
  });

  it('applies the same rules with many recursive watches (looked up by ancestor)', () => {
    const many = ['/a/b', ...Array.from({ length: 12 }, (_, i) => `/other${i}`)];
    expect(brief(windowWith().since(2, { persistentRecursive: many }))).toEqual([
      [T.NodeCreated, '/a/b', 3],
      [T.NodeCreated, '/a/b/c', 4],
      [T.NodeDeleted, '/a/b/c', 6],
    ]);
    expect(brief(windowWith().since(0, { persistentRecursive: [...many, '/'] }))).toHaveLength(6);
  });

  it('keeps triggers in the order recorded within one zxid (a multi)', () => {
    const window = new ChangeWindow({ startZxid: 10 });
    const multi = [...change.create('/m', 11), ...change.setData('/m', 11), ...change.delete('/m', 11)];
    window.record(multi);
    expect(window.since(10, { persistent: ['/m'] })).toEqual({ truncated: false, triggers: multi.filter((t) => t.path === '/m') });
  });
});

describe('ChangeWindow bounds', () => {
  it('reports truncation once the window no longer reaches back', () => {
    const window = windowWith({ changesMax: 5 });
    // 10 triggers recorded; the oldest five (zxids 1..3) are gone, so the floor is 3.
    expect(window.floorZxid).toBe(3);
    expect(window.size).toBe(5);
    expect(window.since(2, { persistent: ['/a'] })).toEqual({ truncated: true, floorZxid: 3 });
    expect(window.since(0, {})).toEqual({ truncated: true, floorZxid: 3 });
    expect(brief(window.since(3, { persistentRecursive: ['/'] }))).toEqual([
      [T.NodeCreated, '/a/b/c', 4],
      [T.NodeDataChanged, '/ab', 5],
      [T.NodeDeleted, '/a/b/c', 6],
    ]);
  });

  it('drops the rest of a zxid whose first changes were evicted, never replaying half a multi', () => {
    const window = new ChangeWindow({ startZxid: 0, changesMax: 2 });
    window.record(change.create('/x', 1));
    window.record([...change.create('/y', 2), ...change.setData('/y', 2)]);
    // 5 triggers over a limit of 2: both of zxid 1 go, then one of zxid 2, so the rest of 2 goes too.
    expect(window.floorZxid).toBe(2);
    expect(window.size).toBe(0);
    expect(window.since(2, { persistentRecursive: ['/'] })).toEqual({ truncated: false, triggers: [] });
    expect(window.since(1, { persistentRecursive: ['/'] })).toMatchObject({ truncated: true });
  });

  it('is bounded by bytes as well as by count', () => {
    const window = new ChangeWindow({ startZxid: 0, bytesMax: 2_000 });
    for (let zxid = 1; zxid <= 100; zxid++) window.record(change.setData(`/${'n'.repeat(100)}`, zxid));
    expect(window.bytes).toBeLessThanOrEqual(2_000);
    expect(window.size).toBeGreaterThan(0);
    expect(window.size).toBeLessThan(100);
    expect(window.floorZxid).toBe(100 - window.size);
    expect(window.lastZxid).toBe(100);
  });

  it('holds a long stream in bounded memory and still replays the recent part', () => {
    const window = new ChangeWindow({ startZxid: 0, changesMax: 1_000 });
    for (let zxid = 1; zxid <= 20_000; zxid++) window.record(change.setData(`/k${zxid % 7}`, zxid));
    expect(window.size).toBe(1_000);
    expect(window.floorZxid).toBe(19_000);
    const result = window.since(19_990, { persistent: ['/k0'] });
    expect(brief(result)).toEqual([
      [T.NodeDataChanged, '/k0', 19_992],
      [T.NodeDataChanged, '/k0', 19_999],
    ]);
  });

  it('restarts after a snapshot install', () => {
    const window = windowWith();
    window.reset(50);
    expect(window.size).toBe(0);
    expect(window.bytes).toBe(0);
    expect(window.since(6, { persistent: ['/a'] })).toEqual({ truncated: true, floorZxid: 50 });
    window.record(change.setData('/a', 51));
    expect(brief(window.since(50, { persistent: ['/a'] }))).toEqual([[T.NodeDataChanged, '/a', 51]]);
    expect(() => window.reset(40)).toThrow(/invariant/);
  });

  it('treats changes out of zxid order as a bug', () => {
    const window = windowWith();
    expect(() => window.record(change.setData('/a', 5))).toThrow(/invariant.*zxid 5 recorded after zxid 6/);
    const fresh = new ChangeWindow({ startZxid: 10 });
    expect(() => fresh.record(change.setData('/a', 10))).toThrow(/at or below the window floor/);
  });

  it('refuses bad settings', () => {
    expect(() => new ChangeWindow({ startZxid: -1 })).toThrow(RangeError);
    expect(() => new ChangeWindow({ startZxid: 0, changesMax: 1.5 })).toThrow(RangeError);
    expect(() => new ChangeWindow({ startZxid: 0, bytesMax: -1 })).toThrow(RangeError);
  });
});

describe('replay agrees with live delivery', () => {
  // A connection holding only persistent watches must be told, on replay from zxid z, exactly
  // what the registry would have delivered to it live for the changes after z.
  const pathArb = fc.constantFrom('/', '/a', '/a/b', '/a/b/c', '/ab', '/b');
  const changeArb = fc.record({
    name: fc.constantFrom('create' as const, 'setData' as const, 'delete' as const),
    path: pathArb.filter((p) => p !== '/'),
  });
  it('for random histories and watches', () => {
    fc.assert(
      fc.property(
        fc.array(changeArb, { minLength: 1, maxLength: 40 }),
        fc.uniqueArray(pathArb, { maxLength: 3 }),
        fc.uniqueArray(pathArb, { maxLength: 3 }),
        fc.nat(),
        fc.integer({ min: 1, max: 80 }),
        (changes, persistent, recursive, cut, changesMax) => {
          const window = new ChangeWindow({ startZxid: 0, changesMax });
          const registry = new WatchRegistry();
          for (const p of persistent) registry.add(1, p, 'persistent');
          for (const p of recursive) registry.add(1, p, 'persistentRecursive');
          const since = cut % (changes.length + 1);
          const live: WatchTrigger[] = [];
          changes.forEach(({ name, path }, i) => {
            const triggers = change[name](path, i + 1);
            window.record(triggers);
            const delivered = registry.fire(triggers).map((d) => d.event);
            if (i + 1 > since) live.push(...delivered);
          });
          const result = window.since(since, { persistent, persistentRecursive: recursive });
          if (since < window.floorZxid) expect(result).toEqual({ truncated: true, floorZxid: window.floorZxid });
          else expect(result).toEqual({ truncated: false, triggers: live });
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('reregisterOneShot (ZooKeeper setWatches rules)', () => {
  const nodes = new Map<string, OneShotNodeStat>([
    ['/old', { mzxid: 5, pzxid: 5 }],
    ['/data-moved', { mzxid: 12, pzxid: 5 }],
    ['/kids-moved', { mzxid: 5, pzxid: 12 }],
    ['/at-last', { mzxid: 10, pzxid: 10 }],
  ]);
  const lookup = (path: string): OneShotNodeStat | undefined => nodes.get(path);
  const none: { data: string[]; exist: string[]; child: string[] } = { data: [], exist: [], child: [] };
  const cases: [string, Partial<typeof none>, [EventType, string][], [string, string][]][] = [
    ['data watch, node unchanged: armed', { data: ['/old'] }, [], [['/old', 'data']]],
    ['data watch, changed at exactly lastZxid: armed', { data: ['/at-last'] }, [], [['/at-last', 'data']]],
    ['data watch, mzxid > lastZxid: NodeDataChanged', { data: ['/data-moved'] }, [[T.NodeDataChanged, '/data-moved']], []],
    ['data watch, children changed only: armed', { data: ['/kids-moved'] }, [], [['/kids-moved', 'data']]],
    ['data watch, node gone: NodeDeleted', { data: ['/gone'] }, [[T.NodeDeleted, '/gone']], []],
    ['exist watch, node still missing: armed', { exist: ['/gone'] }, [], [['/gone', 'exist']]],
    ['exist watch, node exists: NodeCreated', { exist: ['/old'] }, [[T.NodeCreated, '/old']], []],
    ['child watch, unchanged: armed', { child: ['/old'] }, [], [['/old', 'child']]],
    ['child watch, pzxid > lastZxid: NodeChildrenChanged', { child: ['/kids-moved'] }, [[T.NodeChildrenChanged, '/kids-moved']], []],
    ['child watch, data changed only: armed', { child: ['/data-moved'] }, [], [['/data-moved', 'child']]],
    ['child watch, node gone: NodeDeleted', { child: ['/gone'] }, [[T.NodeDeleted, '/gone']], []],
    ['data and child watch on a deleted node: one NodeDeleted', { data: ['/gone'], child: ['/gone'] }, [[T.NodeDeleted, '/gone']], []],
    [
      'the same path twice: once',
      { data: ['/old', '/old'], child: ['/kids-moved', '/kids-moved'] },
      [[T.NodeChildrenChanged, '/kids-moved']],
      [['/old', 'data']],
    ],
    [
      'data, exist, child in that order',
      { child: ['/kids-moved'], exist: ['/old'], data: ['/data-moved'] },
      [
        [T.NodeDataChanged, '/data-moved'],
        [T.NodeCreated, '/old'],
        [T.NodeChildrenChanged, '/kids-moved'],
      ],
      [],
    ],
  ];
  it.each(cases)('%s', (_name, lists, events, arm) => {
    const result = reregisterOneShot({ lastZxid: 10, ...none, ...lists }, lookup, 20);
    expect(result.events).toEqual(events.map(([type, path]) => ({ type, path, zxid: 20 })));
    expect(result.arm.map((w) => [w.path, w.kind])).toEqual(arm);
  });

  it('arms what the registry accepts, so the next change fires', () => {
    const registry = new WatchRegistry();
    const { arm } = reregisterOneShot({ lastZxid: 10, data: ['/old'], exist: ['/gone'], child: ['/old'] }, lookup, 20);
    for (const w of arm) registry.add(1, w.path, w.kind);
    const fired = registry.fire([...change.setData('/old', 21), ...change.create('/gone', 22)]).map((d) => [d.event.type, d.event.path]);
    expect(fired).toEqual([
      [T.NodeDataChanged, '/old'],
      [T.NodeCreated, '/gone'],
    ]);
  });
});
