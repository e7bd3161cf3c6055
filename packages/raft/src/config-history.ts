// The configurations in a member's log, so that it can use the latest one (thesis §4.1) and
// fall back when a conflicting append removes an uncommitted configuration entry.

import { assert } from './assert.js';
import type { ConfState } from './types.js';

interface ConfAt {
  readonly index: number;
  readonly conf: ConfState;
}

export class ConfigHistory {
  /** Ascending by index; the first element is the base (a snapshot's, or {0, empty}). */
  private history: ConfAt[];

  constructor(baseIndex: number, base: ConfState) {
    this.history = [{ index: baseIndex, conf: base }];
  }

  current(): ConfState {
    return (this.history[this.history.length - 1] as ConfAt).conf;
  }

  /** Index of the entry that created the current configuration (the base's index for the base). */
  currentIndex(): number {
    return (this.history[this.history.length - 1] as ConfAt).index;
  }

  push(index: number, conf: ConfState): void {
    assert(index > this.currentIndex(), `configuration at ${index} not after ${this.currentIndex()}`);
    this.history.push({ index, conf });
  }

  /** Forgets configurations from entries at or after `index`; true if the current one changed. */
  truncateFrom(index: number): boolean {
    const base = this.history[0] as ConfAt;
    assert(index > base.index, `truncating configurations at ${index} at or below the base ${base.index}`);
    const before = this.history.length;
    while ((this.history[this.history.length - 1] as ConfAt).index >= index) this.history.pop();
    return this.history.length !== before;
  }

  /** The configuration in force at `index` (at or after the base). */
  at(index: number): ConfState {
    const base = this.history[0] as ConfAt;
    assert(index >= base.index, `configuration at ${index} is behind the base ${base.index}`);
    let found = base;
    for (const c of this.history) {
      if (c.index > index) break;
      found = c;
    }
    return found.conf;
  }

  /** Drops configurations no longer needed to answer at(i) for i >= index. */
  compact(index: number): void {
    let keep = 0;
    while (keep + 1 < this.history.length && (this.history[keep + 1] as ConfAt).index <= index) keep++;
    if (keep > 0) this.history = this.history.slice(keep);
  }

  reset(baseIndex: number, base: ConfState): void {
    this.history = [{ index: baseIndex, conf: base }];
  }
}
