import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ArborError, ErrorCode, EventType, WatcherType, isPathUnder } from '@arbor/protocol';
import type { WatchTrigger } from '@arbor/protocol';
import { WatchRegistry } from '../../src/core/watch-registry.js';
import type { ConnectionId, WatchDelivery, WatchKind } from '../../src/core/watch-registry.js';
import { change } from './triggers.js';
import type { ChangeName } from './triggers.js';

const T = EventType;
type Step = [ChangeName, string];
type Delivered = [ConnectionId, EventType, string];

function deliveries(registry: WatchRegistry, steps: Step[]): Delivered[] {
  const out: WatchDelivery[] = [];
  steps.forEach(([name, path], i) => out.push(...registry.fire(change[name](path, i + 1))));
  return out.map((d) => [d.connectionId, d.event.type, d.event.path]);
}

interface RuleCase {
  rule: string;
  watches: [ConnectionId, string, WatchKind][];
  steps: Step[];
  expected: Delivered[];
  /** Watches left afterwards (total). */
  left: number;
}

// Each row is one rule of SEMANTICS.md (Watches, Details) or ZooKeeper's WatchManager.
const rules: RuleCase[] = [
  {
    rule: 'getData watch: setData → NodeDataChanged',
    watches: [[1, '/a', 'data']],
    steps: [['setData', '/a']],
    expected: [[1, T.NodeDataChanged, '/a']],
    left: 0,
  },
  {
    rule: 'getData watch: delete → NodeDeleted',
    watches: [[1, '/a', 'data']],
    steps: [['delete', '/a']],
    expected: [[1, T.NodeDeleted, '/a']],
    left: 0,
  },
  {
    rule: 'exists on a missing node: create → NodeCreated',
    watches: [[1, '/a', 'exist']],
    steps: [['create', '/a']],
    expected: [[1, T.NodeCreated, '/a']],
    left: 0,
  },
  {
    rule: 'create fires NodeCreated, then NodeChildrenChanged to the parent',
    watches: [
      [1, '/a', 'exist'],
      [2, '/', 'child'],
    ],
    steps: [['create', '/a']],
    expected: [
      [1, T.NodeCreated, '/a'],
      [2, T.NodeChildrenChanged, '/'],
    ],
    left: 0,
  },
  {
    rule: 'getChildren watch: child created → NodeChildrenChanged',
    watches: [[1, '/a', 'child']],
    steps: [['create', '/a/b']],
    expected: [[1, T.NodeChildrenChanged, '/a']],
    left: 0,
  },
  {
    rule: 'getChildren watch: child deleted → NodeChildrenChanged',
    watches: [[1, '/a', 'child']],
    steps: [['delete', '/a/b']],
    expected: [[1, T.NodeChildrenChanged, '/a']],
    left: 0,
  },
  {
    rule: 'getChildren watch: node deleted → NodeDeleted',
    watches: [[1, '/a', 'child']],
    steps: [['delete', '/a']],
    expected: [[1, T.NodeDeleted, '/a']],
    left: 0,
  },
  { rule: 'getChildren watch ignores setData', watches: [[1, '/a', 'child']], steps: [['setData', '/a']], expected: [], left: 1 },
  {
    rule: 'getData watch ignores children',
    watches: [[1, '/a', 'data']],
    steps: [
      ['create', '/a/b'],
      ['delete', '/a/b'],
    ],
    expected: [],
    left: 1,
  },
  { rule: 'getChildren watch ignores grandchildren', watches: [[1, '/a', 'child']], steps: [['create', '/a/b/c']], expected: [], left: 1 },
  {
    rule: 'one-shot fires once',
    watches: [[1, '/a', 'data']],
    steps: [
      ['setData', '/a'],
      ['setData', '/a'],
    ],
    expected: [[1, T.NodeDataChanged, '/a']],
    left: 0,
  },
  {
    rule: 'the same watch set twice yields one event',
    watches: [
      [1, '/a', 'data'],
      [1, '/a', 'data'],
    ],
    steps: [
      ['setData', '/a'],
      ['setData', '/a'],
    ],
    expected: [[1, T.NodeDataChanged, '/a']],
    left: 0,
  },
  {
    rule: 'getData and exists watches share one slot',
    watches: [
      [1, '/a', 'data'],
      [1, '/a', 'exist'],
    ],
    steps: [
      ['setData', '/a'],
      ['setData', '/a'],
    ],
    expected: [[1, T.NodeDataChanged, '/a']],
    left: 0,
  },
  {
    rule: 'data and child watch on a deleted node: one NodeDeleted, then the parent hears',
    watches: [
      [1, '/a/b', 'data'],
      [1, '/a/b', 'child'],
      [1, '/a', 'child'],
    ],
    steps: [['delete', '/a/b']],
    expected: [
      [1, T.NodeDeleted, '/a/b'],
      [1, T.NodeChildrenChanged, '/a'],
    ],
    left: 0,
  },
  {
    rule: 'persistent: data changes, direct children, deletion, and survives it',
    watches: [[1, '/a', 'persistent']],
    steps: [
      ['setData', '/a'],
      ['setData', '/a'],
      ['create', '/a/b'],
      ['create', '/a/b/c'],
      ['setData', '/a/b'],
      ['delete', '/a'],
      ['create', '/a'],
    ],
    expected: [
      [1, T.NodeDataChanged, '/a'],
      [1, T.NodeDataChanged, '/a'],
      [1, T.NodeChildrenChanged, '/a'],
      [1, T.NodeDeleted, '/a'],
      [1, T.NodeCreated, '/a'],
    ],
    left: 1,
  },
  {
    rule: 'persistent on a missing path hears its creation',
    watches: [[1, '/m', 'persistent']],
    steps: [['create', '/m']],
    expected: [[1, T.NodeCreated, '/m']],
    left: 1,
  },
  {
    rule: 'recursive: node and every descendant, never NodeChildrenChanged',
    watches: [[1, '/r', 'persistentRecursive']],
    steps: [
      ['create', '/r'],
      ['create', '/r/x'],
      ['create', '/r/x/y'],
      ['setData', '/r/x/y'],
      ['setData', '/r'],
      ['delete', '/r/x/y'],
    ],
    expected: [
      [1, T.NodeCreated, '/r'],
      [1, T.NodeCreated, '/r/x'],
      [1, T.NodeCreated, '/r/x/y'],
      [1, T.NodeDataChanged, '/r/x/y'],
      [1, T.NodeDataChanged, '/r'],
      [1, T.NodeDeleted, '/r/x/y'],
    ],
    left: 1,
  },
  {
    rule: "recursive: '/rx' is not under '/r'",
    watches: [[1, '/r', 'persistentRecursive']],
    steps: [
      ['create', '/rx'],
      ['setData', '/rx/y'],
      ['create', '/'],
    ],
    expected: [],
    left: 1,
  },
  {
    rule: "recursive on '/' covers every node",
    watches: [[1, '/', 'persistentRecursive']],
    steps: [
      ['create', '/a'],
      ['setData', '/a/b/c'],
    ],
    expected: [
      [1, T.NodeCreated, '/a'],
      [1, T.NodeDataChanged, '/a/b/c'],
    ],
    left: 1,
  },
  {
    rule: 'one-shot and persistent on the same path: one event; the one-shot is consumed',
    watches: [
      [1, '/a', 'data'],
      [1, '/a', 'persistent'],
    ],
    steps: [
      ['setData', '/a'],
      ['setData', '/a'],
    ],
    expected: [
      [1, T.NodeDataChanged, '/a'],
      [1, T.NodeDataChanged, '/a'],
    ],
    left: 1,
  },
  {
    rule: 'one-shot below a recursive watch of the same connection: one event; the one-shot is consumed',
    watches: [
      [1, '/a/b', 'data'],
      [1, '/a', 'persistentRecursive'],
      [1, '/', 'persistentRecursive'],
    ],
    steps: [['setData', '/a/b']],
    expected: [[1, T.NodeDataChanged, '/a/b']],
    left: 2,
  },
  {
    rule: 'persistent and recursive on the same path: one event per trigger',
    watches: [
      [1, '/a', 'persistent'],
      [1, '/a', 'persistentRecursive'],
    ],
    steps: [
      ['create', '/a/b'],
      ['setData', '/a'],
    ],
    expected: [
      [1, T.NodeCreated, '/a/b'],
      [1, T.NodeChildrenChanged, '/a'],
      [1, T.NodeDataChanged, '/a'],
    ],
    left: 2,
  },
  {
    rule: 'each connection hears for itself',
    watches: [
      [1, '/a', 'data'],
      [2, '/a', 'data'],
      [3, '/a', 'persistentRecursive'],
      [3, '/b', 'data'],
    ],
    steps: [['setData', '/a']],
    expected: [
      [1, T.NodeDataChanged, '/a'],
      [2, T.NodeDataChanged, '/a'],
      [3, T.NodeDataChanged, '/a'],
    ],
    left: 2,
  },
  {
    rule: 'child watch on the root hears top-level children',
    watches: [[1, '/', 'child']],
    steps: [['create', '/top']],
    expected: [[1, T.NodeChildrenChanged, '/']],
    left: 0,
  },
];

describe('WatchRegistry rules', () => {
  it.each(rules)('$rule', ({ watches, steps, expected, left }) => {
    const registry = new WatchRegistry();
    for (const [conn, path, kind] of watches) registry.add(conn, path, kind);
    expect(deliveries(registry, steps)).toEqual(expected);
    expect(registry.counts().watches).toBe(left);
    registry.checkInvariants();
  });

  it('delivers the trigger itself, with its zxid, in trigger order across entries', () => {
    const registry = new WatchRegistry();
    registry.add(7, '/a', 'persistent');
    const triggers = [...change.create('/a', 10), ...change.setData('/a', 11), ...change.delete('/a', 12)];
    const out = registry.fire(triggers);
    expect(out.map((d) => d.event.zxid)).toEqual([10, 11, 12]);
    expect(out[0]?.event).toBe(triggers[0]);
  });

  it('rejects a trigger that is not a node change as a bug', () => {
    const registry = new WatchRegistry();
    expect(() => registry.fire([{ type: T.None, path: '/a', zxid: 1 }])).toThrow(/not a node change/);
  });
});

describe('WatchRegistry limits and bookkeeping', () => {
  it('refuses a watch beyond watchesPerConnectionMax with QUOTAEXCEEDED, but re-adding a held watch is fine', () => {
    const registry = new WatchRegistry({ watchesPerConnectionMax: 2 });
    expect(registry.add(1, '/a', 'data')).toBe(true);
    expect(registry.add(1, '/a', 'child')).toBe(true);
    expect(registry.add(1, '/a', 'exist')).toBe(false);
    const error = (() => {
      try {
        registry.add(1, '/b', 'persistent');
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ArborError);
    expect((error as ArborError).code).toBe(ErrorCode.QUOTAEXCEEDED);
    expect((error as ArborError).message).toMatch(/persistent watch on '\/b'.*2 watches.*watchesPerConnectionMax/);
    expect(registry.add(2, '/b', 'persistent')).toBe(true);
    registry.fire(change.setData('/a', 1));
    expect(registry.add(1, '/b', 'persistent')).toBe(true);
  });

  it('counts by connection, path and kind', () => {
    const registry = new WatchRegistry();
    registry.add(1, '/a', 'data');
    registry.add(1, '/a', 'persistent');
    registry.add(1, '/b', 'child');
    registry.add(2, '/a', 'persistentRecursive');
    expect(registry.countFor(1)).toBe(3);
    expect(registry.countFor(2)).toBe(1);
    expect(registry.countFor(3)).toBe(0);
    expect(registry.countAt('/a')).toBe(3);
    expect(registry.counts()).toEqual({ watches: 4, connections: 2, paths: 2, data: 1, child: 1, persistent: 1, persistentRecursive: 1 });
    expect(registry.entriesOf(1)).toEqual([
      { path: '/a', kinds: ['data', 'persistent'] },
      { path: '/b', kinds: ['child'] },
    ]);
    expect(registry.connectionsAt('/a')).toEqual([1, 2]);
    expect(registry.has(1, '/a', 'exist')).toBe(true);
    expect(registry.has(2, '/a', 'persistent')).toBe(false);
  });

  it('drops every watch of a closed connection', () => {
    const registry = new WatchRegistry();
    registry.add(1, '/a', 'data');
    registry.add(1, '/a', 'persistentRecursive');
    registry.add(1, '/b', 'child');
    registry.add(2, '/a', 'data');
    expect(registry.removeConnection(1)).toBe(3);
    expect(registry.removeConnection(1)).toBe(0);
    expect(registry.counts()).toMatchObject({ watches: 1, connections: 1, paths: 1 });
    expect(
      deliveries(registry, [
        ['setData', '/a/x'],
        ['setData', '/a'],
      ]),
    ).toEqual([[2, T.NodeDataChanged, '/a']]);
    registry.checkInvariants();
  });
});

describe('removeWatches and checkWatches', () => {
  const setUp = (): WatchRegistry => {
    const registry = new WatchRegistry();
    registry.add(1, '/a', 'data');
    registry.add(1, '/a', 'child');
    registry.add(1, '/p', 'persistent');
    registry.add(1, '/r', 'persistentRecursive');
    registry.add(1, '/all', 'data');
    registry.add(1, '/all', 'child');
    registry.add(1, '/all', 'persistent');
    registry.add(1, '/all', 'persistentRecursive');
    return registry;
  };
  const cases: [string, string, WatcherType, WatchRemovedName[] | 'NOWATCHER'][] = [
    ['data', '/a', WatcherType.Data, ['DataWatchRemoved']],
    ['children', '/a', WatcherType.Children, ['ChildWatchRemoved']],
    ['any', '/a', WatcherType.Any, ['DataWatchRemoved', 'ChildWatchRemoved']],
    ['persistent by Persistent', '/p', WatcherType.Persistent, ['PersistentWatchRemoved']],
    ['persistent is not a data watch', '/p', WatcherType.Data, 'NOWATCHER'],
    ['persistent is not recursive', '/p', WatcherType.PersistentRecursive, 'NOWATCHER'],
    ['recursive by PersistentRecursive', '/r', WatcherType.PersistentRecursive, ['PersistentWatchRemoved']],
    ['recursive is not plain persistent', '/r', WatcherType.Persistent, 'NOWATCHER'],
    ['recursive by Any', '/r', WatcherType.Any, ['PersistentWatchRemoved']],
    [
      'every kind by Any: one event of each type',
      '/all',
      WatcherType.Any,
      ['DataWatchRemoved', 'ChildWatchRemoved', 'PersistentWatchRemoved'],
    ],
    ['a recursive watch on an ancestor does not match', '/r/x', WatcherType.Any, 'NOWATCHER'],
    ['nothing at the path', '/none', WatcherType.Any, 'NOWATCHER'],
  ];
  type WatchRemovedName = 'DataWatchRemoved' | 'ChildWatchRemoved' | 'PersistentWatchRemoved';

  it.each(cases)('%s', (_name, path, type, expected) => {
    const registry = setUp();
    const before = registry.counts().watches;
    const checked = registry.checkWatches(1, path, type);
    expect(registry.counts().watches).toBe(before);
    const removed = registry.removeWatches(1, path, type);
    expect(removed).toEqual(checked);
    if (expected === 'NOWATCHER') {
      expect(removed).toMatchObject({ ok: false, code: ErrorCode.NOWATCHER });
      expect(!removed.ok && removed.message).toContain(path);
      expect(registry.counts().watches).toBe(before);
    } else {
      expect(removed).toEqual({ ok: true, events: expected.map((name) => T[name]) });
      expect(registry.removeWatches(1, path, type)).toMatchObject({ ok: false, code: ErrorCode.NOWATCHER });
      expect(registry.counts().watches).toBeLessThan(before);
    }
    registry.checkInvariants();
  });

  it('only touches the asking connection', () => {
    const registry = setUp();
    expect(registry.removeWatches(2, '/a', WatcherType.Any)).toMatchObject({ ok: false, code: ErrorCode.NOWATCHER });
    expect(registry.countFor(1)).toBe(8);
  });

  it('a removed watch no longer fires', () => {
    const registry = setUp();
    registry.removeWatches(1, '/a', WatcherType.Data);
    expect(
      deliveries(registry, [
        ['setData', '/a'],
        ['create', '/a/x'],
      ]),
    ).toEqual([[1, T.NodeChildrenChanged, '/a']]);
  });

  it('answers BADARGUMENTS for an unknown watcher type', () => {
    const registry = setUp();
    expect(registry.removeWatches(1, '/a', 9 as WatcherType)).toMatchObject({ ok: false, code: ErrorCode.BADARGUMENTS });
    expect(registry.countFor(1)).toBe(8);
  });
});

// ---- Model test: the registry against a deliberately naive list of watches (STYLE.md 13). ----

interface ModelWatch {
  conn: ConnectionId;
  path: string;
  kind: 'data' | 'child' | 'persistent' | 'persistentRecursive';
}

/** The rules restated per kind, independently of the registry's bit masks. */
function modelMatches(w: ModelWatch, t: WatchTrigger): boolean {
  switch (w.kind) {
    case 'data':
      return w.path === t.path && t.type !== T.NodeChildrenChanged;
    case 'child':
      return w.path === t.path && (t.type === T.NodeChildrenChanged || t.type === T.NodeDeleted);
    case 'persistent':
      return w.path === t.path;
    case 'persistentRecursive':
      return isPathUnder(t.path, w.path) && t.type !== T.NodeChildrenChanged;
  }
}

class Model {
  watches: ModelWatch[] = [];
  constructor(readonly max: number) {}
  norm(kind: WatchKind): ModelWatch['kind'] {
    return kind === 'exist' ? 'data' : kind;
  }
  find(conn: ConnectionId, path: string, kind: ModelWatch['kind']): number {
    return this.watches.findIndex((w) => w.conn === conn && w.path === path && w.kind === kind);
  }
  add(conn: ConnectionId, path: string, kind: WatchKind): boolean | 'quota' {
    const k = this.norm(kind);
    if (this.find(conn, path, k) >= 0) return false;
    if (this.watches.filter((w) => w.conn === conn).length >= this.max) return 'quota';
    this.watches.push({ conn, path, kind: k });
    return true;
  }
  fire(triggers: WatchTrigger[]): [ConnectionId, WatchTrigger][] {
    const out: [ConnectionId, WatchTrigger][] = [];
    for (const t of triggers) {
      const matched = this.watches.filter((w) => modelMatches(w, t));
      for (const conn of new Set(matched.map((w) => w.conn))) out.push([conn, t]);
      this.watches = this.watches.filter((w) => !(matched.includes(w) && (w.kind === 'data' || w.kind === 'child')));
    }
    return out;
  }
  remove(conn: ConnectionId, path: string, type: WatcherType, dryRun: boolean): EventType[] | 'NOWATCHER' {
    const kinds: Record<number, ModelWatch['kind'][]> = {
      [WatcherType.Data]: ['data'],
      [WatcherType.Children]: ['child'],
      [WatcherType.Persistent]: ['persistent'],
      [WatcherType.PersistentRecursive]: ['persistentRecursive'],
      [WatcherType.Any]: ['data', 'child', 'persistent', 'persistentRecursive'],
    };
    const hit = this.watches.filter((w) => w.conn === conn && w.path === path && (kinds[type] ?? []).includes(w.kind));
    if (hit.length === 0) return 'NOWATCHER';
    if (!dryRun) this.watches = this.watches.filter((w) => !hit.includes(w));
    const events: EventType[] = [];
    if (hit.some((w) => w.kind === 'data')) events.push(T.DataWatchRemoved);
    if (hit.some((w) => w.kind === 'child')) events.push(T.ChildWatchRemoved);
    if (hit.some((w) => w.kind === 'persistent' || w.kind === 'persistentRecursive')) events.push(T.PersistentWatchRemoved);
    return events;
  }
}

const paths = ['/', '/a', '/a/b', '/a/b/c', '/ab', '/a/c', '/b'];
const pathArb = fc.constantFrom(...paths);
const connArb = fc.integer({ min: 1, max: 3 });
const kindArb = fc.constantFrom<WatchKind>('data', 'exist', 'child', 'persistent', 'persistentRecursive');
const triggerArb = fc.record({
  type: fc.constantFrom(T.NodeCreated, T.NodeDeleted, T.NodeDataChanged, T.NodeChildrenChanged),
  path: pathArb,
});
const commandArb = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('add' as const), conn: connArb, path: pathArb, kind: kindArb }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('fire' as const), triggers: fc.array(triggerArb, { minLength: 1, maxLength: 4 }) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constantFrom('remove' as const, 'check' as const),
      conn: connArb,
      path: pathArb,
      type: fc.constantFrom<WatcherType>(
        WatcherType.Data,
        WatcherType.Children,
        WatcherType.Any,
        WatcherType.Persistent,
        WatcherType.PersistentRecursive,
      ),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('close' as const), conn: connArb }) },
);

describe('WatchRegistry against a naive model', () => {
  it('agrees on every add, fire, removeWatches, checkWatches and close', () => {
    fc.assert(
      fc.property(fc.array(commandArb, { maxLength: 60 }), fc.integer({ min: 1, max: 8 }), (commands, max) => {
        const registry = new WatchRegistry({ watchesPerConnectionMax: max });
        const model = new Model(max);
        let zxid = 0;
        for (const c of commands) {
          switch (c.op) {
            case 'add': {
              const expected = model.add(c.conn, c.path, c.kind);
              if (expected === 'quota') expect(() => registry.add(c.conn, c.path, c.kind)).toThrow(ArborError);
              else expect(registry.add(c.conn, c.path, c.kind)).toBe(expected);
              break;
            }
            case 'fire': {
              zxid++;
              const triggers: WatchTrigger[] = c.triggers.map((t) => ({ ...t, zxid }));
              const sortPerTrigger = (list: [ConnectionId, WatchTrigger][]): [number, ConnectionId][] =>
                list.map(([conn, t]): [number, ConnectionId] => [triggers.indexOf(t), conn]).sort((x, y) => x[0] - y[0] || x[1] - y[1]);
              const got = registry.fire(triggers).map((d): [ConnectionId, WatchTrigger] => [d.connectionId, d.event]);
              const gotIndexes = got.map(([, t]) => triggers.indexOf(t));
              expect(gotIndexes).toEqual([...gotIndexes].sort((x, y) => x - y)); // trigger order
              expect(sortPerTrigger(got)).toEqual(sortPerTrigger(model.fire(triggers)));
              break;
            }
            case 'remove':
            case 'check': {
              const dryRun = c.op === 'check';
              const expected = model.remove(c.conn, c.path, c.type, dryRun);
              const got = dryRun ? registry.checkWatches(c.conn, c.path, c.type) : registry.removeWatches(c.conn, c.path, c.type);
              if (expected === 'NOWATCHER') expect(got).toMatchObject({ ok: false, code: ErrorCode.NOWATCHER });
              else expect(got).toEqual({ ok: true, events: expected });
              break;
            }
            case 'close': {
              const held = model.watches.filter((w) => w.conn === c.conn).length;
              model.watches = model.watches.filter((w) => w.conn !== c.conn);
              expect(registry.removeConnection(c.conn)).toBe(held);
              break;
            }
          }
          registry.checkInvariants();
        }
        expect(registry.counts().watches).toBe(model.watches.length);
        for (const conn of [1, 2, 3]) expect(registry.countFor(conn)).toBe(model.watches.filter((w) => w.conn === conn).length);
        for (const path of paths) expect(registry.countAt(path)).toBe(model.watches.filter((w) => w.path === path).length);
      }),
      { numRuns: 300 },
    );
  });
});

describe('WatchRegistry with many unrelated watches', () => {
  it('delivers a deep change only to the recursive watch above it', () => {
    const registry = new WatchRegistry({ watchesPerConnectionMax: 1_000_000 });
    for (let i = 0; i < 50_000; i++) registry.add(i % 100, `/w/${i}`, i % 2 === 0 ? 'data' : 'persistent');
    for (let i = 0; i < 1_000; i++) registry.add(1_000 + i, '/', 'child');
    registry.add(5, '/deep', 'persistentRecursive');
    const deep = '/deep' + '/d'.repeat(200);
    let delivered = 0;
    for (let zxid = 1; zxid <= 2_000; zxid++) delivered += registry.fire(change.setData(deep, zxid)).length;
    expect(delivered).toBe(2_000);
  });
});
