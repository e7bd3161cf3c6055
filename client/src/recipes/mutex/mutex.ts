import { ConnectionLossError, NoNodeError } from '../../index.js';
import type { ArborClient, ConnectionState, TransactionOp, TransactionResult, ZnodeData, CallOptions } from '../../index.js';
import { ContenderGoneError, bounded, listContenders, listParticipants, sequenceOf, waitForChange } from '../queue.js';
import { abandonNode, deleteNode } from '../held-node.js';
import type { Participant, WaitBounds } from '../queue.js';

/** Options of a {@link Mutex}. */
export interface MutexOptions {
  /**
   * Let acquire() succeed at once while this Mutex object already holds the lock, counting
   * holds; the node goes on the last release. There is no thread identity in JavaScript: every
   * caller sharing the object shares the hold. Default false: every acquire() queues.
   */
  reentrant?: boolean;
  /** Data of the contender node (shown by {@link Mutex.participants}). Default none. */
  data?: ZnodeData;
}

/** Options of {@link Mutex.acquire}. */
export interface AcquireOptions {
  /** Give up after this long (RecipeTimeoutError); the contender node is then removed. */
  timeoutMs?: number;
  /** Give up when aborted (rejects with the signal's reason); the contender node is then removed. */
  signal?: AbortSignal;
}

const PREFIX = 'lock-';

/**
 * A fair, distributed mutual-exclusion lock under `lockPath`. Each acquire() creates a protected
 * ephemeral-sequential child and waits, watching only the child just ahead of it, until its
 * child has the lowest sequence number. See docs/recipes.md.
 *
 * Guarantee: while the session is connected, at most one lease across all clients is held.
 * When the session is suspended the lease's `lost` signal aborts: the holder must stop relying
 * on the lock (the ensemble may expire the session and grant the lock to another); use the
 * fencing token or {@link MutexLease.commitIfHeld} to guard writes.
 */
export class Mutex {
  private held: MutexLease | undefined;

  constructor(
    readonly client: ArborClient,
    readonly lockPath: string,
    private readonly options: MutexOptions = {},
  ) {}

  /** Waits for the lock and resolves with a lease. */
  async acquire(options: AcquireOptions = {}): Promise<MutexLease> {
    if (this.options.reentrant === true && this.held !== undefined && !this.held.released) {
      this.held.holds++;
      return this.held;
    }
    const bounds: WaitBounds = {
      deadlineMs: performance.now() + (options.timeoutMs ?? Infinity),
      what: `acquire ${this.lockPath}`,
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
    };
    // The create is not cancelled by the deadline or the signal (its answer could be lost while
    // it is applied); if the caller gives up first, the node is deleted when the create lands.
    const creating = this.client.create(`${this.lockPath}/${PREFIX}`, this.options.data ?? null, {
      mode: 'EPHEMERAL_SEQUENTIAL',
      protected: true,
      createParents: true,
    });
    let path: string;
    try {
      path = await bounded(creating, bounds);
    } catch (error) {
      creating.then((p) => deleteNode(this.client, p)).catch(() => undefined);
      throw error;
    }
    try {
      await this.waitForHead(path, bounds);
    } catch (error) {
      await abandonNode(this.client, path);
      throw error;
    }
    const lease = new MutexLease(this, path, () => {
      if (this.held === lease) this.held = undefined;
    });
    if (this.options.reentrant === true) this.held = lease;
    return lease;
  }

  /** Every contender, the holder first, with its session and when it started waiting. */
  participants(): Promise<Participant[]> {
    return listParticipants(this.client, this.lockPath, PREFIX);
  }

  /** The holder, or undefined if the lock is free. */
  async holder(): Promise<Participant | undefined> {
    return (await this.participants())[0];
  }

  /** The contenders waiting behind the holder, in the order they will get the lock. */
  async waiters(): Promise<Participant[]> {
    return (await this.participants()).slice(1);
  }

  private async waitForHead(path: string, bounds: WaitBounds): Promise<void> {
    const mine = sequenceOf(path.slice(path.lastIndexOf('/') + 1));
    // Each round either ends (head) or waits for one predecessor's change; the number of rounds
    // is bounded by the number of contenders ahead plus their changes.
    // A connection loss is waited out (the watch and the node survive a reconnection); the
    // number of such retries is bounded.
    for (let losses = 0; ;) {
      try {
        const queue = await bounded(listContenders(this.client, this.lockPath, PREFIX), bounds);
        const index = queue.findIndex((c) => c.sequence === mine);
        if (index < 0) throw new ContenderGoneError(`acquire ${this.lockPath}: the contender node ${path} is gone (session expired?)`);
        if (index === 0) return;
        await waitForChange(this.client, (queue[index - 1] as { path: string }).path, bounds);
      } catch (error) {
        if (!(error instanceof ConnectionLossError) || ++losses > 100) throw error;
        await bounded(this.client.waitUntilConnected(), bounds);
      }
    }
  }
}

/**
 * A held lock. Release it with release() or `await using`. `lost` aborts when the session is
 * suspended, lost or closed, or the lock node is deleted: from then on the holder must assume
 * another may hold the lock.
 */
export class MutexLease implements AsyncDisposable {
  /** The sequence number of the lock node: grows with every grant of this lock. */
  readonly fencingToken: number;
  /** Aborted (with an Error saying why) when the lock may no longer be held. */
  readonly lost: AbortSignal;
  /** @internal Reentrant hold count. */
  holds = 1;
  private releasedFlag = false;
  private readonly controller = new AbortController();
  private readonly offState: () => void;

  /** @internal Made by {@link Mutex.acquire}. */
  constructor(
    private readonly mutex: Mutex,
    /** The lock node's path. */
    readonly path: string,
    private readonly onRelease: () => void,
  ) {
    this.fencingToken = sequenceOf(path) ?? -1;
    this.lost = this.controller.signal;
    const client = mutex.client;
    this.offState = client.on('state', (state: ConnectionState) => {
      if (state === 'suspended' || state === 'lost' || state === 'closed' || state === 'authFailed')
        this.markLost(`the session is ${state}`);
    });
    if (client.state !== 'connected' && client.state !== 'reconnected') this.markLost(`the session is ${client.state}`);
    client.exists(path, { watch: true }).then(
      ({ stat, changed }) => {
        if (stat === null) return this.markLost('the lock node is gone');
        changed.then(
          (event) => {
            if (event.type === 'NodeDeleted') this.markLost('the lock node was deleted');
          },
          () => this.markLost('the session ended'),
        );
      },
      () => this.markLost('could not watch the lock node'),
    );
  }

  /** True until released. Check `lost` too: a held lease may have been lost. */
  get released(): boolean {
    return this.releasedFlag;
  }

  /** Releases one hold (all of them for a non-reentrant mutex): the lock node is deleted. Idempotent. */
  async release(): Promise<void> {
    if (this.releasedFlag) return;
    if (--this.holds > 0) return;
    this.releasedFlag = true;
    this.offState();
    this.onRelease();
    // Already gone (session expired) is a release, and a closed client's ephemerals go with it;
    // a connection loss or a member without a leader is retried, so that the lock does not stay
    // held by a session that has let go of it.
    await deleteNode(this.mutex.client, this.path);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }

  /**
   * Commits `ops` in one transaction that fails with NoNodeError (and applies nothing) unless
   * the lock node still exists: a write only a current holder can make. Resolves with the
   * results of `ops` (without the check's).
   */
  async commitIfHeld(ops: readonly TransactionOp[], options: CallOptions = {}): Promise<TransactionResult[]> {
    try {
      const results = await this.mutex.client.multi([{ op: 'check', path: this.path, version: -1 }, ...ops], options);
      return results.slice(1);
    } catch (error) {
      if (error instanceof NoNodeError && error.transaction?.index === 0) this.markLost('the lock node is gone');
      throw error;
    }
  }

  private markLost(reason: string): void {
    if (this.releasedFlag || this.controller.signal.aborted) return;
    this.controller.abort(new Error(`lock ${this.path} may be lost: ${reason}`));
  }
}
