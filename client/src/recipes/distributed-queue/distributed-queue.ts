import type { ArborClient } from '../../client.js';
import {
  BadVersionError,
  ConnectionLossError,
  NoNodeError,
  NodeExistsError,
  OperationTimeoutError,
  SessionExpiredError,
} from '../../errors.js';
import type { ZnodeData } from '../../data.js';
import type { CallOptions } from '../../requests.js';
import { RecipeTimeoutError, bounded, callBounds, joinChild, listContenders, sequenceOf } from '../queue.js';
import type { Contender, WaitBounds } from '../queue.js';

/** An item of a {@link DistributedQueue}. */
export interface QueueItem {
  /** The item's node. */
  path: string;
  /** Its sequence number: the queue order. */
  sequence: number;
  /** What was put (null and empty are different values). */
  data: Uint8Array | null;
}

/** Options of {@link DistributedQueue.take}. */
export interface TakeOptions {
  /** Give up after this long (RecipeTimeoutError); nothing is taken. */
  timeoutMs?: number;
  /** Give up when aborted (rejects with the signal's reason); nothing is taken. */
  signal?: AbortSignal;
}

/**
 * take() sent the delete that claims an item but could not learn its outcome (the session
 * ended, or no member answered within the client's request timeout): the item may have been
 * removed, or may still be in the queue for another consumer. `item` carries its data, so that
 * the caller can decide (process it idempotently, or put it back).
 */
export class TakeInDoubtError extends Error {
  override readonly name = 'TakeInDoubtError';
  constructor(
    message: string,
    /** The item whose removal is in doubt. */
    readonly item: QueueItem,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const PREFIX = 'qn-';
const LOSSES_MAX = 100;
/** Claims of one item that lost to a setData on it before the claim gives that item up. */
const CLAIM_ATTEMPTS_MAX = 3;

/**
 * A distributed FIFO queue under `queuePath` (ZooKeeper's queue recipe; Curator's
 * SimpleDistributedQueue): each item is a persistent-sequential child `qn-<sequence>`; the
 * lowest sequence is the head.
 *
 * Guarantees: each item is returned by take() to at most one consumer — the consumer whose
 * versioned delete of its node succeeds; the others get NoNode and move on to the next item.
 * A consumer takes items in increasing sequence order, so the items of one producer (whose puts
 * are sequential) reach any one consumer in the order they were put. Items are persistent: no
 * session loss removes them. put() and a claiming delete are writes, which the client resends
 * once with their request id after a failover, so a lost answer neither duplicates an item nor
 * loses one; only a claim whose outcome cannot be learnt at all is reported, as
 * {@link TakeInDoubtError}.
 *
 * Non-guarantees: consumers racing for the same head retry on the next item (contention grows
 * with the number of consumers); every consumer waiting on an empty queue is woken by a put
 * (they all watch the children).
 */
export class DistributedQueue {
  constructor(
    readonly client: ArborClient,
    readonly queuePath: string,
  ) {}

  /** Appends an item (creating the queue node if needed) and resolves with its node and sequence number. */
  async put(data: ZnodeData, options: CallOptions = {}): Promise<{ path: string; sequence: number }> {
    const path = await this.client.create(joinChild(this.queuePath, PREFIX), data, {
      mode: 'PERSISTENT_SEQUENTIAL',
      createParents: true,
      ...options,
    });
    const sequence = sequenceOf(path);
    if (sequence === undefined) throw new Error(`put ${this.queuePath}: the ensemble made ${path}, which has no sequence number`);
    return { path, sequence };
  }

  /** How many items the queue holds now (0 if the queue node does not exist). */
  async size(): Promise<number> {
    return (await this.items()).length;
  }

  /** The head item without removing it, or undefined if the queue is empty. */
  async peek(): Promise<QueueItem | undefined> {
    for (const item of await this.items()) {
      try {
        const { data } = await this.client.getData(item.path);
        return { ...item, data };
      } catch (error) {
        if (!(error instanceof NoNodeError)) throw error;
      }
    }
    return undefined;
  }

  /** Removes and returns the head item if there is one; undefined at once if the queue is empty. */
  async poll(options: CallOptions = {}): Promise<QueueItem | undefined> {
    const bounds = boundsOf(options, `poll ${this.queuePath}`);
    for (let round = 0; round < LOSSES_MAX; round++) {
      const items = await bounded(this.items(), bounds);
      if (items.length === 0) return undefined;
      const taken = await this.claimFirst(items, bounds);
      if (taken !== undefined) return taken;
    }
    throw new Error(`poll ${this.queuePath}: every item listed was taken by others ${LOSSES_MAX} times in a row`);
  }

  /**
   * Removes and returns the head item, waiting (watching the queue's children) while the queue
   * is empty. Rejects with RecipeTimeoutError after `timeoutMs` and with the signal's reason on
   * abort, having taken nothing. Once its claim on an item is sent, take() waits for the answer
   * and returns the item even if the deadline passes meanwhile (abandoning it could lose the
   * item); if the answer cannot be had, it rejects with {@link TakeInDoubtError}. A connection
   * loss is ridden out; the loss of the session rejects with the session's error.
   */
  async take(options: TakeOptions = {}): Promise<QueueItem> {
    const bounds = boundsOf(options, `take ${this.queuePath}`);
    // Each round takes an item, or waits for one change of the children, or finds its listed
    // items taken by others; connection losses and a missing queue node are bounded separately.
    for (let losses = 0, creates = 0; ;) {
      try {
        const items = await bounded(this.items(), bounds);
        const taken = await this.claimFirst(items, bounds);
        if (taken !== undefined) return taken;
        // None left (or all taken under us): watch the children, then look again, so that a put
        // between the listing above and the watch is not missed.
        let watched;
        try {
          watched = await this.client.getChildren(this.queuePath, { watch: true, ...callBounds(bounds) });
        } catch (error) {
          if (!(error instanceof NoNodeError) || ++creates > LOSSES_MAX) throw error;
          await bounded(this.ensureQueueNode(), bounds);
          continue;
        }
        if (watched.children.some((name) => name.startsWith(PREFIX) && sequenceOf(name) !== undefined)) continue;
        await bounded(watched.changed, bounds);
      } catch (error) {
        if (error instanceof OperationTimeoutError && performance.now() >= bounds.deadlineMs)
          throw new RecipeTimeoutError(`${bounds.what}: timed out`, { cause: error });
        if (!(error instanceof ConnectionLossError) || ++losses > LOSSES_MAX) throw error;
        await bounded(this.client.waitUntilConnected(), bounds);
      }
    }
  }

  /** The items, in queue order. */
  private items(): Promise<Contender[]> {
    return listContenders(this.client, this.queuePath, PREFIX);
  }

  private async ensureQueueNode(): Promise<void> {
    await this.client.create(this.queuePath, null, { createParents: true }).catch((error: unknown) => {
      if (!(error instanceof NodeExistsError)) throw error;
    });
  }

  /** Claims the first of `items` still there, in order; undefined if others took them all. */
  private async claimFirst(items: readonly Contender[], bounds: WaitBounds): Promise<QueueItem | undefined> {
    for (const item of items) {
      const taken = await this.claim(item, bounds);
      if (taken !== undefined) return taken;
    }
    return undefined;
  }

  /**
   * Reads an item and deletes it with the version read: the one consumer whose delete succeeds
   * owns the data it read. Undefined if the item is gone (another consumer took it).
   */
  private async claim(item: Contender, bounds: WaitBounds): Promise<QueueItem | undefined> {
    for (let attempt = 1; attempt <= CLAIM_ATTEMPTS_MAX; attempt++) {
      let read;
      try {
        read = await bounded(this.client.getData(item.path, callBounds(bounds)), bounds);
      } catch (error) {
        if (error instanceof NoNodeError) return undefined;
        throw error;
      }
      const taken: QueueItem = { path: item.path, sequence: item.sequence, data: read.data };
      // Last chance to give up with nothing taken.
      callBounds(bounds);
      if (bounds.signal?.aborted === true) throw bounds.signal.reason;
      try {
        // Not bounded by the deadline or the signal: an abandoned delete could still apply, and
        // the item would be lost to everyone.
        await this.client.delete(item.path, { version: read.stat.version });
        return taken;
      } catch (error) {
        if (error instanceof NoNodeError) return undefined;
        if (error instanceof BadVersionError) continue;
        if (!isInDoubt(error)) throw error;
        throw new TakeInDoubtError(
          `take ${this.queuePath}: the claim of ${item.path} was sent but its outcome is unknown (${(error as Error).message}); the item may or may not still be in the queue`,
          taken,
          { cause: error },
        );
      }
    }
    return undefined;
  }
}

/** Errors after which a sent write may or may not have applied. */
function isInDoubt(error: unknown): boolean {
  return error instanceof OperationTimeoutError || error instanceof SessionExpiredError || error instanceof ConnectionLossError;
}

function boundsOf(options: { timeoutMs?: number; signal?: AbortSignal }, what: string): WaitBounds {
  return {
    deadlineMs: performance.now() + (options.timeoutMs ?? Infinity),
    what,
    ...(options.signal !== undefined ? { signal: options.signal } : {}),
  };
}
