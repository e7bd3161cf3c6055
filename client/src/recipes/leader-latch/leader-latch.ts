import { decodeJSON, encodeJSON } from '../../index.js';
import type { ArborClient, ConnectionState } from '../../index.js';
import { ContenderGoneError, bounded, listContenders, listParticipants, waitForChange } from '../queue.js';
import type { WaitBounds } from '../queue.js';
import { deleteNode } from '../held-node.js';

/** Options of a {@link LeaderLatch}. */
export interface LeaderLatchOptions {
  /** This participant's id, shown to observers. Default: a random UUID. */
  id?: string;
  /** A JSON value shown to observers (an address, say). Default null. */
  payload?: unknown;
}

/** Who leads an election path, as any client can see it. */
export interface LeaderInfo {
  id: string;
  payload: unknown;
  /** The leader's session. */
  sessionId: number;
  /** The leader's contender node. */
  path: string;
}

type LatchEvent = 'leadership' | 'lost';

const PREFIX = 'latch-';

/**
 * A leader latch on `electionPath`: every participant queues an ephemeral-sequential node; the
 * lowest leads. A participant waits only on the node just ahead of it (no herd).
 *
 * Failure behaviour: on suspension of the session the leader emits 'lost' at once and
 * hasLeadership() is false (the ensemble may expire the session and elect another); if the
 * session reconnects in time the node is still there and leadership is re-examined (and may be
 * regained, emitting 'leadership' again). When the session is lost or the latch closed, the
 * latch ends for good.
 */
export class LeaderLatch {
  readonly id: string;
  private node: string | undefined;
  private leading = false;
  private ended = false;
  private started = false;
  private readonly listeners = new Map<LatchEvent, Set<() => void>>();
  private offState: (() => void) | undefined;
  /** Aborts the pending watch wait when the latch closes. */
  private readonly stop = new AbortController();
  /** Wakes awaiters of leadership. */
  private waiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private loop: Promise<void> | undefined;
  /** Aborts the current round's wait so that the queue is examined again (after a reconnection). */
  private round = new AbortController();

  constructor(
    readonly client: ArborClient,
    readonly electionPath: string,
    private readonly options: LeaderLatchOptions = {},
  ) {
    this.id = options.id ?? globalThis.crypto.randomUUID();
  }

  /** Joins the election: creates the contender node and starts following the queue. */
  async start(): Promise<void> {
    if (this.started) throw new Error('LeaderLatch: already started');
    this.started = true;
    this.node = await this.client.create(
      `${this.electionPath}/${PREFIX}`,
      encodeJSON({ id: this.id, payload: this.options.payload ?? null }),
      { mode: 'EPHEMERAL_SEQUENTIAL', protected: true, createParents: true },
    );
    this.offState = this.client.on('state', (state) => this.onState(state));
    this.loop = this.follow();
  }

  /** True while this participant leads and its session is connected. */
  hasLeadership(): boolean {
    return this.leading;
  }

  /** Resolves once this participant leads; rejects on timeout, abort, close or session loss. */
  awaitLeadership(options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<void> {
    if (this.leading) return Promise.resolve();
    if (this.ended) return Promise.reject(new Error('LeaderLatch: closed'));
    const wait = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    return bounded(wait, {
      deadlineMs: performance.now() + (options.timeoutMs ?? Infinity),
      what: `awaitLeadership ${this.electionPath}`,
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
    });
  }

  /** 'leadership' when this participant becomes leader; 'lost' when it may no longer lead. Returns an unsubscribe function. */
  on(event: LatchEvent, listener: () => void): () => void {
    let set = this.listeners.get(event);
    if (set === undefined) this.listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Leaves the election (the node is deleted; a leader emits 'lost' first). Idempotent. */
  async close(): Promise<void> {
    if (this.ended) return;
    this.end(new Error('LeaderLatch: closed'));
    // Retried through a failover: a node left behind would keep this participant at the head of
    // the queue, leading in everyone else's eyes, until its session ends.
    if (this.node !== undefined && this.client.state !== 'lost' && this.client.state !== 'closed') await deleteNode(this.client, this.node);
    await this.loop?.catch(() => undefined);
  }

  /** The current leader of an election path, or undefined if nobody leads. */
  static async leader(client: ArborClient, electionPath: string): Promise<LeaderInfo | undefined> {
    return (await LeaderLatch.participants(client, electionPath))[0];
  }

  /** Every participant, the leader first. */
  static async participants(client: ArborClient, electionPath: string): Promise<LeaderInfo[]> {
    const list = await listParticipants(client, electionPath, PREFIX);
    return list.map((p) => {
      let id = '';
      let payload: unknown = null;
      try {
        const parsed = p.data === null ? {} : (decodeJSON(p.data) as { id?: unknown; payload?: unknown });
        id = typeof parsed.id === 'string' ? parsed.id : '';
        payload = parsed.payload ?? null;
      } catch {
        // A foreign node: shown with an empty id.
      }
      return { id, payload, sessionId: p.sessionId, path: p.path };
    });
  }

  private emit(event: LatchEvent): void {
    for (const listener of [...(this.listeners.get(event) ?? [])]) {
      try {
        listener();
      } catch {
        // A listener's failure is its own; the latch goes on.
      }
    }
  }

  private setLeading(leading: boolean): void {
    if (leading === this.leading) return;
    this.leading = leading;
    if (leading) {
      const waiters = this.waiters;
      this.waiters = [];
      for (const w of waiters) w.resolve();
      this.emit('leadership');
    } else this.emit('lost');
  }

  private onState(state: ConnectionState): void {
    if (state === 'suspended') this.setLeading(false);
    else if (state === 'reconnected') this.round.abort(new Error('reconnected'));
    else if (state === 'lost' || state === 'closed' || state === 'authFailed') this.end(new Error(`LeaderLatch: the session is ${state}`));
  }

  private end(reason: Error): void {
    if (this.ended) return;
    this.ended = true;
    this.offState?.();
    this.setLeading(false);
    this.stop.abort(reason);
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.reject(reason);
  }

  /**
   * Examines the queue until the latch ends: leads at the head, otherwise waits on the
   * predecessor. Errors while suspended (connection loss) are retried after the reconnection.
   */
  private async follow(): Promise<void> {
    const node = this.node as string;
    // Rounds that fail without the session being down are bounded: a persistent failure (an ACL
    // change, say) ends the latch instead of spinning.
    let failures = 0;
    while (!this.ended) {
      this.round = new AbortController();
      const signal = AbortSignal.any([this.stop.signal, this.round.signal]);
      const bounds: WaitBounds = { deadlineMs: Infinity, signal, what: `latch ${this.electionPath}` };
      try {
        await bounded(this.client.waitUntilConnected(), bounds);
        const queue = await bounded(listContenders(this.client, this.electionPath, PREFIX), bounds);
        const index = queue.findIndex((c) => c.path === node);
        if (index < 0) throw new ContenderGoneError(`latch ${this.electionPath}: node ${node} is gone`);
        if (index === 0) {
          if (this.client.state === 'connected' || this.client.state === 'reconnected') this.setLeading(true);
          // Leading: wait for the own node to change (deletion ends leadership) or a state change.
          await waitForChange(this.client, node, bounds);
        } else {
          this.setLeading(false);
          await waitForChange(this.client, (queue[index - 1] as { path: string }).path, bounds);
        }
        failures = 0;
      } catch (error) {
        if (this.ended) return;
        if (this.round.signal.aborted) continue;
        if (error instanceof ContenderGoneError) return this.end(error);
        // A connection loss: the next round waits for the reconnection.
        if (this.client.state === 'lost' || this.client.state === 'closed') return this.end(error as Error);
        if (this.client.state === 'connected' || this.client.state === 'reconnected') {
          if (++failures >= 10) return this.end(error instanceof Error ? error : new Error(String(error)));
        }
      }
    }
  }
}
