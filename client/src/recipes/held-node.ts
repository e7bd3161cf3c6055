import type { ArborClient } from '../client.js';
import type { ZnodeData } from '../data.js';
import { ConnectionLossError, NoNodeError, OperationTimeoutError } from '../errors.js';
import type { CallOptions } from '../requests.js';
import { backoffDelayMs } from '../retry.js';
import type { ConnectionState } from '../state-machine.js';
import type { AcquireOptions } from './mutex/mutex.js';
import type { TransactionOp, TransactionResult } from '../transaction.js';
import { ContenderGoneError, bounded, callBounds, listContenders, sequenceOf } from './queue.js';
import type { Contender, WaitBounds } from './queue.js';

/**
 * The parts the read-write lock, the semaphore and the leader selector share on top of the
 * contender queue (../queue.ts): a grant held as an ephemeral node, with its fencing token and
 * its `lost` signal, and the acquire loop "create my node, then wait until a pure decision says
 * it is granted, watching the one node that decision names".
 */

/** Options of every acquire-style call: the mutex's ({ timeoutMs, signal }). */
export type { AcquireOptions };

/**
 * A pure decision over a queue listing: granted, or the one node to watch before looking again.
 * `queue` is in sequence order and contains `mine`.
 */
export type QueueDecision = { granted: true } | { granted: false; watch: Contender };

/** The bounds of one acquire call. */
export function boundsOf(options: AcquireOptions, what: string): WaitBounds {
  return {
    deadlineMs: performance.now() + (options.timeoutMs ?? Infinity),
    what,
    ...(options.signal !== undefined ? { signal: options.signal } : {}),
  };
}

/**
 * Creates a protected ephemeral-sequential node `${parent}/${prefix}` and resolves with its path
 * once `decide` grants it, deciding over the children whose names contain `queuePrefix`. On any failure (deadline, abort, node gone, session ended) the node is
 * removed, even if the create was still in flight, and the error is rethrown.
 */
export async function contend(
  client: ArborClient,
  parent: string,
  prefix: string,
  queuePrefix: string,
  data: ZnodeData,
  bounds: WaitBounds,
  decide: (queue: Contender[], mine: Contender) => QueueDecision,
): Promise<string> {
  // The create is not cancelled by the deadline or the signal (its answer could be lost while
  // it is applied); if the caller gives up first, the node is deleted when the create lands.
  const creating = client.create(`${parent}/${prefix}`, data, { mode: 'EPHEMERAL_SEQUENTIAL', protected: true, createParents: true });
  let path: string;
  try {
    path = await bounded(creating, bounds);
  } catch (error) {
    creating.then((p) => deleteNode(client, p)).catch(() => undefined);
    throw error;
  }
  try {
    await waitUntilGranted(client, parent, queuePrefix, path, bounds, decide);
  } catch (error) {
    await abandonNode(client, path);
    throw error;
  }
  return path;
}

/**
 * Lists the queue and asks `decide` until it grants; in between waits for the change of the one
 * node it names. Every round either ends or consumes one change of that node, so the number of
 * rounds is bounded by the contenders ahead and their changes. A connection loss is waited out
 * (the node and the watch survive a reconnection), a bounded number of times.
 */
export async function waitUntilGranted(
  client: ArborClient,
  parent: string,
  prefix: string,
  path: string,
  bounds: WaitBounds,
  decide: (queue: Contender[], mine: Contender) => QueueDecision,
): Promise<void> {
  const mine = sequenceOf(path);
  for (let losses = 0; ;) {
    try {
      const queue = await bounded(listContenders(client, parent, prefix), bounds);
      const me = queue.find((c) => c.sequence === mine && c.path === path);
      if (me === undefined) throw new ContenderGoneError(`${bounds.what}: the contender node ${path} is gone (session expired?)`);
      const decision = decide(queue, me);
      if (decision.granted) return;
      await waitForNodeChange(client, decision.watch.path, bounds);
    } catch (error) {
      if (!(error instanceof ConnectionLossError) || ++losses > 100) throw error;
      await bounded(client.waitUntilConnected(), bounds);
    }
  }
}

/**
 * Resolves when `path` is deleted (at once if it is already gone) or its data changes; rejects on
 * the deadline, the abort, or the end of the session. Unlike queue.ts's waitForChange it watches
 * through getData, so the watch is a data watch: client.exists() on an existing node registers an
 * "exist" watch, which setWatches re-registers after a reconnection as a wait for creation, so a
 * deletion during the disconnection would never be reported.
 */
export async function waitForNodeChange(client: ArborClient, path: string, bounds: WaitBounds): Promise<void> {
  let changed: Promise<unknown>;
  try {
    ({ changed } = await client.getData(path, { watch: true, ...callBounds(bounds) }));
  } catch (error) {
    if (error instanceof NoNodeError) return;
    throw error;
  }
  await bounded(changed, bounds);
}

/**
 * Calls `onGone` (once) when `path` is deleted, is found missing, or the watch ends with the
 * session; through a data watch, for the reason given at {@link waitForNodeChange}.
 */
export function watchForDeletion(client: ArborClient, path: string, onGone: (reason: string) => void): void {
  const follow = (): void => {
    client.getData(path, { watch: true }).then(
      ({ changed }) =>
        changed.then(
          (event) => {
            if (event.type === 'NodeDeleted') onGone('the node was deleted');
            else if (event.type === 'NodeDataChanged') follow();
          },
          () => onGone('the session ended'),
        ),
      (error: unknown) => onGone(error instanceof NoNodeError ? 'the node is gone' : 'could not watch the node'),
    );
  };
  follow();
}

/** How many times deleteNode tries, spaced by {@link deleteRetryDelayMs}: about 25 s in all. */
export const DELETE_ATTEMPTS_MAX = 30;

/**
 * The pause before deleteNode's next attempt: 25 ms doubling to 1 s. A member without a leader
 * answers CONNECTIONLOSS at once, so without a pause every attempt would be spent inside one
 * leader election; spaced out, they outlast a failover.
 */
export function deleteRetryDelayMs(attempt: number): number {
  // The client's one back-off formula, at its nominal delay (a random factor of 1: no jitter).
  return backoffDelayMs(attempt + 1, 25, 1_000, () => 1);
}

/**
 * Deletes a node; a node already gone, or a session already ended (its ephemerals went with
 * it), counts as deleted. A connection loss or a timeout while the session lives is retried,
 * after a back-off, a bounded number of times: a contender node left behind by a live session
 * would block every contender queued after it (a lock never free again, a leader that never
 * steps down) until that session ends.
 */
export async function deleteNode(
  client: ArborClient,
  path: string,
  options: CallOptions = {},
  /** Called once, when the first attempt has failed and the retries begin. */
  onRetrying?: () => void,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await client.delete(path, options);
      return;
    } catch (error) {
      if (error instanceof NoNodeError || !isUsable(client.state)) return;
      const transient = error instanceof ConnectionLossError || error instanceof OperationTimeoutError;
      if (!transient || attempt + 1 >= DELETE_ATTEMPTS_MAX || options.signal?.aborted === true) throw error;
      if (attempt === 0) onRetrying?.();
      await new Promise((resolve) => setTimeout(resolve, deleteRetryDelayMs(attempt)));
      await client.waitUntilConnected(options).catch(() => undefined);
    }
  }
}

/**
 * Removes a contender node whose caller gave up (a deadline, an abort, a failed wait). Its first
 * attempt is waited for, so that an ordinary give-up leaves nothing behind when it returns; if
 * that attempt meets a failover, the retries of {@link deleteNode} go on in the background
 * instead of stretching the caller's deadline. Never rejects.
 */
export function abandonNode(client: ArborClient, path: string): Promise<void> {
  return new Promise((resolve) => {
    deleteNode(client, path, {}, resolve).then(resolve, () => resolve());
  });
}

/** Whether the session can still make calls (not lost, closed or refused). */
export function isUsable(state: ConnectionState): boolean {
  return state !== 'lost' && state !== 'closed' && state !== 'authFailed';
}

/**
 * A grant held as an ephemeral node: a lock, a read or write hold, a semaphore lease. Release
 * it with release() or `await using`. `lost` aborts when the session is suspended, lost or
 * closed, or the node is deleted: from then on the holder must assume another may hold it.
 */
export class HeldNode implements AsyncDisposable {
  /** The node's sequence number: it grows with every grant made on the same parent. */
  readonly fencingToken: number;
  /** Aborted (with an Error saying why) when the grant may no longer be held. Stays aborted. */
  readonly lost: AbortSignal;
  private releasedFlag = false;
  private readonly controller = new AbortController();
  private readonly offState: () => void;

  /** @internal Made by the recipe that granted the node. */
  constructor(
    /** The client whose session owns the node. */
    readonly client: ArborClient,
    /** The node's path. */
    readonly path: string,
    /** What to call the grant in the `lost` reason ("lock", "lease"). */
    private readonly what: string,
  ) {
    this.fencingToken = sequenceOf(path) ?? -1;
    this.lost = this.controller.signal;
    this.offState = client.on('state', (state: ConnectionState) => {
      if (state === 'suspended' || !isUsable(state)) this.markLost(`the session is ${state}`);
    });
    if (client.state !== 'connected' && client.state !== 'reconnected') this.markLost(`the session is ${client.state}`);
    watchForDeletion(client, path, (reason) => this.markLost(reason));
  }

  /** True once released. Check `lost` too: an unreleased grant may have been lost. */
  get released(): boolean {
    return this.releasedFlag;
  }

  /** Releases the grant: its node is deleted. Idempotent; after the session is gone, a no-op. */
  async release(): Promise<void> {
    if (this.releasedFlag) return;
    this.releasedFlag = true;
    this.offState();
    await deleteNode(this.client, this.path);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }

  /**
   * Commits `ops` in one transaction that fails with NoNodeError (and applies nothing) unless
   * the grant's node still exists: a write only a current holder can make. Resolves with the
   * results of `ops` (without the check's).
   */
  async commitIfHeld(ops: readonly TransactionOp[], options: CallOptions = {}): Promise<TransactionResult[]> {
    try {
      const results = await this.client.multi([{ op: 'check', path: this.path, version: -1 }, ...ops], options);
      return results.slice(1);
    } catch (error) {
      if (error instanceof NoNodeError && error.transaction?.index === 0) this.markLost('the node is gone');
      throw error;
    }
  }

  /** @internal Aborts `lost` (once), unless released. */
  markLost(reason: string): void {
    if (this.releasedFlag || this.controller.signal.aborted) return;
    this.controller.abort(new Error(`${this.what} ${this.path} may be lost: ${reason}`));
  }
}
