import type { Stat } from '@arbor/protocol';

/**
 * The local view of a node cache or a tree cache, without I/O: a map of path → node that
 * changes only by applying reads (STYLE.md 11: the pure decision; tree-cache.ts is the loop).
 * Given what one read found, {@link CacheView.apply} decides which change events that means.
 *
 * Invariants it keeps:
 * - per node, stat.mzxid never goes backwards for the same incarnation (czxid); a read older
 *   than the cached state is ignored rather than applied;
 * - a node that is found gone takes every cached descendant with it (a node cannot lose its
 *   children by other means), deepest first;
 * - a node found recreated (a newer czxid) takes the cached descendants of its old incarnation
 *   with it, those created before the new czxid. Descendants created after it belong to the new
 *   incarnation: they were read after the re-creation, ahead of the parent's own read (events
 *   are read one path at a time), and stay.
 */

/** One cached node. */
export interface CachedNode<T> {
  path: string;
  /** The decoded data; undefined only when the decoder threw (then `decodeError` says why). */
  data: T | undefined;
  /** The raw bytes (null and empty are different values). */
  bytes: Uint8Array | null;
  /** The stat of the last read of this node (numChildren and pzxid may be older than children()). */
  stat: Stat;
  decodeError?: Error;
}

/** A change the cache saw. */
export interface CacheEvent<T> {
  type: 'added' | 'updated' | 'removed';
  path: string;
  /** The new data (for 'removed': the data it had). */
  data: T | undefined;
  /** The new stat (for 'removed': the last stat it had). */
  stat: Stat;
  /** For 'updated': the node as it was before. */
  previous?: CachedNode<T>;
}

/** What one read of a node found. */
export type NodeRead = { path: string; found: false } | { path: string; found: true; bytes: Uint8Array | null; stat: Stat };

/** Turns a node's bytes into the cached value. */
export type Decoder<T> = (bytes: Uint8Array | null, path: string) => T;

export class CacheView<T> {
  private readonly nodes = new Map<string, CachedNode<T>>();
  private readonly childIndex = new Map<string, Set<string>>();
  /** Reads that were older than the cached state and so ignored (expected to stay 0; for tests and logs). */
  staleReads = 0;

  constructor(
    /** The cached root (a node cache: its one node). */
    readonly root: string,
    /** Depth below the root that is cached: 0 for the root only. */
    readonly maxDepth: number,
    private readonly decode: Decoder<T>,
  ) {}

  get size(): number {
    return this.nodes.size;
  }

  get(path: string): CachedNode<T> | undefined {
    return this.nodes.get(path);
  }

  /** Names of the cached children of `path`, in name order. */
  childrenOf(path: string): string[] {
    const set = this.childIndex.get(path);
    if (set === undefined) return [];
    return [...set].map((p) => p.slice(p.lastIndexOf('/') + 1)).sort();
  }

  /** Every cached node, in path order. */
  entries(): CachedNode<T>[] {
    return [...this.nodes.values()].sort((a, b) => comparePaths(a.path, b.path));
  }

  /** Whether `path` is the root or within maxDepth below it. */
  covers(path: string): boolean {
    const depth = depthBelow(this.root, path);
    return depth !== undefined && depth <= this.maxDepth;
  }

  /** Applies what one read found and returns the change events, in the order they happened. */
  apply(read: NodeRead): CacheEvent<T>[] {
    if (!this.covers(read.path)) return [];
    const cached = this.nodes.get(read.path);
    if (!read.found) return cached === undefined ? [] : this.removeSubtree(read.path);
    if (cached === undefined) return [this.put(read.path, read.bytes, read.stat, 'added')];
    if (cached.stat.czxid !== read.stat.czxid) {
      // Another incarnation: the old one was deleted (after its descendants) and this one created.
      // A czxid lower than the cached one is an older incarnation: a stale read.
      if (read.stat.czxid < cached.stat.czxid) {
        this.staleReads++;
        return [];
      }
      return [...this.removeSubtree(read.path, read.stat.czxid), this.put(read.path, read.bytes, read.stat, 'added')];
    }
    if (read.stat.mzxid < cached.stat.mzxid) {
      this.staleReads++;
      return [];
    }
    if (read.stat.mzxid === cached.stat.mzxid) {
      // The data did not change; keep the fresher stat (children counts) without an event.
      if (read.stat.pzxid >= cached.stat.pzxid) cached.stat = read.stat;
      return [];
    }
    return [this.put(read.path, read.bytes, read.stat, 'updated', cached)];
  }

  /**
   * Replaces the whole view with a fresh load (`found`: every node the walk found) and returns
   * the difference as events: removals (deepest first), then additions and updates (parents
   * first). Nodes are compared as {@link apply} would.
   */
  replace(found: Map<string, { bytes: Uint8Array | null; stat: Stat }>): CacheEvent<T>[] {
    const events: CacheEvent<T>[] = [];
    const gone = [...this.nodes.keys()].filter((p) => !found.has(p)).sort((a, b) => comparePaths(b, a));
    for (const path of gone) if (this.nodes.has(path)) events.push(...this.removeSubtree(path));
    const present = [...found.keys()].sort(comparePaths);
    for (const path of present) {
      const node = found.get(path) as { bytes: Uint8Array | null; stat: Stat };
      events.push(...this.apply({ path, found: true, bytes: node.bytes, stat: node.stat }));
    }
    return events;
  }

  private put(path: string, bytes: Uint8Array | null, stat: Stat, type: 'added' | 'updated', previous?: CachedNode<T>): CacheEvent<T> {
    const node: CachedNode<T> = { path, bytes, stat, data: undefined };
    try {
      node.data = this.decode(bytes, path);
    } catch (error) {
      node.decodeError = error instanceof Error ? error : new Error(String(error));
    }
    this.nodes.set(path, node);
    if (path !== this.root) {
      const parent = parentOf(path);
      let set = this.childIndex.get(parent);
      if (set === undefined) this.childIndex.set(parent, (set = new Set()));
      set.add(path);
    }
    return { type, path, data: node.data, stat, ...(previous !== undefined ? { previous } : {}) };
  }

  /**
   * Removes a node and its cached descendants, deepest first. With `keepFrom`, descendants whose
   * czxid is at or above it are kept, with their own descendants (created later still): they
   * belong to a newer incarnation of `path`.
   */
  private removeSubtree(path: string, keepFrom = Infinity): CacheEvent<T>[] {
    const events: CacheEvent<T>[] = [];
    for (const child of [...(this.childIndex.get(path) ?? [])].sort((a, b) => comparePaths(b, a))) {
      const node = this.nodes.get(child);
      if (node !== undefined && node.stat.czxid >= keepFrom) continue;
      events.push(...this.removeSubtree(child, keepFrom));
    }
    const node = this.nodes.get(path);
    if (node === undefined) return events;
    this.nodes.delete(path);
    // Kept descendants stay indexed under their parent path, which the new incarnation reuses.
    if (this.childIndex.get(path)?.size === 0) this.childIndex.delete(path);
    if (path !== this.root) {
      const parent = parentOf(path);
      const set = this.childIndex.get(parent);
      set?.delete(path);
      if (set?.size === 0) this.childIndex.delete(parent);
    }
    events.push({ type: 'removed', path, data: node.data, stat: node.stat });
    return events;
  }
}

/** The parent of a non-root path. */
export function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

/** How many segments `path` is below `root` (0 for the root), or undefined if it is not under it. */
export function depthBelow(root: string, path: string): number | undefined {
  if (path === root) return 0;
  const prefix = root === '/' ? '/' : `${root}/`;
  if (!path.startsWith(prefix)) return undefined;
  return path.slice(prefix.length).split('/').length;
}

/** Path order where a parent sorts before its descendants, siblings by name. */
export function comparePaths(a: string, b: string): number {
  const sa = a.split('/');
  const sb = b.split('/');
  for (let i = 0; i < Math.min(sa.length, sb.length); i++) {
    const x = sa[i] as string;
    const y = sb[i] as string;
    if (x !== y) return x < y ? -1 : 1;
  }
  return sa.length - sb.length;
}
