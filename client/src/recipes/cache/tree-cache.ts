import type { Stat } from '@arbor/protocol';
import type { ArborClient } from '../../client.js';
import { decodeJSON, fromUtf8 } from '../../data.js';
import { ConnectionLossError, NoNodeError, OperationTimeoutError } from '../../errors.js';
import { isFinalState } from '../../state-machine.js';
import type { ConnectionState } from '../../state-machine.js';
import type { PersistentWatch, PersistentWatchEvent } from '../../watches.js';
import { bounded } from '../queue.js';
import { CacheView, comparePaths } from './view.js';
import type { CacheEvent, CachedNode, Decoder, NodeRead } from './view.js';

/** How a cache turns bytes into values: a function, or 'json' (null stays null), 'string' (UTF-8) or 'bytes' (the default). */
export type DecodeOption<T> = Decoder<T> | 'json' | 'string' | 'bytes';

/** Options of a {@link TreeCache}. */
export interface TreeCacheOptions<T> {
  /** How node data becomes the cached value. Default 'bytes' (Uint8Array | null). */
  decode?: DecodeOption<T>;
  /** Depth below the root that is cached (0: the root only). Default: the whole subtree. */
  maxDepth?: number;
}

/** Options of {@link TreeCache.start}. */
export interface CacheStartOptions {
  /** Give up waiting for the initial load (RecipeTimeoutError); the cache keeps loading. */
  timeoutMs?: number;
  /** Give up waiting when aborted; the cache keeps loading. */
  signal?: AbortSignal;
}

/** What the cache is doing. */
export type CacheState =
  /** Not started, or the initial load is not done. */
  | 'loading'
  /** Loaded and following changes; the session is connected. */
  | 'live'
  /** The session is suspended: the view may be stale until it reconnects (then missed changes are applied). */
  | 'suspended'
  /** The session was lost (or the client closed): the view is frozen; see {@link TreeCache.rebind}. */
  | 'ended'
  /** Closed by its owner. */
  | 'closed';

type Listeners<T> = {
  change: (event: CacheEvent<T>) => void;
  ready: () => void;
  end: (error: Error) => void;
  error: (error: Error) => void;
};

/**
 * A local, always-current view of the subtree at `root` (see docs/recipes.md, "Node and tree
 * caches"). start() sets a persistent recursive watch, then loads the subtree; from then on each
 * watch event makes the cache read the node it names, and the read decides the change.
 *
 * Guarantees:
 * - per node, change events come in the order the changes happened and stat.mzxid never goes
 *   backwards: one read at a time, each issued after the previous one was answered, and the
 *   client never reads older state than it has seen;
 * - no change is missed across reconnects: the client re-registers the watch with its last
 *   zxid and the member replays what was missed; when it cannot (its window no longer reaches
 *   back), the watch yields a resync and the cache reloads the subtree and emits the difference;
 * - the view converges to the tree: after the last change, once its event has been read, the
 *   cache equals the subtree.
 *
 * Non-guarantees: events carry no data, so a node written again before its read is answered is
 * seen once, at its newer value (versions may be skipped; never reordered). Across nodes,
 * events follow the order of reads, not of zxids.
 *
 * Session: while suspended, the view is served as it was (state 'suspended'); on reconnection
 * missed changes are applied. When the session is lost the watch ends: state 'ended', an 'end'
 * event with the error, the view frozen — call {@link rebind} with a new client to continue.
 */
export class TreeCache<T = Uint8Array | null> {
  readonly root: string;
  private clientValue: ArborClient;
  private readonly view: CacheView<T>;
  private readonly recursive: boolean;
  private stateValue: CacheState = 'loading';
  private started = false;
  private generation = 0;
  private watch: PersistentWatch | undefined;
  private offState: (() => void) | undefined;
  /** Paths whose events await a read, in the order of their first pending event. */
  private readonly dirty = new Set<string>();
  private reloadWanted = false;
  private wakeUp: (() => void) | undefined;
  private readonly listeners: { [E in keyof Listeners<T>]: Set<Listeners<T>[E]> } = {
    change: new Set(),
    ready: new Set(),
    end: new Set(),
    error: new Set(),
  };
  private resolveReady!: () => void;
  private rejectReady!: (error: unknown) => void;
  /** Resolves when the initial load is done; rejects if the cache ends (or is closed) first. */
  readonly ready: Promise<void>;
  private endError: Error | undefined;

  constructor(client: ArborClient, root: string, options: TreeCacheOptions<T> = {}) {
    this.clientValue = client;
    this.root = root;
    this.recursive = (options.maxDepth ?? Infinity) > 0;
    const maxDepth = options.maxDepth ?? Infinity;
    if (!(maxDepth >= 0)) throw new RangeError(`TreeCache: maxDepth must be >= 0, not ${maxDepth}`);
    this.view = new CacheView(root, maxDepth, toDecoder<T>(options.decode ?? 'bytes'));
    this.ready = new Promise<void>((resolve, reject) => ((this.resolveReady = resolve), (this.rejectReady = reject)));
    this.ready.catch(() => undefined);
  }

  /** The client the cache reads through (changes on {@link rebind}). */
  get client(): ArborClient {
    return this.clientValue;
  }

  get state(): CacheState {
    return this.stateValue;
  }

  /** Why the cache ended, if it did. */
  get error(): Error | undefined {
    return this.endError;
  }

  /** Reads that were older than the cached state and ignored; 0 unless something is wrong. */
  get staleReads(): number {
    return this.view.staleReads;
  }

  /**
   * Starts the cache (idempotent) and resolves once the initial load is done (the 'added'
   * events of the load have been emitted). The bounds only limit this wait.
   */
  async start(options: CacheStartOptions = {}): Promise<void> {
    if (!this.started) {
      this.started = true;
      this.run(this.clientValue, ++this.generation, true);
    }
    await bounded(this.ready, {
      deadlineMs: performance.now() + (options.timeoutMs ?? Infinity),
      what: `cache ${this.root}: initial load`,
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
    });
  }

  /** The cached node at `path` (absolute), or undefined if it is not in the cache. */
  current(path: string = this.root): CachedNode<T> | undefined {
    return this.view.get(path);
  }

  /** The cached children names of `path`, in name order. */
  children(path: string = this.root): string[] {
    return this.view.childrenOf(path);
  }

  /** Every cached node, parents before children. */
  nodes(): CachedNode<T>[] {
    return this.view.entries();
  }

  /**
   * 'change': every added/updated/removed, in order. 'ready': the initial load is done.
   * 'end': the session was lost (the view is frozen). 'error': a read failed for a reason other
   * than the connection (NOAUTH, say) or a listener threw. Returns an unsubscribe function.
   */
  on<E extends keyof Listeners<T>>(event: E, listener: Listeners<T>[E]): () => void {
    const set = this.listeners[event] as Set<Listeners<T>[E]>;
    set.add(listener);
    return () => set.delete(listener);
  }

  /**
   * Continues on another client (after the session of the first was lost, say): sets a new
   * watch, syncs, reloads the subtree and emits only the differences from the view. Changes
   * made meanwhile are reported as one event per node. Before start(), only the client changes.
   */
  rebind(client: ArborClient): void {
    if (this.stateValue === 'closed') throw new Error(`cache ${this.root}: closed`);
    if (!this.started) {
      this.clientValue = client;
      return;
    }
    void this.watch?.close();
    this.offState?.();
    this.wakeUp?.();
    this.clientValue = client;
    this.started = true;
    this.endError = undefined;
    this.run(client, ++this.generation, false);
  }

  /** Stops following changes (the watch is removed); the view stays readable. Idempotent. */
  async close(): Promise<void> {
    if (this.stateValue === 'closed') return;
    this.stateValue = 'closed';
    this.generation++;
    this.offState?.();
    this.wakeUp?.();
    this.rejectReady(new Error(`cache ${this.root}: closed`));
    await this.watch?.close();
  }

  // ---- the loop -----------------------------------------------------------------------------

  private run(client: ArborClient, generation: number, initial: boolean): void {
    const live = (): boolean => this.generation === generation;
    this.offState = client.on('state', (state) => live() && this.onState(state));
    const watch = client.watch(this.root, { recursive: this.recursive });
    this.watch = watch;
    this.dirty.clear();
    this.reloadWanted = true;
    void this.pump(watch, live);
    void this.process(client, watch, live, initial).catch((error: unknown) => {
      if (live()) this.end(asError(error));
    });
  }

  private onState(state: ConnectionState): void {
    if (this.stateValue === 'closed' || this.stateValue === 'ended') return;
    if (state === 'suspended' && this.stateValue === 'live') this.stateValue = 'suspended';
    else if ((state === 'reconnected' || state === 'connected') && this.stateValue === 'suspended') this.stateValue = 'live';
  }

  /** Moves the watch's events into the dirty set (coalescing repeats) and wakes the reader. */
  private async pump(watch: PersistentWatch, live: () => boolean): Promise<void> {
    try {
      for await (const event of watch as AsyncIterable<PersistentWatchEvent>) {
        if (!live()) return;
        if (event.type === 'resync') this.reloadWanted = true;
        else if (event.type === 'NodeCreated' || event.type === 'NodeDataChanged' || event.type === 'NodeDeleted') {
          if (this.view.covers(event.path)) this.dirty.add(event.path);
        }
        this.wakeUp?.();
      }
    } catch (error) {
      if (live()) this.end(asError(error));
      return;
    }
    // Ended normally: closed by us, or the client was closed.
    if (live()) this.end(new Error(`cache ${this.root}: the watch ended (client closed?)`));
  }

  /** One read at a time: a reload when asked, else the oldest dirty path. */
  private async process(client: ArborClient, watch: PersistentWatch, live: () => boolean, initial: boolean): Promise<void> {
    await watch.ready;
    if (!initial) await this.retrying(client, live, () => client.sync(this.root));
    while (live()) {
      if (this.reloadWanted) {
        this.reloadWanted = false;
        // Everything dirty so far is covered by the reload, whose reads come later.
        this.dirty.clear();
        const found = await this.retrying(client, live, () => this.load(client), true);
        if (!live() || found === undefined) return;
        this.emitAll(this.view.replace(found));
        if (this.stateValue === 'loading' || this.stateValue === 'ended') {
          this.stateValue = client.state === 'suspended' ? 'suspended' : 'live';
          this.resolveReady();
          this.emit('ready');
        }
        continue;
      }
      const path = this.dirty.values().next();
      if (path.done === true) {
        await new Promise<void>((resolve) => (this.wakeUp = resolve));
        if (!live()) return;
        this.wakeUp = undefined;
        continue;
      }
      this.dirty.delete(path.value);
      const read = await this.retrying(client, live, () => readNode(client, path.value));
      if (!live()) return;
      if (read !== undefined) this.emitAll(this.view.apply(read));
    }
  }

  /**
   * Runs a read, waiting out connection losses (the session reconnects, or ends and so does
   * the cache). Other failures end the cache when `fatal`, else are reported as 'error' and the
   * read is skipped (undefined).
   */
  private async retrying<R>(client: ArborClient, live: () => boolean, read: () => Promise<R>, fatal = false): Promise<R | undefined> {
    // Each failed round waits for a (re)connection, which is bounded by the session timeout.
    for (;;) {
      try {
        return await read();
      } catch (error) {
        if (!live()) return undefined;
        if (isFinalState(client.state)) throw error;
        if (error instanceof ConnectionLossError || error instanceof OperationTimeoutError) {
          await client.waitUntilConnected();
          continue;
        }
        if (fatal) throw error;
        this.emit('error', asError(error));
        return undefined;
      }
    }
  }

  /** Walks the subtree (one level at a time, reads pipelined) and returns every node found. */
  private async load(client: ArborClient): Promise<Map<string, { bytes: Uint8Array | null; stat: Stat }>> {
    const found = new Map<string, { bytes: Uint8Array | null; stat: Stat }>();
    let level = [this.root];
    for (let depth = 0; level.length > 0; depth++) {
      const reads = await Promise.all(
        level.map(async (path) => {
          const wantChildren = depth < this.view.maxDepth;
          const [node, children] = await Promise.all([readNode(client, path), wantChildren ? listChildren(client, path) : []]);
          return { path, node, children };
        }),
      );
      const next: string[] = [];
      for (const { path, node, children } of reads) {
        if (!node.found) continue;
        found.set(path, { bytes: node.bytes, stat: node.stat });
        for (const name of children) next.push(path === '/' ? `/${name}` : `${path}/${name}`);
      }
      level = next.sort(comparePaths);
    }
    return found;
  }

  private end(error: Error): void {
    if (this.stateValue === 'closed' || this.stateValue === 'ended') return;
    this.generation++;
    this.offState?.();
    this.wakeUp?.();
    this.stateValue = 'ended';
    this.endError = error;
    this.rejectReady(error);
    this.emit('end', error);
  }

  private emitAll(events: CacheEvent<T>[]): void {
    for (const event of events) this.emit('change', event);
  }

  private emit<E extends keyof Listeners<T>>(event: E, ...args: Parameters<Listeners<T>[E]>): void {
    for (const listener of [...this.listeners[event]]) {
      try {
        (listener as (...a: unknown[]) => void)(...args);
      } catch (error) {
        if (event !== 'error') this.emit('error', asError(error));
      }
    }
  }
}

/** getData, with a missing node as `found: false`. */
async function readNode(client: ArborClient, path: string): Promise<NodeRead> {
  try {
    const { data, stat } = await client.getData(path);
    return { path, found: true, bytes: data, stat };
  } catch (error) {
    if (error instanceof NoNodeError) return { path, found: false };
    throw error;
  }
}

/** Every child name (paged), or none if the node is gone. */
async function listChildren(client: ArborClient, path: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const page of client.childrenPages(path)) names.push(...page);
  } catch (error) {
    if (error instanceof NoNodeError) return [];
    throw error;
  }
  return names;
}

function toDecoder<T>(decode: DecodeOption<T>): Decoder<T> {
  if (typeof decode === 'function') return decode;
  switch (decode) {
    case 'json':
      return (bytes) => (bytes === null ? null : decodeJSON(bytes)) as T;
    case 'string':
      return (bytes) => (bytes === null ? null : fromUtf8(bytes)) as T;
    case 'bytes':
      return (bytes) => bytes as T;
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
