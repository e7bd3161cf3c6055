import type { ArborClient } from '../../client.js';
import { ConnectionLossError, NoNodeError, NodeExistsError, OperationTimeoutError, SessionExpiredError } from '../../errors.js';
import type { ZnodeData } from '../../data.js';
import { isFinalState } from '../../state-machine.js';
import { ContenderGoneError, RecipeTimeoutError, bounded, callBounds, joinChild, listContenders } from '../queue.js';
import type { Contender, WaitBounds } from '../queue.js';
import { abandonNode, deleteNode } from '../held-node.js';

/** Options of a {@link DoubleBarrier}. */
export interface DoubleBarrierOptions {
  /** Data of this member's node (for whoever lists the members). Default none. */
  data?: ZnodeData;
}

/** Options of {@link DoubleBarrier.enter} and {@link DoubleBarrier.leave}. */
export interface DoubleBarrierWaitOptions {
  /** Give up after this long (RecipeTimeoutError); this member's node is then removed. */
  timeoutMs?: number;
  /** Give up when aborted (rejects with the signal's reason); this member's node is then removed. */
  signal?: AbortSignal;
}

/** Where a {@link DoubleBarrier} object is in its one round. */
export type DoubleBarrierPhase = 'idle' | 'entering' | 'entered' | 'leaving' | 'left';

const PREFIX = 'member-';
const READY = 'ready';
const LOSSES_MAX = 100;

/**
 * A double barrier on `barrierPath` for `count` members (ZooKeeper's recipe; Curator's
 * DistributedDoubleBarrier): {@link enter} blocks until `count` members have entered, then all
 * of them compute; {@link leave} blocks until every member has left.
 *
 * Each member owns an ephemeral-sequential child; the member that sees `count` children creates
 * the `ready` child, whose creation wakes every waiting member (each watches `ready`, nobody
 * polls). To leave, the lowest member waits for the highest to go; every other member deletes
 * its node and waits for the lowest: a departure wakes one member, until the lowest goes last.
 *
 * Guarantees: no member returns from enter() before `count` member nodes existed at once; no
 * member returns from leave() while another member's node exists. Members beyond `count` pass
 * enter() at once. The barrier can be used for another round once every member of the previous
 * one has returned from leave() (the last one out deletes `ready`).
 *
 * Session behaviour: a member rides out a suspension (its node and watches survive a failover).
 * If its session is lost, its node is gone (to the others it has left), and a pending enter() or
 * leave() rejects with ContenderGoneError saying so (the session's error is the `cause`).
 */
export class DoubleBarrier {
  private node: string | undefined;
  /** The czxid of the `ready` node this member entered through: leave() deletes only that one. */
  private readyCzxid: number | undefined;
  private phaseValue: DoubleBarrierPhase = 'idle';

  constructor(
    readonly client: ArborClient,
    readonly barrierPath: string,
    /** How many members must enter before anyone passes. */
    readonly count: number,
    private readonly options: DoubleBarrierOptions = {},
  ) {
    if (!Number.isSafeInteger(count) || count < 1)
      throw new RangeError(`DoubleBarrier ${barrierPath}: count must be a positive integer, not ${count}`);
  }

  /** The `ready` node, created when `count` members have entered. */
  get readyPath(): string {
    return joinChild(this.barrierPath, READY);
  }

  /** This object's progress through its round. */
  get phase(): DoubleBarrierPhase {
    return this.phaseValue;
  }

  /** This member's node while it is in the barrier. */
  get memberPath(): string | undefined {
    return this.node;
  }

  /** The members' nodes now in the barrier, in the order they entered. */
  members(): Promise<Contender[]> {
    return listContenders(this.client, this.barrierPath, PREFIX);
  }

  /**
   * Joins the barrier and waits until `count` members have joined. On timeout, abort or session
   * loss this member's node is removed (it has left) and the object may enter again. If it gives
   * up at the instant the last member arrives, the others may already have passed counting it:
   * to them it entered and left at once. After leave() the same object may enter the next round.
   */
  async enter(options: DoubleBarrierWaitOptions = {}): Promise<void> {
    if (this.phaseValue !== 'idle' && this.phaseValue !== 'left')
      throw new Error(`DoubleBarrier ${this.barrierPath}: enter() while ${this.phaseValue}`);
    this.phaseValue = 'entering';
    const bounds = boundsOf(options, `enter ${this.barrierPath}`);
    // As in the mutex: the create is not cancelled (its answer could be lost while it is
    // applied); if the caller gives up first, the node is deleted when the create lands.
    const creating = this.client.create(joinChild(this.barrierPath, PREFIX), this.options.data ?? null, {
      mode: 'EPHEMERAL_SEQUENTIAL',
      protected: true,
      createParents: true,
    });
    try {
      this.node = await bounded(creating, bounds);
    } catch (error) {
      creating.then((p) => deleteNode(this.client, p)).catch(() => undefined);
      this.phaseValue = 'idle';
      throw this.explain(error, bounds, 'enter');
    }
    try {
      this.readyCzxid = await this.waitForReady(this.node, bounds);
      this.phaseValue = 'entered';
    } catch (error) {
      const node = this.node;
      this.node = undefined;
      this.phaseValue = 'idle';
      await abandonNode(this.client, node);
      throw this.explain(error, bounds, 'enter');
    }
  }

  /**
   * Leaves the barrier and waits until every member has left. On timeout, abort or session loss
   * this member's node is removed all the same (it has left); only the wait for the others is
   * abandoned.
   */
  async leave(options: DoubleBarrierWaitOptions = {}): Promise<void> {
    if (this.phaseValue !== 'entered' || this.node === undefined)
      throw new Error(`DoubleBarrier ${this.barrierPath}: leave() while ${this.phaseValue}`);
    this.phaseValue = 'leaving';
    const node = this.node;
    const bounds = boundsOf(options, `leave ${this.barrierPath}`);
    try {
      await this.waitForAllGone(node, bounds);
    } catch (error) {
      await abandonNode(this.client, node);
      throw this.explain(error, bounds, 'leave');
    } finally {
      this.node = undefined;
      this.phaseValue = 'left';
    }
    await this.deleteReady().catch(() => undefined);
  }

  /** Resolves with the czxid of the `ready` node once it exists (creating it when `count` members are in). */
  private async waitForReady(node: string, bounds: WaitBounds): Promise<number> {
    // Each round ends, or waits for one change of `ready` (its creation), or retries after
    // losing the race to create it; connection losses are bounded separately.
    for (let losses = 0; ;) {
      try {
        // The watch is set before the count: a `ready` created after this look is seen.
        const { stat, changed } = await this.client.exists(this.readyPath, { watch: true, ...callBounds(bounds) });
        if (stat !== null) return stat.czxid;
        const members = await bounded(this.members(), bounds);
        if (!members.some((m) => m.path === node)) throw this.gone(node, 'enter');
        if (members.length >= this.count) {
          try {
            return (await bounded(this.client.create2(this.readyPath, null, callBounds(bounds)), bounds)).stat.czxid;
          } catch (error) {
            if (!(error instanceof NodeExistsError)) throw error;
            continue;
          }
        }
        await bounded(changed, bounds);
      } catch (error) {
        if (!(error instanceof ConnectionLossError) || ++losses > LOSSES_MAX) throw error;
        await bounded(this.client.waitUntilConnected(), bounds);
      }
    }
  }

  /**
   * ZooKeeper's leave: the lowest member waits for the highest; every other one deletes its node
   * and waits for the lowest. Resolves when no member node is left.
   */
  private async waitForAllGone(node: string, bounds: WaitBounds): Promise<void> {
    let deleted = false;
    const deleteOwn = async (): Promise<void> => {
      if (deleted) return;
      await bounded(
        this.client.delete(node).catch((error: unknown) => {
          if (!(error instanceof NoNodeError)) throw error;
        }),
        bounds,
      );
      deleted = true;
    };
    // Each round ends or waits for one member node's change; every member node goes at most once.
    for (let losses = 0; ;) {
      try {
        const members = await bounded(this.members(), bounds);
        const index = members.findIndex((m) => m.path === node);
        if (index < 0 && !deleted) throw this.gone(node, 'leave');
        const lowest = members[0];
        if (lowest === undefined) return;
        if (index >= 0 && members.length === 1) return await deleteOwn();
        if (index === 0) {
          await this.waitForChange((members[members.length - 1] as Contender).path, bounds);
        } else {
          await deleteOwn();
          await this.waitForChange(lowest.path, bounds);
        }
      } catch (error) {
        if (!(error instanceof ConnectionLossError) || ++losses > LOSSES_MAX) throw error;
        await bounded(this.client.waitUntilConnected(), bounds);
      }
    }
  }

  /**
   * Resolves when `path` is deleted (at once if it is gone) or changes otherwise. queue.ts's
   * waitForChange watches through exists(), which the client re-registers after a reconnect as
   * an existence watch, so a deletion while disconnected would be missed; a data watch is not.
   */
  private async waitForChange(path: string, bounds: WaitBounds): Promise<void> {
    let changed: Promise<unknown>;
    try {
      changed = (await this.client.getData(path, { watch: true, ...callBounds(bounds) })).changed;
    } catch (error) {
      if (error instanceof NoNodeError) return;
      throw error;
    }
    await bounded(changed, bounds);
  }

  /**
   * Deletes `ready` if it is still the one this member entered through, so that the path can
   * serve another round; a `ready` of a later round (another czxid) is left alone.
   */
  private async deleteReady(): Promise<void> {
    if (this.readyCzxid === undefined) return;
    const stat = await this.client.exists(this.readyPath);
    if (stat === null || stat.czxid !== this.readyCzxid) return;
    await this.client.delete(this.readyPath, { version: stat.version }).catch((error: unknown) => {
      if (!(error instanceof NoNodeError)) throw error;
    });
  }

  private gone(node: string, what: 'enter' | 'leave'): ContenderGoneError {
    const state = this.client.state;
    const why = isFinalState(state) ? `the session is ${state}` : 'someone deleted it, or the session expired';
    return new ContenderGoneError(`${what} ${this.barrierPath}: this member's node ${node} is gone (${why}); to the others it has left`);
  }

  /** Maps a failure to what the caller should see: a session loss as ContenderGoneError, a call's timeout at the deadline as RecipeTimeoutError. */
  private explain(error: unknown, bounds: WaitBounds, what: 'enter' | 'leave'): unknown {
    if (error instanceof ContenderGoneError || error instanceof RecipeTimeoutError) return error;
    if (error instanceof OperationTimeoutError && performance.now() >= bounds.deadlineMs)
      return new RecipeTimeoutError(`${bounds.what}: timed out`, { cause: error });
    if (error instanceof SessionExpiredError || isFinalState(this.client.state))
      return new ContenderGoneError(
        `${what} ${this.barrierPath}: the session ended while waiting (${this.client.state}); this member's node is gone, so to the others it has left`,
        { cause: error },
      );
    return error;
  }
}

function boundsOf(options: DoubleBarrierWaitOptions, what: string): WaitBounds {
  return {
    deadlineMs: performance.now() + (options.timeoutMs ?? Infinity),
    what,
    ...(options.signal !== undefined ? { signal: options.signal } : {}),
  };
}
