// A simulated network between members: every message gets a random delay (so reordering falls
// out naturally), and may be dropped or duplicated; partitions block chosen directed links.

import type { SeededRandom } from '../random.js';
import type { Message, NodeId } from '../types.js';

export interface NetworkFaults {
  /** Probability that a message is lost. */
  dropRate: number;
  /** Probability that a message is delivered twice. */
  duplicateRate: number;
  /** Delay bounds in virtual milliseconds. */
  minDelayMs: number;
  maxDelayMs: number;
  /** Probability that a message takes an extra long detour (up to 10x maxDelayMs). */
  slowRate: number;
}

export const CALM_NETWORK: NetworkFaults = { dropRate: 0, duplicateRate: 0, minDelayMs: 1, maxDelayMs: 3, slowRate: 0 };

export interface Delivery {
  readonly atMs: number;
  readonly message: Message;
}

export class SimNetwork {
  faults: NetworkFaults = CALM_NETWORK;
  private readonly blocked = new Set<string>();
  sent = 0;
  dropped = 0;

  constructor(private readonly random: SeededRandom) {}

  /** Blocks both directions between each member of `a` and each member of `b`. */
  partition(a: readonly NodeId[], b: readonly NodeId[]): void {
    for (const x of a) {
      for (const y of b) {
        this.blocked.add(`${x}>${y}`);
        this.blocked.add(`${y}>${x}`);
      }
    }
  }

  /** Cuts `id` off from everyone in `others`. */
  isolate(id: NodeId, others: readonly NodeId[]): void {
    this.partition(
      [id],
      others.filter((o) => o !== id),
    );
  }

  blockLink(from: NodeId, to: NodeId): void {
    this.blocked.add(`${from}>${to}`);
  }

  heal(): void {
    this.blocked.clear();
  }

  isBlocked(from: NodeId, to: NodeId): boolean {
    return this.blocked.has(`${from}>${to}`);
  }

  hasPartitions(): boolean {
    return this.blocked.size > 0;
  }

  /** The deliveries a send turns into (none, one, or a duplicate). */
  route(nowMs: number, message: Message): Delivery[] {
    this.sent++;
    if (this.isBlocked(message.from, message.to) || this.random.chance(this.faults.dropRate)) {
      this.dropped++;
      return [];
    }
    const copies = this.random.chance(this.faults.duplicateRate) ? 2 : 1;
    const out: Delivery[] = [];
    for (let i = 0; i < copies; i++) out.push({ atMs: nowMs + this.delay(), message });
    return out;
  }

  private delay(): number {
    const { minDelayMs, maxDelayMs, slowRate } = this.faults;
    const base = minDelayMs + this.random.nextFloat() * (maxDelayMs - minDelayMs);
    return this.random.chance(slowRate) ? base + this.random.nextFloat() * 10 * maxDelayMs : base;
  }
}
