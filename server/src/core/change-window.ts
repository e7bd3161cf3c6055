import { EventType, isPathUnder } from '@arbor/protocol';
import type { SetWatchesArgs, WatchTrigger } from '@arbor/protocol';
import { assert } from './assert.js';

/**
 * What a reconnecting client missed. ZooKeeper re-arms persistent watches after a reconnect
 * without reporting the changes made while the client was away; Arbor replays them from a
 * bounded window of recent committed changes that every member keeps, and when the window no
 * longer reaches back far enough it says so (the caller sends a `watchResync` notice and the
 * client re-reads) instead of silently losing events. One-shot watches follow ZooKeeper's
 * setWatches rules, which need only the current stat ({@link reregisterOneShot}).
 */

/** Default bound on the changes a window holds. A member setting. */
export const CHANGE_WINDOW_CHANGES_MAX_DEFAULT = 100_000;
/** Default bound on the window's estimated memory. A member setting. */
export const CHANGE_WINDOW_BYTES_MAX_DEFAULT = 32 * 1024 * 1024;
/** Estimated cost of one recorded change besides its path (object header, fields, array slot). */
const TRIGGER_OVERHEAD_BYTES = 64;

export interface ChangeWindowOptions {
  /**
   * The member's applied zxid when the window starts: every change above it will be recorded.
   * A window cannot replay from below it.
   */
  startZxid: number;
  changesMax?: number;
  bytesMax?: number;
}

/** The persistent watches of one connection that a replay is for. */
export interface ReplayFilter {
  /** Persistent watches: changes at exactly the path, which includes NodeChildrenChanged for its direct children. */
  readonly persistent?: Iterable<string>;
  /** Recursive watches: NodeCreated, NodeDataChanged and NodeDeleted at the path or below ('/rx' is not below '/r'). */
  readonly persistentRecursive?: Iterable<string>;
}

export type ReplayResult =
  /** Every matching change with a zxid above the one asked for, in order: deliver each as an event. */
  | { readonly truncated: false; readonly triggers: readonly WatchTrigger[] }
  /**
   * The window has lost changes above the zxid asked for: the oldest it can replay from is
   * `floorZxid`. Send `watchResync` for each persistent watch instead of events.
   */
  | { readonly truncated: true; readonly floorZxid: number };

/**
 * A bounded log of recent committed triggers, in zxid order. Complete above `floorZxid`: it
 * holds every trigger with a larger zxid that was recorded. Eviction drops the oldest triggers
 * first and moves the floor up to the zxid of the last one dropped, together with the rest of
 * that zxid (the changes of one multi share a zxid, and a half-kept multi must not be replayed).
 */
export class ChangeWindow {
  readonly changesMax: number;
  readonly bytesMax: number;
  /** Items before `head` are evicted (cleared to undefined so they can be collected), awaiting compaction. */
  private items: (WatchTrigger | undefined)[] = [];
  private head = 0;
  private bytesHeld = 0;
  private floor: number;
  private newestZxid: number;

  constructor(options: ChangeWindowOptions) {
    const changesMax = options.changesMax ?? CHANGE_WINDOW_CHANGES_MAX_DEFAULT;
    const bytesMax = options.bytesMax ?? CHANGE_WINDOW_BYTES_MAX_DEFAULT;
    if (!Number.isSafeInteger(options.startZxid) || options.startZxid < 0)
      throw new RangeError(`startZxid must be a zxid, not ${options.startZxid}`);
    if (!Number.isInteger(changesMax) || changesMax < 0)
      throw new RangeError(`changesMax must be a non-negative integer, not ${changesMax}`);
    if (!Number.isInteger(bytesMax) || bytesMax < 0) throw new RangeError(`bytesMax must be a non-negative integer, not ${bytesMax}`);
    this.changesMax = changesMax;
    this.bytesMax = bytesMax;
    this.floor = options.startZxid;
    this.newestZxid = options.startZxid;
  }

  /** The window can replay from any zxid at or above this one. */
  get floorZxid(): number {
    return this.floor;
  }
  /** The zxid of the newest recorded change (the start zxid when nothing is recorded). */
  get lastZxid(): number {
    return this.newestZxid;
  }
  /** Changes held. */
  get size(): number {
    return this.items.length - this.head;
  }
  /** Estimated memory held, the quantity `bytesMax` bounds. */
  get bytes(): number {
    return this.bytesHeld;
  }

  /**
   * Appends the triggers of applied entries, in apply order. Their zxids must not decrease and
   * must be above the floor: anything else means entries were applied out of order, a bug.
   */
  record(triggers: readonly WatchTrigger[]): void {
    for (const trigger of triggers) {
      assert(trigger.zxid > this.floor, `change at zxid ${trigger.zxid} recorded at or below the window floor ${this.floor}`);
      assert(trigger.zxid >= this.newestZxid, `change at zxid ${trigger.zxid} recorded after zxid ${this.newestZxid}`);
      this.items.push(trigger);
      this.bytesHeld += triggerBytes(trigger);
      this.newestZxid = trigger.zxid;
    }
    this.evict();
  }

  /**
   * Forgets everything and restarts complete above `zxid`: after a snapshot was installed, the
   * changes between the old state and the snapshot were never seen by this member.
   */
  reset(zxid: number): void {
    assert(zxid >= this.newestZxid, `window reset to zxid ${zxid}, behind its newest change ${this.newestZxid}`);
    this.items = [];
    this.head = 0;
    this.bytesHeld = 0;
    this.floor = zxid;
    this.newestZxid = zxid;
  }

  /**
   * The changes with a zxid above `zxid` that the filter's watches would have fired, in order,
   * each once; or `truncated` when the window no longer reaches back to `zxid`. The caller
   * makes sure `zxid` is not above the member's applied zxid (the client never goes back in
   * time), so nothing it asks about is still to come. Cost: a binary search plus one pass over
   * the newer changes, O(depth) each when recursive watches are given.
   */
  since(zxid: number, filter: ReplayFilter): ReplayResult {
    if (zxid < this.floor) return { truncated: true, floorZxid: this.floor };
    const matcher = new ReplayMatcher(filter);
    const triggers: WatchTrigger[] = [];
    if (matcher.empty) return { truncated: false, triggers };
    for (let i = this.firstAbove(zxid); i < this.items.length; i++) {
      const trigger = this.items[i];
      assert(trigger !== undefined, 'window index out of range');
      if (matcher.matches(trigger)) triggers.push(trigger);
    }
    return { truncated: false, triggers };
  }

  /** Index of the first kept item with a zxid above `zxid` (items.length when none). */
  private firstAbove(zxid: number): number {
    let lo = this.head;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.items[mid]?.zxid ?? Infinity) > zxid) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  private evict(): void {
    while (this.size > 0 && (this.size > this.changesMax || this.bytesHeld > this.bytesMax)) this.dropOldest();
    // The rest of a zxid whose first changes were dropped can never be replayed: drop it too.
    while (this.size > 0 && this.items[this.head]?.zxid === this.floor) this.dropOldest();
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }

  private dropOldest(): void {
    const oldest = this.items[this.head];
    assert(oldest !== undefined, 'evicting from an empty window');
    this.items[this.head] = undefined;
    this.head++;
    this.bytesHeld -= triggerBytes(oldest);
    this.floor = oldest.zxid;
  }
}

function triggerBytes(trigger: WatchTrigger): number {
  return TRIGGER_OVERHEAD_BYTES + 2 * trigger.path.length;
}

/**
 * Whether a change is one that a filter's persistent watches hear: the rule {@link ChangeWindow.since}
 * replays by, and the one the client routes events to its persistent watches by.
 */
export class ReplayMatcher {
  private readonly persistent: ReadonlySet<string>;
  private readonly recursive: RecursiveMatcher;

  constructor(filter: ReplayFilter) {
    this.persistent = new Set(filter.persistent ?? []);
    this.recursive = new RecursiveMatcher(filter.persistentRecursive ?? []);
  }

  get empty(): boolean {
    return this.persistent.size === 0 && this.recursive.size === 0;
  }

  matches(trigger: WatchTrigger): boolean {
    return this.persistent.has(trigger.path) || (this.recursive.size > 0 && this.recursive.matches(trigger));
  }
}

/** Below this many recursive watches, comparing prefixes beats walking the trigger's ancestors. */
const RECURSIVE_SCAN_MAX = 8;

/**
 * Whether any of a connection's recursive watches hears a trigger: every change but
 * NodeChildrenChanged, at the watched path or below. A few watches are compared directly
 * (no allocation); many are looked up once per ancestor of the trigger's path, O(depth).
 */
class RecursiveMatcher {
  private readonly list: readonly string[];
  private readonly set: ReadonlySet<string>;

  constructor(paths: Iterable<string>) {
    this.set = new Set(paths);
    this.list = [...this.set];
  }

  get size(): number {
    return this.list.length;
  }

  matches(trigger: WatchTrigger): boolean {
    if (trigger.type === EventType.NodeChildrenChanged) return false;
    if (this.list.length <= RECURSIVE_SCAN_MAX) return this.list.some((ancestor) => isPathUnder(trigger.path, ancestor));
    let path = trigger.path;
    for (;;) {
      if (this.set.has(path)) return true;
      if (path === '/') return false;
      const cut = path.lastIndexOf('/');
      path = cut <= 0 ? '/' : path.slice(0, cut);
    }
  }
}

/** The stat fields the one-shot rules read; undefined when the node does not exist. */
export interface OneShotNodeStat {
  readonly mzxid: number;
  readonly pzxid: number;
}

/** A one-shot watch to arm on the connection (WatchRegistry.add takes these kinds). */
export interface OneShotWatch {
  readonly path: string;
  readonly kind: 'data' | 'exist' | 'child';
}

export interface OneShotReregistration {
  /** Fire these now, in order, before answering setWatches. */
  readonly events: WatchTrigger[];
  /** Arm these: nothing has happened to them since the client's last zxid. */
  readonly arm: OneShotWatch[];
}

/**
 * ZooKeeper's setWatches rules for one-shot watches (DataTree.setWatches), against the
 * member's applied state at `zxid`:
 * - data watch: node gone → NodeDeleted; mzxid > lastZxid → NodeDataChanged; else armed.
 * - exist watch: node exists → NodeCreated; else armed.
 * - child watch: node gone → NodeDeleted; pzxid > lastZxid → NodeChildrenChanged; else armed.
 * A watch that fires is not armed (it is one-shot and has just fired). Events carry `zxid`,
 * the member's applied zxid, since the change that caused them is not known. Each (type, path)
 * fires once: a data and a child watch on a deleted node yield one NodeDeleted, as a delete
 * seen live would. Persistent watches are not handled here: arm them and replay with
 * {@link ChangeWindow.since}.
 */
export function reregisterOneShot(
  args: Pick<SetWatchesArgs, 'lastZxid' | 'data' | 'exist' | 'child'>,
  lookup: (path: string) => OneShotNodeStat | undefined,
  zxid: number,
): OneShotReregistration {
  const events: WatchTrigger[] = [];
  const arm: OneShotWatch[] = [];
  const fired = new Set<string>();
  const armed = new Set<string>();
  const fire = (type: EventType, path: string): void => {
    const key = `${type} ${path}`;
    if (fired.has(key)) return;
    fired.add(key);
    events.push({ type, path, zxid });
  };
  const keep = (path: string, kind: OneShotWatch['kind']): void => {
    const key = `${kind} ${path}`;
    if (armed.has(key)) return;
    armed.add(key);
    arm.push({ path, kind });
  };
  for (const path of args.data) {
    const stat = lookup(path);
    if (stat === undefined) fire(EventType.NodeDeleted, path);
    else if (stat.mzxid > args.lastZxid) fire(EventType.NodeDataChanged, path);
    else keep(path, 'data');
  }
  for (const path of args.exist) {
    if (lookup(path) !== undefined) fire(EventType.NodeCreated, path);
    else keep(path, 'exist');
  }
  for (const path of args.child) {
    const stat = lookup(path);
    if (stat === undefined) fire(EventType.NodeDeleted, path);
    else if (stat.pzxid > args.lastZxid) fire(EventType.NodeChildrenChanged, path);
    else keep(path, 'child');
  }
  return { events, arm };
}
