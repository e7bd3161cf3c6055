import type { ArborClient } from '../../client.js';
import { decodeJSON, encodeJSON } from '../../data.js';
import { ConnectionLossError } from '../../errors.js';
import { Mutex } from '../mutex/mutex.js';
import type { AcquireOptions } from '../mutex/mutex.js';
import { ContenderGoneError, bounded, callBounds, joinChild, listContenders, listParticipants, sequenceOf } from '../queue.js';
import type { Participant, WaitBounds } from '../queue.js';
import { HeldNode, abandonNode, boundsOf, deleteNode } from '../held-node.js';

/** Options of a {@link Semaphore}. */
export interface SemaphoreOptions {
  /** A JSON value stored with every lease and wait of this semaphore object (shown to observers). Default null. */
  payload?: unknown;
}

/** Who holds and who waits for the leases of a semaphore path, as any client can see it. */
export interface SemaphoreParticipants {
  /** The number of leases, as the holders recorded it (undefined when nobody holds one). */
  maxLeases: number | undefined;
  /** The lease nodes that are granted, in grant order (one entry per lease: a session may hold several). */
  holders: Participant[];
  /** The acquirers waiting, in the order they will be served (one entry per acquire call). */
  waiters: Participant[];
}

const LEASE = 'lease-';

/**
 * A counting semaphore: at most `maxLeases` leases over `path` at once, granted in arrival
 * order. Every lease is an ephemeral-sequential node under `path/leases`; a lease is granted
 * while its node is among the first `maxLeases` there. Acquirers queue on a fair mutex at
 * `path/gate` (predecessor watches); only the one at the head of that queue creates its lease
 * nodes and, if they are not yet granted, watches the children of `path/leases`. So a release
 * wakes that one acquirer, and the next one when it passes the gate: a constant number of watch
 * notifications per release, however many wait (no herd, no polling). This is the shape of
 * Curator's InterProcessSemaphoreV2, except that acquire(count) takes all of its leases under
 * one pass of the gate, so two acquirers of several leases cannot deadlock each other.
 *
 * Guarantee: at most `maxLeases` leases are granted at once (the first `maxLeases` nodes by
 * sequence number; a node only moves forward), provided every participant uses the same
 * `maxLeases`. A lease's `lost` signal aborts on suspension, loss or close of its session and on
 * deletion of its node. A waiter rides out connection losses; if its session expires its acquire
 * fails.
 */
export class Semaphore {
  private readonly gate: Mutex;

  constructor(
    readonly client: ArborClient,
    readonly path: string,
    /** How many leases can be held at once. Every participant must use the same number. */
    readonly maxLeases: number,
    private readonly options: SemaphoreOptions = {},
  ) {
    if (!Number.isInteger(maxLeases) || maxLeases < 1)
      throw new RangeError(`Semaphore: maxLeases must be a positive integer, not ${maxLeases}`);
    this.gate = new Mutex(client, joinChild(path, 'gate'), { data: encodeJSON({ payload: options.payload ?? null }) });
  }

  /** Waits for one lease. */
  acquire(options?: AcquireOptions): Promise<SemaphoreLease>;
  /** Waits for `count` leases at once (1 ≤ count ≤ maxLeases): all are granted together, or none. */
  acquire(count: number, options?: AcquireOptions): Promise<SemaphoreLease[]>;
  async acquire(countOrOptions?: number | AcquireOptions, maybeOptions: AcquireOptions = {}): Promise<SemaphoreLease | SemaphoreLease[]> {
    if (typeof countOrOptions === 'number') return this.acquireMany(countOrOptions, maybeOptions);
    const [lease] = await this.acquireMany(1, countOrOptions ?? {});
    return lease as SemaphoreLease;
  }

  /** Holders and waiters of this semaphore. */
  participants(): Promise<SemaphoreParticipants> {
    return Semaphore.participants(this.client, this.path);
  }

  /**
   * Holders and waiters of the semaphore at `path`, with their sessions and when they queued.
   * The acquirer at the head of the gate briefly shows among both the waiters and (once granted)
   * the holders, between its grant and its pass through the gate.
   */
  static async participants(client: ArborClient, path: string): Promise<SemaphoreParticipants> {
    const [leases, waiters] = await Promise.all([
      listParticipants(client, joinChild(path, 'leases'), LEASE),
      listParticipants(client, joinChild(path, 'gate'), 'lock-'),
    ]);
    const maxLeases = leases.map((l) => maxLeasesOf(l.data)).find((n) => n !== undefined);
    const holders = leases.slice(0, maxLeases ?? leases.length).map((l, i) => ({ ...l, head: i === 0 }));
    return { maxLeases: holders.length > 0 ? maxLeases : undefined, holders, waiters };
  }

  private async acquireMany(count: number, options: AcquireOptions): Promise<SemaphoreLease[]> {
    if (!Number.isInteger(count) || count < 1 || count > this.maxLeases)
      throw new RangeError(`Semaphore ${this.path}: count must be an integer in 1..${this.maxLeases}, not ${count}`);
    const bounds = boundsOf(options, `acquire ${count} of ${this.path}`);
    const gateLease = await this.gate.acquire(passBounds(bounds));
    const created: string[] = [];
    try {
      const leasesPath = joinChild(this.path, 'leases');
      const data = encodeJSON({ maxLeases: this.maxLeases, payload: this.options.payload ?? null });
      for (let i = 0; i < count; i++) {
        // As in contend(): the create is not cancelled; a create that lands after the caller gave up is undone.
        const creating = this.client.create(`${leasesPath}/${LEASE}`, data, {
          mode: 'EPHEMERAL_SEQUENTIAL',
          protected: true,
          createParents: true,
        });
        try {
          created.push(await bounded(creating, bounds));
        } catch (error) {
          creating.then((p) => deleteNode(this.client, p)).catch(() => undefined);
          throw error;
        }
      }
      await this.waitForGrant(leasesPath, created[created.length - 1] as string, bounds);
      return created.map((p) => new SemaphoreLease(this.client, p));
    } catch (error) {
      await Promise.all(created.map((p) => abandonNode(this.client, p)));
      throw error;
    } finally {
      await gateLease.release().catch(() => undefined);
    }
  }

  /**
   * Waits until `last` (the newest of this acquirer's lease nodes, so all of them) is among the
   * first maxLeases. The children watch is set only when a wait is needed, and each round
   * consumes the one notification it gets, so no stale watch is left behind after a grant.
   */
  private async waitForGrant(leasesPath: string, last: string, bounds: WaitBounds): Promise<void> {
    const granted = (names: readonly string[]): boolean => {
      const queue = names
        .filter((n) => n.includes(LEASE) && sequenceOf(n) !== undefined)
        .sort((a, b) => (sequenceOf(a) as number) - (sequenceOf(b) as number));
      const index = queue.findIndex((n) => joinChild(leasesPath, n) === last);
      if (index < 0) throw new ContenderGoneError(`${bounds.what}: the lease node ${last} is gone (session expired?)`);
      return index < this.maxLeases;
    };
    for (let losses = 0; ;) {
      try {
        const queue = await bounded(listContenders(this.client, leasesPath, LEASE), bounds);
        if (granted(queue.map((c) => c.name))) return;
        // Listing and watching in one read, so that a release in between is not missed.
        const { children, changed } = await this.client.getChildren(leasesPath, { watch: true, ...callBounds(bounds) });
        if (granted(children)) return;
        await bounded(changed, bounds);
      } catch (error) {
        if (!(error instanceof ConnectionLossError) || ++losses > 100) throw error;
        await bounded(this.client.waitUntilConnected(), bounds);
      }
    }
  }
}

/**
 * One lease of a {@link Semaphore}. Release it with release() or `await using`. `fencingToken`
 * is the lease node's sequence number: it grows with every lease granted on the path.
 */
export class SemaphoreLease extends HeldNode {
  /** @internal Made by {@link Semaphore.acquire}. */
  constructor(client: ArborClient, path: string) {
    super(client, path, 'lease');
  }
}

/** The remaining time and the signal of `bounds`, as acquire options. */
function passBounds(bounds: WaitBounds): AcquireOptions {
  const left = bounds.deadlineMs - performance.now();
  return {
    ...(Number.isFinite(left) ? { timeoutMs: Math.max(0, left) } : {}),
    ...(bounds.signal !== undefined ? { signal: bounds.signal } : {}),
  };
}

function maxLeasesOf(data: Uint8Array | null): number | undefined {
  if (data === null) return undefined;
  try {
    const value = (decodeJSON(data) as { maxLeases?: unknown }).maxLeases;
    return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : undefined;
  } catch {
    return undefined;
  }
}
