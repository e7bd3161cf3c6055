import type { ArborClient } from '../../client.js';
import { TreeCache } from '../cache/tree-cache.js';
import type { CacheStartOptions, CacheState } from '../cache/tree-cache.js';
import type { CacheEvent } from '../cache/view.js';
import { parseInstance, servicePath } from './instance.js';
import type { ServiceInstance } from './instance.js';
import { toStrategy } from './strategies.js';
import type { StrategyOption } from './strategies.js';

/** An instance came, changed its payload, or went. */
export interface ServiceCacheEvent<M> {
  type: 'added' | 'updated' | 'removed';
  instance: ServiceInstance<M>;
}

/**
 * The live instances of one service: a {@link TreeCache} of depth 1 on `<basePath>/<name>`,
 * each child a parsed {@link ServiceInstance} (children whose data is not an instance are left
 * out). Same guarantees and session behaviour as the tree cache: events in order per instance,
 * nothing missed across reconnects; frozen ('ended') when the session is lost until rebound.
 */
export class ServiceCache<M = Record<string, unknown>> {
  readonly name: string;
  private readonly tree: TreeCache<ServiceInstance<M> | undefined>;
  private readonly path: string;
  private readonly listeners = new Set<(event: ServiceCacheEvent<M>) => void>();

  constructor(client: ArborClient, name: string, options: { basePath: string }) {
    this.name = name;
    this.path = servicePath(options.basePath, name);
    this.tree = new TreeCache(client, this.path, { maxDepth: 1, decode: (bytes) => parseInstance<M>(bytes) });
    this.tree.on('change', (event) => this.onChange(event));
  }

  /** Resolves once the initial load is done. */
  get ready(): Promise<void> {
    return this.tree.ready;
  }

  get state(): CacheState {
    return this.tree.state;
  }

  /** Starts the cache (idempotent); resolves once the instances are loaded. */
  start(options: CacheStartOptions = {}): Promise<void> {
    return this.tree.start(options);
  }

  /** The instances now, in id order. */
  instances(): ServiceInstance<M>[] {
    const out: ServiceInstance<M>[] = [];
    for (const name of this.tree.children(this.path)) {
      const instance = this.tree.current(`${this.path}/${name}`)?.data;
      if (instance !== undefined) out.push(instance);
    }
    return out;
  }

  /** One instance by id. */
  get(id: string): ServiceInstance<M> | undefined {
    return this.tree.current(`${this.path}/${id}`)?.data;
  }

  /** Listens to instances added, updated and removed; returns an unsubscribe function. */
  on(event: 'change', listener: (event: ServiceCacheEvent<M>) => void): () => void;
  /** The cache ended (session lost) or a read failed. */
  on(event: 'end' | 'error', listener: (error: Error) => void): () => void;
  on(event: 'change' | 'end' | 'error', listener: ((event: ServiceCacheEvent<M>) => void) | ((error: Error) => void)): () => void {
    if (event === 'change') {
      const l = listener as (event: ServiceCacheEvent<M>) => void;
      this.listeners.add(l);
      return () => this.listeners.delete(l);
    }
    return this.tree.on(event, listener as (error: Error) => void);
  }

  /** A provider that picks from the live list with `strategy` (default round-robin). */
  provider(strategy: StrategyOption = 'round-robin'): ServiceProvider<M> {
    const s = toStrategy(strategy);
    return { get: () => s.select(this.instances()), all: () => this.instances() };
  }

  /** Continues on another client (see {@link TreeCache.rebind}). */
  rebind(client: ArborClient): void {
    this.tree.rebind(client);
  }

  close(): Promise<void> {
    return this.tree.close();
  }

  private onChange(event: CacheEvent<ServiceInstance<M> | undefined>): void {
    if (event.path === this.path) return;
    const previous = event.previous?.data;
    let out: ServiceCacheEvent<M> | undefined;
    if (event.type === 'removed') out = event.data !== undefined ? { type: 'removed', instance: event.data } : undefined;
    else if (event.data === undefined) out = previous !== undefined ? { type: 'removed', instance: previous } : undefined;
    else out = { type: event.type === 'updated' && previous !== undefined ? 'updated' : 'added', instance: event.data };
    if (out === undefined) return;
    for (const listener of [...this.listeners]) {
      try {
        listener(out);
      } catch {
        // A listener's failure is its own.
      }
    }
  }
}

/** Picks an instance of a service from a live cache. */
export interface ServiceProvider<M = Record<string, unknown>> {
  /** One instance chosen by the strategy, or undefined if there is none. */
  get(): ServiceInstance<M> | undefined;
  /** Every instance, in id order. */
  all(): ServiceInstance<M>[];
}
