// The replicated state machine of the simulator: a counter plus a rolling hash of every entry
// applied. The counter makes reads checkable (the value at index i is known globally); the hash
// makes State Machine Safety checkable from any member's state alone, and survives snapshots.

import { assert } from '../assert.js';
import type { Entry } from '../types.js';

/** A write command: add `amount` to the counter. 8 bytes: amount (u32) and a unique write id (u32). */
export function encodeWrite(amount: number, writeId: number): Uint8Array {
  const out = new Uint8Array(8);
  const view = new DataView(out.buffer);
  view.setUint32(0, amount >>> 0);
  view.setUint32(4, writeId >>> 0);
  return out;
}

export function decodeWrite(data: Uint8Array): { amount: number; writeId: number } {
  assert(data.length === 8, `write command of ${data.length} bytes`);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return { amount: view.getUint32(0), writeId: view.getUint32(4) };
}

/** FNV-1a over an entry's identity and payload, chained onto `prev`. */
export function chainHash(prev: number, entry: Entry): number {
  let h = prev ^ 0x811c9dc5;
  const mix = (byte: number): void => {
    h ^= byte & 0xff;
    h = Math.imul(h, 0x01000193) >>> 0;
  };
  for (const n of [entry.index, entry.term]) for (let s = 0; s < 32; s += 8) mix(n >>> s);
  mix(entry.type === 'normal' ? 1 : entry.type === 'noop' ? 2 : 3);
  for (const b of entry.data) mix(b);
  return h >>> 0;
}

export class CounterStateMachine {
  appliedIndex = 0;
  counter = 0;
  hash = 0;
  writes = 0;

  apply(entry: Entry): void {
    assert(entry.index === this.appliedIndex + 1, `applying ${entry.index} after ${this.appliedIndex}`);
    this.appliedIndex = entry.index;
    this.hash = chainHash(this.hash, entry);
    if (entry.type === 'normal') {
      this.counter += decodeWrite(entry.data).amount;
      this.writes++;
    }
  }

  /**
   * Serialized state: index, counter, hash, writes (u32 each, index as two u32), then `padding`
   * bytes derived from the hash so that snapshots span several chunks.
   */
  serialize(padding: number): Uint8Array {
    const out = new Uint8Array(24 + padding);
    const view = new DataView(out.buffer);
    view.setUint32(0, Math.floor(this.appliedIndex / 2 ** 32));
    view.setUint32(4, this.appliedIndex >>> 0);
    view.setUint32(8, this.counter >>> 0);
    view.setUint32(12, this.hash);
    view.setUint32(16, this.writes >>> 0);
    view.setUint32(20, padding);
    for (let i = 0; i < padding; i++) out[24 + i] = (this.hash >>> (8 * (i % 4))) & 0xff;
    return out;
  }

  static restore(data: Uint8Array): CounterStateMachine {
    assert(data.length >= 24, `snapshot of ${data.length} bytes`);
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const sm = new CounterStateMachine();
    sm.appliedIndex = view.getUint32(0) * 2 ** 32 + view.getUint32(4);
    sm.counter = view.getUint32(8);
    sm.hash = view.getUint32(12);
    sm.writes = view.getUint32(16);
    const padding = view.getUint32(20);
    assert(data.length === 24 + padding, `snapshot length ${data.length} does not match its padding ${padding}`);
    for (let i = 0; i < padding; i++) {
      assert(data[24 + i] === ((sm.hash >>> (8 * (i % 4))) & 0xff), `snapshot byte ${24 + i} corrupt`);
    }
    return sm;
  }
}
