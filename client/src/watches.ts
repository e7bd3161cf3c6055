import { EventType, WatcherType, parentPath } from '@arbor/protocol';
import type { EventTypeName, SetWatchesArgs } from '@arbor/protocol';
import type { Channel } from './channel.js';

/** The kind of change a watch reports, by ZooKeeper's name. */
export type WatchEventType = Exclude<EventTypeName, 'None'>;

/** A watch fired: what happened, to which node (client path, chroot stripped), at which zxid. */
export interface WatchEvent {
  type: WatchEventType;
  path: string;
  /** The zxid of the change (for a removal event: the member's zxid when it removed the watch). */
  zxid: number;
}

/**
 * The member could not replay every change since this client's last zxid (its window no longer
 * reaches back that far): events may have been missed, so re-read the watched data. The watch
 * itself stays in place.
 */
export interface ResyncEvent {
  type: 'resync';
  path: string;
  zxid: number;
}

/** What a persistent watch yields. */
export type PersistentWatchEvent = WatchEvent | ResyncEvent;

/** Which one-shot table a watch is in (ZooKeeper's data, exist and child watches). */
export type OneShotKind = 'data' | 'exist' | 'child';

const TYPE_NAMES = new Map<number, WatchEventType>(
  (Object.keys(EventType) as EventTypeName[]).filter((n) => n !== 'None').map((n) => [EventType[n], n as WatchEventType]),
);

/** ZooKeeper's event type number → name, or undefined for a number that is not a watch event. */
export function watchEventTypeName(type: number): WatchEventType | undefined {
  return TYPE_NAMES.get(type);
}

/**
 * A persistent (optionally recursive) watch: an async iterable of events that stays registered
 * across reconnects until closed. One consumer: iterate it once. Ends normally when closed
 * (by {@link close}, by leaving a `for await` loop, by removeWatches, or by closing the client);
 * throws SessionExpiredError when the session is lost.
 */
export class PersistentWatch implements AsyncIterable<PersistentWatchEvent> {
  /** @internal Created by the client (watch/addWatch). */
  constructor(
    /** The watched path (client path). */
    readonly path: string,
    /** Whether the whole subtree is watched. */
    readonly recursive: boolean,
    /** Resolves once the member has registered the watch; rejects if it refused. */
    readonly ready: Promise<void>,
    private readonly channel: Channel<PersistentWatchEvent>,
    private readonly closeFn: () => Promise<void>,
  ) {}

  /** Stops the watch: the iterator ends, and the member forgets it if no other local watch needs it. */
  close(): Promise<void> {
    return this.closeFn();
  }

  [Symbol.asyncIterator](): AsyncIterator<PersistentWatchEvent> {
    return this.channel;
  }
}

/** A registered persistent watch, as the registry tracks it. */
export class PersistentEntry {
  /** Highest zxid delivered, and which (type, path) were delivered at it: the dedupe state. */
  private floorZxid = -1;
  private keysAtFloor = new Set<string>();
  /** The member has acknowledged the addWatch; until then no event is delivered to it. */
  active = false;
  closed = false;

  constructor(
    readonly path: string,
    readonly recursive: boolean,
    readonly channel: Channel<PersistentWatchEvent>,
  ) {}

  /**
   * Delivers an event unless it was already delivered. Events arrive in zxid order, but a
   * reconnect may replay some again; several events may share a zxid (one multi), so the key is
   * (zxid, type, path), and anything below the highest zxid delivered is a repeat.
   */
  deliver(event: WatchEvent): void {
    if (event.zxid < this.floorZxid) return;
    const key = `${event.type} ${event.path}`;
    if (event.zxid === this.floorZxid) {
      if (this.keysAtFloor.has(key)) return;
      this.keysAtFloor.add(key);
    } else {
      this.floorZxid = event.zxid;
      this.keysAtFloor = new Set([key]);
    }
    this.channel.push(event);
  }
}

interface OneShot {
  resolve(event: WatchEvent): void;
  reject(error: unknown): void;
}

/**
 * The client's watch tables, keyed by client path: one-shot data, exist and child watches
 * (settled by the first matching event) and persistent watches (plain and recursive). The
 * member sends one event per change and connection; the registry fans it out to every local
 * watch it concerns, with ZooKeeper's routing.
 */
export class WatchRegistry {
  private readonly oneShot: Record<OneShotKind, Map<string, OneShot[]>> = { data: new Map(), exist: new Map(), child: new Map() };
  private readonly persistent = new Map<string, Set<PersistentEntry>>();
  private readonly recursive = new Map<string, Set<PersistentEntry>>();

  /** Registers a one-shot watch; the promise settles with its event, or rejects when the session ends. */
  addOneShot(kind: OneShotKind, path: string): Promise<WatchEvent> {
    let watch!: OneShot;
    const promise = new Promise<WatchEvent>((resolve, reject) => (watch = { resolve, reject }));
    // Marked handled: a caller that never awaits it must not see an unhandled rejection at expiry.
    promise.catch(() => {});
    const list = this.oneShot[kind].get(path) ?? [];
    list.push(watch);
    this.oneShot[kind].set(path, list);
    return promise;
  }

  /** Tracks a persistent watch from the moment its addWatch is sent (so that closing another one on the same path keeps the member's registration). */
  addPersistent(entry: PersistentEntry): void {
    const table = entry.recursive ? this.recursive : this.persistent;
    const set = table.get(entry.path) ?? new Set();
    set.add(entry);
    table.set(entry.path, set);
  }

  /** Removes one persistent watch; true when no other local watch of its kind (active or pending) remains on its path. */
  removePersistent(entry: PersistentEntry): boolean {
    const table = entry.recursive ? this.recursive : this.persistent;
    const set = table.get(entry.path);
    if (set === undefined || !set.delete(entry)) return !this.hasPersistent(entry.path, entry.recursive);
    if (set.size === 0) table.delete(entry.path);
    return set.size === 0;
  }

  hasPersistent(path: string, recursive: boolean): boolean {
    return ((recursive ? this.recursive : this.persistent).get(path)?.size ?? 0) > 0;
  }

  /** Routes one event (client path) to every local watch it concerns. */
  dispatch(event: WatchEvent): void {
    const { type, path } = event;
    switch (type) {
      case 'NodeCreated':
      case 'NodeDataChanged':
        this.fire('data', path, event);
        this.fire('exist', path, event);
        break;
      case 'NodeDeleted':
        this.fire('data', path, event);
        this.fire('exist', path, event);
        this.fire('child', path, event);
        break;
      case 'NodeChildrenChanged':
        this.fire('child', path, event);
        break;
      default:
        // Removal events are completed locally when removeWatches is answered.
        return;
    }
    for (const entry of this.persistent.get(path) ?? []) if (entry.active) entry.deliver(event);
    if (type === 'NodeChildrenChanged') return;
    for (let ancestor = path; ; ancestor = parentPath(ancestor)) {
      for (const entry of this.recursive.get(ancestor) ?? []) if (entry.active) entry.deliver(event);
      if (ancestor === '/') break;
    }
  }

  /** The member's window does not reach back for the persistent watches on `path`. */
  resync(path: string, zxid: number): void {
    for (const table of [this.persistent, this.recursive]) {
      for (const entry of table.get(path) ?? []) if (entry.active) entry.channel.push({ type: 'resync', path, zxid });
    }
  }

  /**
   * removeWatches was answered OK: settle the local watches of that type on the path (one-shots
   * with a DataWatchRemoved/ChildWatchRemoved event, persistent ones by ending their iterators).
   */
  removeLocal(path: string, type: WatcherType, zxid: number): void {
    const any = type === WatcherType.Any;
    if (any || type === WatcherType.Data) {
      const event: WatchEvent = { type: 'DataWatchRemoved', path, zxid };
      this.fire('data', path, event);
      this.fire('exist', path, event);
    }
    if (any || type === WatcherType.Children) this.fire('child', path, { type: 'ChildWatchRemoved', path, zxid });
    if (any || type === WatcherType.Persistent) this.endPersistent(this.persistent, path);
    if (any || type === WatcherType.PersistentRecursive) this.endPersistent(this.recursive, path);
  }

  /**
   * Every watched path (client paths), for setWatches after a reconnect. Persistent watches
   * whose addWatch is still pending are left out: that addWatch is resent instead.
   */
  snapshot(): Omit<SetWatchesArgs, 'lastZxid'> {
    const keys = (map: Map<string, unknown>): string[] => [...map.keys()];
    const active = (map: Map<string, Set<PersistentEntry>>): string[] =>
      [...map].filter(([, set]) => [...set].some((e) => e.active)).map(([path]) => path);
    return {
      data: keys(this.oneShot.data),
      exist: keys(this.oneShot.exist),
      child: keys(this.oneShot.child),
      persistent: active(this.persistent),
      persistentRecursive: active(this.recursive),
    };
  }

  get size(): number {
    let n = 0;
    for (const map of [this.oneShot.data, this.oneShot.exist, this.oneShot.child]) for (const list of map.values()) n += list.length;
    for (const map of [this.persistent, this.recursive]) for (const set of map.values()) n += set.size;
    return n;
  }

  /**
   * The session ended. One-shot watches reject with the error; persistent watches fail with it,
   * or end normally when `closedByUser`.
   */
  endAll(error: (path: string) => Error, closedByUser: boolean): void {
    for (const map of Object.values(this.oneShot)) {
      for (const [path, list] of map) for (const watch of list) watch.reject(error(path));
      map.clear();
    }
    for (const table of [this.persistent, this.recursive]) {
      for (const [path, set] of table) {
        for (const entry of set) {
          entry.closed = true;
          if (closedByUser) entry.channel.end();
          else entry.channel.fail(error(path));
        }
      }
      table.clear();
    }
  }

  private fire(kind: OneShotKind, path: string, event: WatchEvent): void {
    const list = this.oneShot[kind].get(path);
    if (list === undefined) return;
    this.oneShot[kind].delete(path);
    for (const watch of list) watch.resolve(event);
  }

  private endPersistent(table: Map<string, Set<PersistentEntry>>, path: string): void {
    for (const entry of table.get(path) ?? []) {
      entry.closed = true;
      entry.channel.end();
    }
    table.delete(path);
  }
}

/**
 * Splits the watched paths into setWatches requests of at most about `budgetBytes` each, as
 * ZooKeeper does (a client with many watches would otherwise exceed the frame limit). Paths
 * must already carry the chroot. No request when nothing is watched.
 *
 * Persistent watches go first. Every event reaches every local watch on its path, and the
 * one-shot events a member makes up carry its current zxid: in a request before the replay of
 * a persistent watch they would move that watch's dedupe floor past the replayed changes,
 * which would then be dropped as repeats.
 */
export function setWatchesChunks(lastZxid: number, lists: Omit<SetWatchesArgs, 'lastZxid'>, budgetBytes: number): SetWatchesArgs[] {
  const kinds = ['persistent', 'persistentRecursive', 'data', 'exist', 'child'] as const;
  const empty = (): SetWatchesArgs => ({ lastZxid, data: [], exist: [], child: [], persistent: [], persistentRecursive: [] });
  const chunks: SetWatchesArgs[] = [];
  let chunk = empty();
  let bytes = 0;
  for (const kind of kinds) {
    for (const path of lists[kind]) {
      // UTF-8 is at most 3 bytes per UTF-16 unit; 5 bytes of msgpack string header.
      const cost = path.length * 3 + 5;
      if (bytes > 0 && bytes + cost > budgetBytes) {
        chunks.push(chunk);
        chunk = empty();
        bytes = 0;
      }
      chunk[kind].push(path);
      bytes += cost;
    }
  }
  if (bytes > 0) chunks.push(chunk);
  return chunks;
}
