// One direction of a proxied connection: reads from a source socket and writes to a sink, as its
// mode says. Every chunk goes through one FIFO queue with a due time, so changing the mode (say,
// from delay to pass) never reorders bytes. Memory is bounded: the source is paused while the
// queue is over its limit, while the sink pushes back, while there is no sink yet, and in hold.
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { DirectionMode } from './modes.js';

export interface PipeCounters {
  /** Read from the source. */
  receivedBytes: number;
  /** Written to the sink. */
  forwardedBytes: number;
  /** Thrown away by blackhole. */
  discardedBytes: number;
}

interface Chunk {
  readonly data: Buffer;
  readonly dueMs: number;
}

export class Pipe {
  private readonly queue: Chunk[] = [];
  private queuedBytes = 0;
  private lastDueMs = 0;
  private timer: NodeJS.Timeout | undefined;
  private sink: Socket | undefined;
  private sinkBlocked = false;
  private sourceEnded = false;
  private sinkEnded = false;
  private paused = false;
  private closed = false;
  /** Bytes (or the end of the stream) were thrown away: this direction can never be resumed. */
  private lost = false;

  constructor(
    private readonly source: Socket,
    private mode: DirectionMode,
    private readonly options: { readonly queueBytesMax: number; readonly random: () => number; readonly counters: PipeCounters },
  ) {
    source.on('data', (data: Buffer) => this.onData(data));
    source.on('end', () => this.onEnd());
    this.updatePause();
  }

  /** True once this direction discarded anything. */
  get broken(): boolean {
    return this.lost;
  }

  get currentMode(): DirectionMode {
    return this.mode;
  }

  /** Connects the sink (an upstream socket may come later than its client). */
  attachSink(sink: Socket): void {
    this.sink = sink;
    sink.on('drain', () => {
      this.sinkBlocked = false;
      this.flush();
    });
    this.flush();
  }

  setMode(mode: DirectionMode): void {
    this.mode = mode;
    if (mode.kind === 'blackhole') this.discardQueue();
    this.flush();
  }

  /** Stops all activity; the sockets are the connection's to destroy. */
  close(): void {
    this.closed = true;
    this.clearTimer();
    this.queue.length = 0;
    this.queuedBytes = 0;
  }

  private onData(data: Buffer): void {
    if (this.closed) return;
    this.options.counters.receivedBytes += data.length;
    if (this.mode.kind === 'blackhole') {
      this.lost = true;
      this.options.counters.discardedBytes += data.length;
      return;
    }
    const nowMs = performance.now();
    const holdMs = this.mode.kind === 'delay' ? this.mode.delayMs + this.options.random() * this.mode.jitterMs : 0;
    // TCP delivers in order, so a chunk is never due before the one ahead of it.
    const dueMs = Math.max(nowMs + holdMs, this.lastDueMs);
    this.lastDueMs = dueMs;
    this.queue.push({ data, dueMs });
    this.queuedBytes += data.length;
    this.flush();
  }

  /** The source closed without a FIN reaching us (destroyed cleanly): treat it as ended. */
  endSource(): void {
    if (!this.sourceEnded) this.onEnd();
  }

  private onEnd(): void {
    if (this.closed) return;
    if (this.mode.kind === 'blackhole') {
      this.lost = true; // the FIN is lost with the bytes
      return;
    }
    this.sourceEnded = true;
    this.flush();
  }

  private flush(): void {
    if (this.closed) return;
    if (this.mode.kind !== 'hold' && this.sink !== undefined) {
      const nowMs = performance.now();
      while (!this.sinkBlocked && this.queue.length > 0 && this.queue[0]!.dueMs <= nowMs) {
        const chunk = this.queue.shift()!;
        this.queuedBytes -= chunk.data.length;
        this.options.counters.forwardedBytes += chunk.data.length;
        if (!this.sink.write(chunk.data)) this.sinkBlocked = true;
      }
      if (this.queue.length === 0 && this.sourceEnded && !this.sinkEnded) {
        this.sinkEnded = true;
        this.sink.end();
      }
      this.schedule(nowMs);
    }
    this.updatePause();
  }

  private schedule(nowMs: number): void {
    this.clearTimer();
    const head = this.queue[0];
    if (head === undefined || this.sinkBlocked) return;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.flush();
      },
      Math.max(0, Math.ceil(head.dueMs - nowMs)),
    );
  }

  private discardQueue(): void {
    if (this.queue.length > 0 || (this.sourceEnded && !this.sinkEnded)) this.lost = true;
    this.options.counters.discardedBytes += this.queuedBytes;
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.clearTimer();
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private updatePause(): void {
    const pause =
      this.mode.kind === 'hold' || this.sink === undefined || this.sinkBlocked || this.queuedBytes >= this.options.queueBytesMax;
    // Blackhole must keep reading (and discarding), or the sender would see back-pressure, not loss.
    const shouldPause = pause && this.mode.kind !== 'blackhole';
    if (shouldPause === this.paused || this.source.destroyed) return;
    this.paused = shouldPause;
    if (shouldPause) this.source.pause();
    else this.source.resume();
  }
}
