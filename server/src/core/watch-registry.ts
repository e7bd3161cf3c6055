import { ArborError, DEFAULT_LIMITS, ErrorCode, EventType, WatcherType } from '@arbor/protocol';
import type { WatchTrigger } from '@arbor/protocol';
import { assert } from './assert.js';

/**
 * The watch registry of one member: which of its client connections must hear about which
 * change. Watches are connection state, never replicated state (STYLE.md 6): the tree reports
 * the triggers an entry fired, and {@link WatchRegistry.fire} maps them to connections.
 *
 * Matching follows ZooKeeper 3.9's WatchManager and DataTree, which keep two tables: data
 * watches (one-shot getData/exists watches, persistent and persistent-recursive watches) and
 * child watches (one-shot getChildren watches and persistent watches).
 *
 * | trigger at P        | fires, at exactly P                     | fires, at an ancestor of P | consumes at P |
 * |---------------------|-----------------------------------------|----------------------------|---------------|
 * | NodeCreated         | data, persistent, recursive             | recursive                  | data          |
 * | NodeDataChanged     | data, persistent, recursive             | recursive                  | data          |
 * | NodeDeleted         | data, child, persistent, recursive      | recursive                  | data, child   |
 * | NodeChildrenChanged | child, persistent                       | —                          | child         |
 *
 * (NodeChildrenChanged is reported at the parent, so a persistent watch hears of its direct
 * children only, and a recursive watch never hears NodeChildrenChanged.) A connection gets each
 * trigger at most once, however many of its watches match: ZooKeeper collects watchers into a
 * set per trigger, and suppresses the child-table NodeDeleted for watchers the data table
 * already told.
 */

/** The server's id for a client connection (not the session: a session moves between connections). */
export type ConnectionId = number;

/**
 * What a read or addWatch asks for. 'exist' (exists on a missing node) and 'data' (getData, or
 * exists on a present node) share one slot, as in ZooKeeper where both live in the data table:
 * setting either twice, or both, yields one event.
 */
export type WatchKind = 'data' | 'exist' | 'child' | 'persistent' | 'persistentRecursive';

/** One event to send: `event` is the trigger itself (shared between connections; do not mutate). */
export interface WatchDelivery {
  readonly connectionId: ConnectionId;
  readonly event: WatchTrigger;
}

/** The event types removeWatches reports, fired (with the watch's path) before its response. */
export type WatchRemovedEventType =
  typeof EventType.DataWatchRemoved | typeof EventType.ChildWatchRemoved | typeof EventType.PersistentWatchRemoved;

export type RemoveWatchesOutcome =
  /** Fire one event per entry, in this order, then answer OK. Never empty. */
  | { readonly ok: true; readonly events: readonly WatchRemovedEventType[] }
  | { readonly ok: false; readonly code: typeof ErrorCode.NOWATCHER | typeof ErrorCode.BADARGUMENTS; readonly message: string };

export interface WatchRegistryOptions {
  /** Watches one connection may hold; adding one more throws QUOTAEXCEEDED. Default DEFAULT_LIMITS.watchesPerConnectionMax. */
  watchesPerConnectionMax?: number;
}

/** Totals for /status and /metrics. A persistent watch counts once (ZooKeeper counts it in both tables). */
export interface WatchCounts {
  readonly watches: number;
  readonly connections: number;
  readonly paths: number;
  readonly data: number;
  readonly child: number;
  readonly persistent: number;
  readonly persistentRecursive: number;
}

/** What one connection watches at one path. */
export interface WatchEntry {
  readonly path: string;
  readonly kinds: readonly ('data' | 'child' | 'persistent' | 'persistentRecursive')[];
}

// One bit per watch a connection may hold at a path; a path's watches are a mask.
const DATA = 1;
const CHILD = 2;
const PERSISTENT = 4;
const RECURSIVE = 8;
const ALL = DATA | CHILD | PERSISTENT | RECURSIVE;

const BIT_NAMES: readonly [number, WatchEntry['kinds'][number]][] = [
  [DATA, 'data'],
  [CHILD, 'child'],
  [PERSISTENT, 'persistent'],
  [RECURSIVE, 'persistentRecursive'],
];

function kindBit(kind: WatchKind): number {
  switch (kind) {
    case 'data':
    case 'exist':
      return DATA;
    case 'child':
      return CHILD;
    case 'persistent':
      return PERSISTENT;
    case 'persistentRecursive':
      return RECURSIVE;
  }
}

interface ExactRule {
  /** Bits that fire at the trigger's own path. */
  readonly fires: number;
  /** One-shot bits cleared there when they fire. */
  readonly consumes: number;
}
const DATA_CHANGE_RULE: ExactRule = { fires: DATA | PERSISTENT | RECURSIVE, consumes: DATA };
const DELETE_RULE: ExactRule = { fires: ALL, consumes: DATA | CHILD };
const CHILDREN_RULE: ExactRule = { fires: CHILD | PERSISTENT, consumes: CHILD };

function exactRule(type: EventType): ExactRule {
  switch (type) {
    case EventType.NodeCreated:
    case EventType.NodeDataChanged:
      return DATA_CHANGE_RULE;
    case EventType.NodeDeleted:
      return DELETE_RULE;
    case EventType.NodeChildrenChanged:
      return CHILDREN_RULE;
    default:
      throw new Error(`core invariant broken: the tree reported a trigger of event type ${type}, which is not a node change`);
  }
}

/** The bits removeWatches/checkWatches of this type act on (ZooKeeper's DataTree.removeWatch). */
function removalMask(type: WatcherType): number | undefined {
  switch (type) {
    case WatcherType.Children:
      return CHILD;
    case WatcherType.Data:
      return DATA;
    case WatcherType.Any:
      return ALL;
    case WatcherType.Persistent:
      return PERSISTENT;
    case WatcherType.PersistentRecursive:
      return RECURSIVE;
    default:
      return undefined;
  }
}

const WATCHER_TYPE_NAMES: Record<number, string> = {
  [WatcherType.Children]: 'child',
  [WatcherType.Data]: 'data',
  [WatcherType.Any]: 'any',
  [WatcherType.Persistent]: 'persistent',
  [WatcherType.PersistentRecursive]: 'persistent recursive',
};

function removedEvents(bits: number): WatchRemovedEventType[] {
  const events: WatchRemovedEventType[] = [];
  if (bits & DATA) events.push(EventType.DataWatchRemoved);
  if (bits & CHILD) events.push(EventType.ChildWatchRemoved);
  if (bits & (PERSISTENT | RECURSIVE)) events.push(EventType.PersistentWatchRemoved);
  return events;
}

function bitCount(mask: number): number {
  return (mask & DATA ? 1 : 0) + (mask & CHILD ? 1 : 0) + (mask & PERSISTENT ? 1 : 0) + (mask & RECURSIVE ? 1 : 0);
}

/** The strict ancestors of a valid path, nearest first: '/a/b/c' → '/a/b', '/a', '/'. */
function* strictAncestors(path: string): Generator<string> {
  let end = path.lastIndexOf('/');
  while (end > 0) {
    path = path.slice(0, end);
    yield path;
    end = path.lastIndexOf('/');
  }
  if (path !== '/') yield '/';
}

interface ConnectionWatches {
  /** path → mask; a path with no watch is absent. */
  readonly masks: Map<string, number>;
  count: number;
}

/**
 * Invariants (checked by {@link WatchRegistry.checkInvariants} in tests): `byPath` and
 * `byConnection` hold the same (connection, path, mask) triples with non-zero masks;
 * `recursive` holds exactly the pairs whose mask has RECURSIVE; the counters equal the sums.
 */
export class WatchRegistry {
  readonly watchesPerConnectionMax: number;
  /** path → connection → mask: the watch table fire() reads. */
  private readonly byPath = new Map<string, Map<ConnectionId, number>>();
  /** connection → path → mask: for per-connection counts and removeConnection. */
  private readonly byConnection = new Map<ConnectionId, ConnectionWatches>();
  /** path → connections with a recursive watch there: the index the ancestor walk reads, O(depth) lookups per trigger. */
  private readonly recursive = new Map<string, Set<ConnectionId>>();
  private readonly totalsByBit = new Map<number, number>([
    [DATA, 0],
    [CHILD, 0],
    [PERSISTENT, 0],
    [RECURSIVE, 0],
  ]);
  private total = 0;

  constructor(options: WatchRegistryOptions = {}) {
    const max = options.watchesPerConnectionMax ?? DEFAULT_LIMITS.watchesPerConnectionMax;
    if (!Number.isInteger(max) || max < 0) throw new RangeError(`watchesPerConnectionMax must be a non-negative integer, not ${max}`);
    this.watchesPerConnectionMax = max;
  }

  /**
   * Arms a watch. Returns false when the connection already held it (nothing changes, and the
   * limit is not consulted). Throws QUOTAEXCEEDED when the connection is at its limit: the
   * caller checks before it reads, or answers the read with that error. The path is trusted
   * (validated before it got here); a persistent watch may name a path that does not exist.
   */
  add(connectionId: ConnectionId, path: string, kind: WatchKind): boolean {
    const bit = kindBit(kind);
    const conn = this.byConnection.get(connectionId);
    const mask = conn?.masks.get(path) ?? 0;
    if (mask & bit) return false;
    const held = conn?.count ?? 0;
    if (held >= this.watchesPerConnectionMax) {
      throw new ArborError(
        ErrorCode.QUOTAEXCEEDED,
        `cannot set a ${kind} watch on '${path}': the connection already holds ${held} watches, the limit (watchesPerConnectionMax)`,
      );
    }
    this.setMask(connectionId, path, mask, mask | bit);
    return true;
  }

  /** Whether the connection holds this watch at exactly this path. */
  has(connectionId: ConnectionId, path: string, kind: WatchKind): boolean {
    return ((this.byConnection.get(connectionId)?.masks.get(path) ?? 0) & kindBit(kind)) !== 0;
  }

  /**
   * The deliveries the triggers of one or more applied entries cause, in trigger order (so in
   * zxid order), consuming the one-shot watches that fire. At most one delivery per connection
   * per trigger. Cost: per trigger, one lookup at its path plus, when any recursive watch
   * exists, one lookup per ancestor — never a scan of all watches.
   */
  fire(triggers: readonly WatchTrigger[]): WatchDelivery[] {
    const deliveries: WatchDelivery[] = [];
    for (const trigger of triggers) this.fireOne(trigger, deliveries);
    return deliveries;
  }

  private fireOne(trigger: WatchTrigger, out: WatchDelivery[]): void {
    const { fires, consumes } = exactRule(trigger.type);
    const start = out.length;
    const here = this.byPath.get(trigger.path);
    if (here !== undefined) {
      // Collect first: consuming edits `here` while we would iterate it.
      const consumed: [ConnectionId, number][] = [];
      for (const [connectionId, mask] of here) {
        if ((mask & fires) === 0) continue;
        out.push({ connectionId, event: trigger });
        if (mask & consumes) consumed.push([connectionId, mask]);
      }
      for (const [connectionId, mask] of consumed) this.setMask(connectionId, trigger.path, mask, mask & ~consumes);
    }
    if (trigger.type === EventType.NodeChildrenChanged || this.recursive.size === 0) return;
    let told: Set<ConnectionId> | undefined;
    for (const ancestor of strictAncestors(trigger.path)) {
      const watchers = this.recursive.get(ancestor);
      if (watchers === undefined) continue;
      told ??= new Set(out.slice(start).map((d) => d.connectionId));
      for (const connectionId of watchers) {
        if (told.has(connectionId)) continue;
        told.add(connectionId);
        out.push({ connectionId, event: trigger });
      }
    }
  }

  /**
   * removeWatches as ZooKeeper's server does it: acts on the connection's watches at exactly
   * `path` of the given type (Any: every kind). Nothing matching → NOWATCHER. Otherwise the
   * events to fire before answering OK: DataWatchRemoved, ChildWatchRemoved,
   * PersistentWatchRemoved, each at most once, in that order.
   */
  removeWatches(connectionId: ConnectionId, path: string, type: WatcherType): RemoveWatchesOutcome {
    const outcome = this.matchRemoval(connectionId, path, type);
    if (!outcome.ok) return outcome;
    const mask = this.maskOf(connectionId, path);
    this.setMask(connectionId, path, mask, mask & ~outcome.bits);
    return { ok: true, events: outcome.events };
  }

  /** checkWatches: the same matching as {@link removeWatches}, removing nothing. */
  checkWatches(connectionId: ConnectionId, path: string, type: WatcherType): RemoveWatchesOutcome {
    const outcome = this.matchRemoval(connectionId, path, type);
    return outcome.ok ? { ok: true, events: outcome.events } : outcome;
  }

  private matchRemoval(
    connectionId: ConnectionId,
    path: string,
    type: WatcherType,
  ): { ok: true; bits: number; events: WatchRemovedEventType[] } | Extract<RemoveWatchesOutcome, { ok: false }> {
    const wanted = removalMask(type);
    if (wanted === undefined) return { ok: false, code: ErrorCode.BADARGUMENTS, message: `unknown watcher type ${String(type)}` };
    const bits = this.maskOf(connectionId, path) & wanted;
    if (bits === 0) {
      return { ok: false, code: ErrorCode.NOWATCHER, message: `no ${WATCHER_TYPE_NAMES[type]} watch on '${path}' for this connection` };
    }
    return { ok: true, bits, events: removedEvents(bits) };
  }

  /** Drops every watch of a closed connection (or of an expired session's connection). Returns how many. */
  removeConnection(connectionId: ConnectionId): number {
    const conn = this.byConnection.get(connectionId);
    if (conn === undefined) return 0;
    const removed = conn.count;
    for (const [path, mask] of [...conn.masks]) this.setMask(connectionId, path, mask, 0);
    return removed;
  }

  /** Watches held by one connection (what the limit counts). */
  countFor(connectionId: ConnectionId): number {
    return this.byConnection.get(connectionId)?.count ?? 0;
  }

  /** Watches armed at exactly this path, over all connections. */
  countAt(path: string): number {
    let n = 0;
    for (const mask of this.byPath.get(path)?.values() ?? []) n += bitCount(mask);
    return n;
  }

  counts(): WatchCounts {
    return {
      watches: this.total,
      connections: this.byConnection.size,
      paths: this.byPath.size,
      data: this.totalsByBit.get(DATA) ?? 0,
      child: this.totalsByBit.get(CHILD) ?? 0,
      persistent: this.totalsByBit.get(PERSISTENT) ?? 0,
      persistentRecursive: this.totalsByBit.get(RECURSIVE) ?? 0,
    };
  }

  /** What one connection watches, path by path (for admin dumps; order unspecified). */
  entriesOf(connectionId: ConnectionId): WatchEntry[] {
    const conn = this.byConnection.get(connectionId);
    if (conn === undefined) return [];
    return [...conn.masks].map(([path, mask]) => ({ path, kinds: BIT_NAMES.filter(([bit]) => mask & bit).map(([, name]) => name) }));
  }

  /** The connections holding any watch at exactly this path (for admin dumps). */
  connectionsAt(path: string): ConnectionId[] {
    return [...(this.byPath.get(path)?.keys() ?? [])];
  }

  private maskOf(connectionId: ConnectionId, path: string): number {
    return this.byConnection.get(connectionId)?.masks.get(path) ?? 0;
  }

  /** The one place that edits the indexes, so they cannot drift apart. */
  private setMask(connectionId: ConnectionId, path: string, before: number, after: number): void {
    if (before === after) return;
    for (const [bit] of BIT_NAMES) {
      const delta = (after & bit ? 1 : 0) - (before & bit ? 1 : 0);
      if (delta !== 0) this.totalsByBit.set(bit, (this.totalsByBit.get(bit) ?? 0) + delta);
    }
    const delta = bitCount(after) - bitCount(before);
    this.total += delta;

    let conn = this.byConnection.get(connectionId);
    if (conn === undefined) {
      conn = { masks: new Map(), count: 0 };
      this.byConnection.set(connectionId, conn);
    }
    conn.count += delta;
    let atPath = this.byPath.get(path);
    if (atPath === undefined) {
      atPath = new Map();
      this.byPath.set(path, atPath);
    }
    if (after === 0) {
      conn.masks.delete(path);
      if (conn.masks.size === 0) this.byConnection.delete(connectionId);
      atPath.delete(connectionId);
      if (atPath.size === 0) this.byPath.delete(path);
    } else {
      conn.masks.set(path, after);
      atPath.set(connectionId, after);
    }

    if ((before ^ after) & RECURSIVE) {
      if (after & RECURSIVE) {
        let set = this.recursive.get(path);
        if (set === undefined) {
          set = new Set();
          this.recursive.set(path, set);
        }
        set.add(connectionId);
      } else {
        const set = this.recursive.get(path);
        set?.delete(connectionId);
        if (set?.size === 0) this.recursive.delete(path);
      }
    }
  }

  /** Throws when the indexes disagree. O(watches): for tests and debug checks, not the hot path. */
  checkInvariants(): void {
    let total = 0;
    const byBit = new Map<number, number>();
    for (const [connectionId, conn] of this.byConnection) {
      let count = 0;
      assert(conn.masks.size > 0, `connection ${connectionId} is indexed with no watch`);
      for (const [path, mask] of conn.masks) {
        assert(mask !== 0 && (mask & ~ALL) === 0, `bad mask ${mask} for connection ${connectionId} at '${path}'`);
        assert(this.byPath.get(path)?.get(connectionId) === mask, `byPath disagrees for connection ${connectionId} at '${path}'`);
        assert(
          ((mask & RECURSIVE) !== 0) === (this.recursive.get(path)?.has(connectionId) ?? false),
          `recursive index disagrees at '${path}'`,
        );
        count += bitCount(mask);
        for (const [bit] of BIT_NAMES) if (mask & bit) byBit.set(bit, (byBit.get(bit) ?? 0) + 1);
      }
      assert(count === conn.count, `connection ${connectionId} counts ${conn.count} watches but holds ${count}`);
      assert(count <= this.watchesPerConnectionMax, `connection ${connectionId} holds ${count} watches, over the limit`);
      total += count;
    }
    let pairs = 0;
    for (const atPath of this.byPath.values()) pairs += atPath.size;
    let connPairs = 0;
    for (const conn of this.byConnection.values()) connPairs += conn.masks.size;
    assert(pairs === connPairs, `byPath holds ${pairs} pairs, byConnection ${connPairs}`);
    assert(total === this.total, `total is ${this.total}, watches held ${total}`);
    for (const [bit] of BIT_NAMES) assert((byBit.get(bit) ?? 0) === this.totalsByBit.get(bit), `per-kind total for bit ${bit} is off`);
    for (const [path, set] of this.recursive) assert(set.size > 0, `empty recursive index entry at '${path}'`);
  }
}
