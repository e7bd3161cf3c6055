import type { ArborClient } from '../../client.js';
import { ConnectionLossError, NoNodeError, NodeExistsError, OperationTimeoutError } from '../../errors.js';
import type { CallOptions } from '../../requests.js';
import type { WatchEvent } from '../../watches.js';
import { RecipeTimeoutError, bounded, callBounds } from '../queue.js';
import type { WaitBounds } from '../queue.js';

/** Options of {@link Barrier.waitOnBarrier}. */
export interface BarrierWaitOptions {
  /** Give up after this long (RecipeTimeoutError). */
  timeoutMs?: number;
  /** Give up when aborted (rejects with the signal's reason). */
  signal?: AbortSignal;
}

/** Connection losses a wait rides out before it gives up (each one is followed by a reconnection). */
const LOSSES_MAX = 100;

/**
 * A barrier on `barrierPath`, as Curator's DistributedBarrier: the barrier is up while the node
 * exists. {@link setBarrier} creates it, {@link removeBarrier} deletes it, and
 * {@link waitOnBarrier} blocks while it exists, watching the node (no polling).
 *
 * The node is persistent: it outlives the session that set it, and nothing about a session's
 * suspension or loss lowers the barrier. A waiter rides out connection losses (its watch is
 * re-registered on the next member and a deletion missed meanwhile fires at once); if its own
 * session is lost, the wait rejects with SessionExpiredError.
 */
export class Barrier {
  constructor(
    readonly client: ArborClient,
    readonly barrierPath: string,
  ) {}

  /** Raises the barrier (creating missing ancestors). Resolves true if this call created it, false if it was already up. */
  async setBarrier(options: CallOptions = {}): Promise<boolean> {
    try {
      await this.client.create(this.barrierPath, null, { createParents: true, ...options });
      return true;
    } catch (error) {
      if (error instanceof NodeExistsError) return false;
      throw error;
    }
  }

  /**
   * Lowers the barrier: every waiter passes. Resolves true if this call deleted the node, false
   * if it was already down. NotEmptyError if someone created children under it.
   */
  async removeBarrier(options: CallOptions = {}): Promise<boolean> {
    try {
      await this.client.delete(this.barrierPath, options);
      return true;
    } catch (error) {
      if (error instanceof NoNodeError) return false;
      throw error;
    }
  }

  /** Whether the barrier is up (the node exists), as the member this client talks to sees it. */
  async isSet(options: CallOptions = {}): Promise<boolean> {
    return (await this.client.exists(this.barrierPath, options)) !== null;
  }

  /**
   * Resolves once the barrier is down: at once if the node does not exist, otherwise when its
   * deletion is observed. A deletion always lets the waiter pass, even if the barrier is set
   * again before the waiter runs. Rejects with RecipeTimeoutError after `timeoutMs`, with the
   * signal's reason on abort, and with SessionExpiredError if the session is lost.
   *
   * It syncs first, so a barrier raised before the wait began (by any client, through any
   * member) is seen even if this client's member has not applied it yet: a worker told "the
   * barrier is up" by another process never slips through on a lagging member.
   */
  async waitOnBarrier(options: BarrierWaitOptions = {}): Promise<void> {
    const bounds: WaitBounds = {
      deadlineMs: performance.now() + (options.timeoutMs ?? Infinity),
      what: `waitOnBarrier ${this.barrierPath}`,
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
    };
    // Each round either ends or consumes one change of the node (its deletion ends the wait; a
    // setData on it starts another round); connection losses are bounded separately.
    for (let losses = 0, synced = false; ;) {
      try {
        if (!synced) {
          await this.client.sync(this.barrierPath, callBounds(bounds));
          synced = true;
        }
        // A data watch (getData), not exists: the client re-registers a watch set by exists as an
        // existence watch, and a deletion missed while disconnected would then go unreported.
        let changed: Promise<WatchEvent>;
        try {
          changed = (await this.client.getData(this.barrierPath, { watch: true, ...callBounds(bounds) })).changed;
        } catch (error) {
          if (error instanceof NoNodeError) return;
          throw error;
        }
        const event = await bounded(changed, bounds);
        if (event.type === 'NodeDeleted') return;
      } catch (error) {
        if (error instanceof OperationTimeoutError && performance.now() >= bounds.deadlineMs)
          throw new RecipeTimeoutError(`${bounds.what}: timed out`, { cause: error });
        if (!(error instanceof ConnectionLossError) || ++losses > LOSSES_MAX) throw error;
        await bounded(this.client.waitUntilConnected(), bounds);
      }
    }
  }
}
