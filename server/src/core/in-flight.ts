import { assert } from './assert.js';

/**
 * The leader's own proposals in flight (container and TTL reaps, session expiries), by key and
 * by the log index Raft gave each. A key has at most one proposal in flight, so the leader never
 * proposes the same removal twice at once, and it leaves as soon as that proposal resolves:
 *
 * - refused by Raft (a leadership transfer, the uncommitted-bytes limit): the caller never adds it;
 * - applied, with whatever result: the entry at its index settles it;
 * - dropped (overwritten by another leader's entry at that index): the entry that took its index
 *   settles it just the same — whatever is applied at an index is the fate of what was proposed there;
 * - leadership lost or regained: {@link clear}, since a new term's leader decides afresh.
 *
 * Keying by index, not by what the entry says, matters: an earlier leader's reap of the same path
 * applying at another index must not release the key while this leader's proposal is still out.
 */
export class ProposalsInFlight<K> {
  private readonly indexOf = new Map<K, number>();
  private readonly keyAt = new Map<number, K>();

  get size(): number {
    return this.indexOf.size;
  }

  has(key: K): boolean {
    return this.indexOf.has(key);
  }

  /** Raft accepted the proposal for `key` at `index`. */
  add(key: K, index: number): void {
    assert(!this.indexOf.has(key), `a second proposal in flight for ${String(key)}`);
    assert(!this.keyAt.has(index), `two proposals in flight at index ${index}`);
    this.indexOf.set(key, index);
    this.keyAt.set(index, key);
  }

  /** The entry at `index` was applied (or its index passed): returns the key proposed there, now settled. */
  settle(index: number): K | undefined {
    const key = this.keyAt.get(index);
    if (key === undefined) return undefined;
    this.keyAt.delete(index);
    this.indexOf.delete(key);
    return key;
  }

  clear(): void {
    this.indexOf.clear();
    this.keyAt.clear();
  }
}
