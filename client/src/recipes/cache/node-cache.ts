import type { ArborClient } from '../../client.js';
import { TreeCache } from './tree-cache.js';
import type { CacheStartOptions, CacheState, DecodeOption } from './tree-cache.js';
import type { CacheEvent, CachedNode } from './view.js';

/** Options of a {@link NodeCache}. */
export interface NodeCacheOptions<T> {
  /** How node data becomes the cached value. Default 'bytes' (Uint8Array | null). */
  decode?: DecodeOption<T>;
}

/**
 * A local, always-current view of one node (which may not exist yet): a {@link TreeCache} of
 * depth 0, over a persistent (non-recursive) watch on the node. Same guarantees: changes in
 * order, mzxid never backwards, nothing missed across reconnects, a reload on resync.
 *
 * @example
 * const config = new NodeCache<{ level: string }>(client, '/config/log', { decode: 'json' });
 * await config.start({ timeoutMs: 5000 });
 * config.on('change', (e) => applyLevel(e.data));
 */
export class NodeCache<T = Uint8Array | null> {
  private readonly tree: TreeCache<T>;

  constructor(
    client: ArborClient,
    readonly path: string,
    options: NodeCacheOptions<T> = {},
  ) {
    this.tree = new TreeCache<T>(client, path, { maxDepth: 0, ...(options.decode !== undefined ? { decode: options.decode } : {}) });
  }

  /** Resolves when the initial read is done; rejects if the cache ends first. */
  get ready(): Promise<void> {
    return this.tree.ready;
  }

  get state(): CacheState {
    return this.tree.state;
  }

  get client(): ArborClient {
    return this.tree.client;
  }

  /** Starts the cache (idempotent); resolves once the node has been read. */
  start(options: CacheStartOptions = {}): Promise<void> {
    return this.tree.start(options);
  }

  /** The node, or undefined if it does not exist (or is not loaded yet). */
  current(): CachedNode<T> | undefined {
    return this.tree.current(this.path);
  }

  /** The node's decoded data, or undefined if it does not exist. */
  get data(): T | undefined {
    return this.current()?.data;
  }

  /** See {@link TreeCache.on}. */
  on(event: 'change', listener: (event: CacheEvent<T>) => void): () => void;
  on(event: 'ready', listener: () => void): () => void;
  on(event: 'end' | 'error', listener: (error: Error) => void): () => void;
  on(event: 'change' | 'ready' | 'end' | 'error', listener: (arg: never) => void): () => void {
    return this.tree.on(event, listener as never);
  }

  /** See {@link TreeCache.rebind}. */
  rebind(client: ArborClient): void {
    this.tree.rebind(client);
  }

  /** Stops following the node; the last value stays readable. */
  close(): Promise<void> {
    return this.tree.close();
  }
}
