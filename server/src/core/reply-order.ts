/**
 * Answers of one connection in the order its requests arrived (SEMANTICS: a session's requests
 * are answered in the order sent; a read waits behind that session's pending writes). Each
 * request takes a slot when it arrives; whoever finishes it (a local read at once, a write when
 * its entry applies, a sync when its read index is reached) fills the slot; filled slots at the
 * head are released in order. Watch events fired by an entry are queued with the write's answer
 * and so go out before it (event before response).
 */
export class ReplyOrder<T> {
  private readonly slots: { seq: number; items: T[] | (() => T[]) | null }[] = [];
  private nextSeq = 0;
  private headSeq = 0;

  constructor(private readonly release: (item: T) => void) {}

  /** Requests taken and not yet released (what the outstanding-requests limit counts). */
  get outstanding(): number {
    return this.slots.length;
  }

  /** Takes the next slot; returns its ticket. */
  take(): number {
    const seq = this.nextSeq++;
    this.slots.push({ seq, items: null });
    return seq;
  }

  /**
   * Fills a slot with what to send for it (e.g. events then the response), releasing every filled
   * slot at the head. A function is called only when its slot is released — after every earlier
   * slot — so a read computed that way sees the effects of the writes ahead of it. Filling an
   * unknown or already filled ticket is a bug and throws.
   */
  fill(ticket: number, items: T[] | (() => T[])): void {
    const at = ticket - this.headSeq;
    const slot = this.slots[at];
    if (at < 0 || slot === undefined || slot.seq !== ticket || slot.items !== null) {
      throw new Error(`core invariant broken: reply ticket ${ticket} is not waiting`);
    }
    slot.items = items;
    while (this.slots.length > 0 && this.slots[0]!.items !== null) {
      const head = this.slots.shift()!;
      this.headSeq++;
      const produced = typeof head.items === 'function' ? head.items() : head.items!;
      for (const item of produced) this.release(item);
    }
  }

  /** Sends events that belong to no request (a watch fired by another session's write) after the released answers. */
  sendNow(item: T): void {
    this.release(item);
  }

  /** Drops every waiting slot (the connection closed); returns how many were dropped. */
  clear(): number {
    const n = this.slots.length;
    this.slots.length = 0;
    this.headSeq = this.nextSeq;
    return n;
  }
}
