// Pending ReadIndex requests on a leader (thesis §6.4): each records the commit index when it
// arrived and waits until a majority acknowledges a heartbeat carrying its context (or a later
// one), which proves no newer leader existed at the time the request arrived.

import type { NodeId } from './types.js';

export interface ReadRequest {
  readonly index: number;
  readonly context: Uint8Array;
  /** Member that asked (the leader itself, or a follower that forwarded it). */
  readonly from: NodeId;
  readonly acks: Set<NodeId>;
}

export function contextKey(context: Uint8Array): string {
  let key = '';
  for (const b of context) key += b.toString(16).padStart(2, '0');
  return key;
}

export class ReadOnlyQueue {
  private readonly byKey = new Map<string, ReadRequest>();
  /** Keys in arrival order. */
  private queue: string[] = [];

  get size(): number {
    return this.queue.length;
  }

  /** Adds a request; a context already pending is ignored (contexts must be unique). */
  add(index: number, context: Uint8Array, from: NodeId): boolean {
    const key = contextKey(context);
    if (this.byKey.has(key)) return false;
    this.byKey.set(key, { index, context, from, acks: new Set() });
    this.queue.push(key);
    return true;
  }

  /** Records that `id` acknowledged the heartbeat round for `context`; the acks so far, or null. */
  ack(id: NodeId, context: Uint8Array): ReadonlySet<NodeId> | null {
    const request = this.byKey.get(contextKey(context));
    if (request === undefined) return null;
    request.acks.add(id);
    return request.acks;
  }

  /**
   * The request for `context` is confirmed; so is every request queued before it (their heartbeat
   * rounds were no later). Removes and returns them in arrival order.
   */
  confirm(context: Uint8Array): ReadRequest[] {
    const at = this.queue.indexOf(contextKey(context));
    if (at < 0) return [];
    const done = this.queue.slice(0, at + 1);
    this.queue = this.queue.slice(at + 1);
    return done.map((key) => {
      const request = this.byKey.get(key) as ReadRequest;
      this.byKey.delete(key);
      return request;
    });
  }

  /** Context of the newest pending request, to piggyback on the next heartbeat round. */
  lastContext(): Uint8Array | null {
    const key = this.queue[this.queue.length - 1];
    return key === undefined ? null : (this.byKey.get(key) as ReadRequest).context;
  }

  clear(): void {
    this.byKey.clear();
    this.queue = [];
  }
}
