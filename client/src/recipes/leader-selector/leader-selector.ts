import type { ArborClient } from '../../client.js';
import { encodeJSON } from '../../data.js';
import { isConnectedState } from '../../state-machine.js';
import type { ConnectionState } from '../../state-machine.js';
import { LeaderLatch } from '../leader-latch/leader-latch.js';
import type { LeaderInfo } from '../leader-latch/leader-latch.js';
import { sequenceOf } from '../queue.js';
import type { Contender } from '../queue.js';
import { deleteNode, isUsable, waitUntilGranted, watchForDeletion } from '../held-node.js';
import type { QueueDecision } from '../held-node.js';

/** What a leader does while it leads. Leadership ends when the returned promise settles. */
export type TakeLeadership = (signal: AbortSignal, grant: LeadershipGrant) => Promise<void> | void;

/** One term of leadership, as handed to {@link TakeLeadership}. */
export interface LeadershipGrant {
  /** The leader's contender node. */
  path: string;
  /** Its sequence number: grows with every term on the election path (a fencing token). */
  fencingToken: number;
}

/** Options of a {@link LeaderSelector}. */
export interface LeaderSelectorOptions {
  /** Called when this participant becomes leader; it leads until the promise settles. */
  takeLeadership: TakeLeadership;
  /** Queue again automatically after each term (and after a failed attempt to queue). Default false: call requeue(). */
  autoRequeue?: boolean;
  /** This participant's id, shown to observers. Default: a random UUID. */
  id?: string;
  /** A JSON value shown to observers (an address, say). Default null. */
  payload?: unknown;
}

type SelectorEvent = 'leadership' | 'relinquished' | 'error';
type Listener = (error?: unknown) => void;

/** The prefix of the leader latch: a latch and a selector may share an election path. */
const PREFIX = 'latch-';

/** The head of the queue leads; every other participant watches its predecessor. */
export function decideLeader(queue: readonly Contender[], mine: Contender): QueueDecision {
  const index = queue.findIndex((c) => c.path === mine.path);
  if (index < 0) throw new Error(`decideLeader: ${mine.path} is not in the queue`);
  return index === 0 ? { granted: true } : { granted: false, watch: queue[index - 1] as Contender };
}

/**
 * A leader selector on `electionPath` (Curator's LeaderSelector): participants queue
 * ephemeral-sequential nodes (the leader latch's layout, so observers use the same calls); the
 * head runs `takeLeadership(signal)`, and gives leadership up when it returns: its node is
 * deleted and the next participant is elected. With `autoRequeue` it then queues again.
 *
 * Guarantee: the callback runs only while its participant is at the head and its session is
 * connected. `signal` aborts when the session is suspended (the ensemble may expire it and elect
 * another: the client suspends after two thirds of the session timeout without hearing from its
 * member, before expiry), lost or closed, when the node is deleted, and on close(). A callback
 * that stops when `signal` aborts never overlaps another leader's, as long as it stops within the
 * remaining third of the session timeout; the fencing token guards writes racing with that window.
 * After a suspended term the node is deleted when the session reconnects; if the session is
 * lost the selector ends (a new client must make a new selector).
 */
export class LeaderSelector {
  readonly id: string;
  private readonly listeners = new Map<SelectorEvent, Set<Listener>>();
  private readonly stop = new AbortController();
  private started = false;
  private closed = false;
  private queued = false;
  private requeueWanted = false;
  private wake: (() => void) | undefined;
  private term: AbortController | undefined;
  private leadingFlag = false;
  private loop: Promise<void> | undefined;
  private offState: (() => void) | undefined;

  constructor(
    readonly client: ArborClient,
    readonly electionPath: string,
    private readonly options: LeaderSelectorOptions,
  ) {
    this.id = options.id ?? globalThis.crypto.randomUUID();
  }

  /** Joins the election (once; see requeue()). */
  start(): void {
    if (this.started) throw new Error('LeaderSelector: already started');
    if (this.closed) throw new Error('LeaderSelector: closed');
    this.started = true;
    this.requeueWanted = true;
    this.offState = this.client.on('state', (state) => this.onState(state));
    this.loop = this.run();
  }

  /** Queues again after a term ended (without autoRequeue). False if already queued or leading, or closed. */
  requeue(): boolean {
    if (!this.started || this.closed || this.queued || this.requeueWanted) return false;
    this.requeueWanted = true;
    this.wake?.();
    return true;
  }

  /** True while takeLeadership runs and its signal has not aborted. */
  hasLeadership(): boolean {
    return this.leadingFlag && this.term?.signal.aborted === false;
  }

  /**
   * 'leadership' when takeLeadership is called, 'relinquished' when its term is over (node
   * deleted or the session gone), 'error' with what takeLeadership threw (or why queuing failed).
   * Returns an unsubscribe function.
   */
  on(event: SelectorEvent, listener: Listener): () => void {
    let set = this.listeners.get(event);
    if (set === undefined) this.listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  /** The current leader of this election path (any participant, latch or selector), or undefined. */
  leader(): Promise<LeaderInfo | undefined> {
    return LeaderLatch.leader(this.client, this.electionPath);
  }

  /** Every participant of this election path, the leader first. */
  participants(): Promise<LeaderInfo[]> {
    return LeaderLatch.participants(this.client, this.electionPath);
  }

  /** The current leader of an election path, as any client sees it (the same as LeaderLatch.leader). */
  static leader(client: ArborClient, electionPath: string): Promise<LeaderInfo | undefined> {
    return LeaderLatch.leader(client, electionPath);
  }

  /**
   * Leaves the election: a running takeLeadership's signal aborts; resolves once it has returned
   * and the node is deleted. Idempotent.
   */
  async close(): Promise<void> {
    if (this.closed) return this.loop?.catch(() => undefined);
    this.closed = true;
    this.stop.abort(new Error('LeaderSelector: closed'));
    this.term?.abort(new Error('LeaderSelector: closed'));
    this.wake?.();
    await this.loop?.catch(() => undefined);
    this.offState?.();
  }

  private emit(event: SelectorEvent, error?: unknown): void {
    for (const listener of [...(this.listeners.get(event) ?? [])]) {
      try {
        listener(error);
      } catch {
        // A listener's failure is its own; the selector goes on.
      }
    }
  }

  private onState(state: ConnectionState): void {
    if (state === 'suspended' || !isUsable(state))
      this.term?.abort(new Error(`leadership of ${this.electionPath} may be lost: the session is ${state}`));
    if (!isUsable(state)) {
      this.stop.abort(new Error(`LeaderSelector: the session is ${state}`));
      this.wake?.();
    }
  }

  /** Terms, one after another, until closed or the session ends. */
  private async run(): Promise<void> {
    // Consecutive failures to queue while connected are bounded (an ACL refusal, say).
    let failures = 0;
    while (!this.stop.signal.aborted) {
      if (!this.requeueWanted) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      this.requeueWanted = false;
      this.queued = true;
      try {
        await this.oneTerm();
        failures = 0;
      } catch (error) {
        if (this.stop.signal.aborted) break;
        this.emit('error', error);
        if (isConnectedState(this.client.state) && ++failures >= 10) break;
      } finally {
        this.queued = false;
      }
      if (this.options.autoRequeue === true && !this.stop.signal.aborted) this.requeueWanted = true;
    }
  }

  /** Queues, waits to lead, leads, and deletes the node. */
  private async oneTerm(): Promise<void> {
    const what = `leader selector ${this.electionPath}`;
    await this.client.waitUntilConnected({ signal: this.stop.signal });
    const node = await this.client.create(
      `${this.electionPath}/${PREFIX}`,
      encodeJSON({ id: this.id, payload: this.options.payload ?? null }),
      {
        mode: 'EPHEMERAL_SEQUENTIAL',
        protected: true,
        createParents: true,
        signal: this.stop.signal,
      },
    );
    try {
      await this.waitToLead(node, what);
      await this.lead(node);
    } finally {
      await deleteNode(this.client, node).catch(() => undefined);
      if (this.leadingFlag) {
        this.leadingFlag = false;
        this.emit('relinquished');
      }
    }
  }

  /** Waits until the node is at the head while the session is connected. */
  private async waitToLead(node: string, what: string): Promise<void> {
    // Each pass ends, or waits for a reconnection or one change of the predecessor.
    for (;;) {
      await this.client.waitUntilConnected({ signal: this.stop.signal });
      await waitUntilGranted(
        this.client,
        this.electionPath,
        PREFIX,
        node,
        { deadlineMs: Infinity, signal: this.stop.signal, what },
        decideLeader,
      );
      if (isConnectedState(this.client.state)) return;
    }
  }

  private async lead(node: string): Promise<void> {
    const term = new AbortController();
    this.term = term;
    const fail = (reason: string): void => term.abort(new Error(`leadership of ${this.electionPath} may be lost: ${reason}`));
    if (this.stop.signal.aborted) term.abort(this.stop.signal.reason);
    // The own node's deletion (by someone else) ends the term; the watch also ends with the session.
    watchForDeletion(this.client, node, fail);
    if (!isConnectedState(this.client.state)) fail(`the session is ${this.client.state}`);
    this.leadingFlag = true;
    this.emit('leadership');
    try {
      await this.options.takeLeadership(term.signal, { path: node, fencingToken: sequenceOf(node) ?? -1 });
    } catch (error) {
      if (!term.signal.aborted) this.emit('error', error);
    } finally {
      if (!term.signal.aborted) term.abort(new Error('the term is over'));
    }
  }
}
