// A min-heap of timed events; ties broken by insertion order so runs are deterministic.

interface Slot<T> {
  readonly at: number;
  readonly seq: number;
  readonly value: T;
}

export class EventQueue<T> {
  private heap: Slot<T>[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  push(at: number, value: T): void {
    this.heap.push({ at, seq: this.seq++, value });
    this.up(this.heap.length - 1);
  }

  peekTime(): number | undefined {
    return this.heap[0]?.at;
  }

  pop(): { at: number; value: T } | undefined {
    const top = this.heap[0];
    if (top === undefined) return undefined;
    const last = this.heap.pop() as Slot<T>;
    if (this.heap.length > 0) {
      this.heap[0] = last;
      this.down(0);
    }
    return { at: top.at, value: top.value };
  }

  /** Removes every event for which `drop` holds. */
  filter(keep: (value: T) => boolean): void {
    this.heap = this.heap.filter((s) => keep(s.value));
    for (let i = (this.heap.length >> 1) - 1; i >= 0; i--) this.down(i);
  }

  private less(a: Slot<T>, b: Slot<T>): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private up(i: number): void {
    const h = this.heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(h[i] as Slot<T>, h[parent] as Slot<T>)) break;
      [h[i], h[parent]] = [h[parent] as Slot<T>, h[i] as Slot<T>];
      i = parent;
    }
  }

  private down(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.less(h[l] as Slot<T>, h[m] as Slot<T>)) m = l;
      if (r < h.length && this.less(h[r] as Slot<T>, h[m] as Slot<T>)) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m] as Slot<T>, h[i] as Slot<T>];
      i = m;
    }
  }
}
