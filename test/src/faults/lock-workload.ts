// Locks and leadership under faults: contenders take a Mutex and join a LeaderLatch, each in its
// own session, and record when they believed they held the lock or led — from the grant until
// they released it or were told it might be lost. Two such intervals that overlap are a
// violation of mutual exclusion (or of single leadership), whatever the faults were.

import { LeaderLatch, Mutex, connect, type ArborClient } from '@arbor/client';
import type { Rng } from './random.js';
import { sleep } from './nemesis.js';

export interface HoldInterval {
  owner: string;
  startMs: number;
  endMs: number;
  /** The lock's fencing token (its node's sequence); -1 for leadership. */
  token: number;
}

export interface LockWorkloadOptions {
  connectString: string;
  contenders: number;
  sessionTimeoutMs: number;
  lockPath: string;
  electionPath: string;
  rng: Rng;
  log?: (message: string) => void;
}

export class LockWorkload {
  readonly lockHolds: HoldInterval[] = [];
  readonly leaderships: HoldInterval[] = [];
  acquireFailures = 0;
  sessionsLost = 0;
  /** What each contender is waiting for right now, so that a run that does not stop can say where. */
  private readonly steps = new Map<number, { owner: string; step: string; sinceMs: number }>();

  constructor(private readonly options: LockWorkloadOptions) {}

  async run(shouldStop: () => boolean): Promise<void> {
    await Promise.all(
      Array.from({ length: this.options.contenders }, (_, i) => this.contender(i, this.options.rng.fork(i + 1), shouldStop)),
    );
  }

  /** The contenders still running, with what each has been waiting for and since when. */
  activity(): string[] {
    const now = performance.now();
    return [...this.steps.values()].map((s) => `${s.owner}: ${s.step} for ${Math.round(now - s.sinceMs)} ms`);
  }

  private step(index: number, owner: string, step: string): void {
    this.steps.set(index, { owner, step, sinceMs: performance.now() });
  }

  private newClient(): Promise<ArborClient> {
    return connect(this.options.connectString, {
      sessionTimeoutMs: this.options.sessionTimeoutMs,
      connectTimeoutMs: 60_000,
      requestTimeoutMs: 5_000,
    });
  }

  private async contender(index: number, rng: Rng, shouldStop: () => boolean): Promise<void> {
    let generation = 0;
    while (!shouldStop()) {
      const owner = `c${index}.${generation++}`;
      this.step(index, owner, 'connecting');
      const client = await this.newClient();
      let latch: LeaderLatch | undefined;
      let ledSince: number | undefined;
      const stopLeading = (): void => {
        if (ledSince !== undefined) this.leaderships.push({ owner, startMs: ledSince, endMs: performance.now(), token: -1 });
        ledSince = undefined;
      };
      const join = async (): Promise<LeaderLatch> => {
        const next = new LeaderLatch(client, this.options.electionPath, { id: owner });
        next.on('leadership', () => (ledSince = performance.now()));
        next.on('lost', stopLeading);
        this.step(index, owner, 'joining the election');
        await next.start();
        return next;
      };
      try {
        latch = await join();
        const mutex = new Mutex(client, this.options.lockPath);
        const leadFor = rng.int(300, 1_500);
        while (!shouldStop() && client.state !== 'lost' && client.state !== 'closed') {
          await this.holdOnce(mutex, owner, rng, (step) => this.step(index, owner, step));
          // A leader steps down now and then, so that leadership moves even without faults.
          if (ledSince !== undefined && performance.now() - ledSince > leadFor) {
            stopLeading();
            this.step(index, owner, 'leaving the election');
            await latch.close();
            latch = await join();
          }
        }
      } catch (error) {
        this.options.log?.(`contender ${owner}: ${(error as Error).message}`);
      } finally {
        if (client.state === 'lost') this.sessionsLost++;
        // Stop believing before the node can go: the end of the interval is taken first.
        stopLeading();
        this.step(index, owner, 'closing its latch');
        await latch?.close().catch(() => undefined);
        this.step(index, owner, 'closing its client');
        await client.close().catch(() => undefined);
      }
    }
    this.steps.delete(index);
  }

  private async holdOnce(mutex: Mutex, owner: string, rng: Rng, step: (what: string) => void): Promise<void> {
    let lease;
    try {
      step('acquiring the lock');
      lease = await mutex.acquire({ timeoutMs: 3_000 });
    } catch {
      this.acquireFailures++;
      await sleep(rng.int(10, 100));
      return;
    }
    const startMs = performance.now();
    let endMs: number | undefined;
    const onLost = (): void => {
      endMs ??= performance.now();
    };
    if (lease.lost.aborted) onLost();
    else lease.lost.addEventListener('abort', onLost, { once: true });
    step('holding the lock');
    await sleep(rng.int(5, 60));
    // The holder stops relying on the lock when it decides to release, before the delete is sent.
    endMs ??= performance.now();
    lease.lost.removeEventListener('abort', onLost);
    this.lockHolds.push({ owner, startMs, endMs, token: lease.fencingToken });
    step('releasing the lock');
    await lease.release().catch(() => undefined);
  }
}

/** Pairs of intervals that overlap in time; `what` names the property for the message. */
export function overlaps(intervals: readonly HoldInterval[], what: string): string[] {
  const sorted = [...intervals].sort((a, b) => a.startMs - b.startMs);
  const problems: string[] = [];
  let latest: HoldInterval | undefined;
  for (const interval of sorted) {
    if (latest !== undefined && interval.startMs < latest.endMs) {
      problems.push(
        `${what}: ${interval.owner} from ${interval.startMs.toFixed(1)} ms while ${latest.owner} held until ${latest.endMs.toFixed(1)} ms`,
      );
    }
    if (latest === undefined || interval.endMs > latest.endMs) latest = interval;
  }
  return problems;
}

/** Fencing tokens must grow in the order the lock was granted. */
export function tokensOutOfOrder(holds: readonly HoldInterval[]): string[] {
  const sorted = [...holds].sort((a, b) => a.startMs - b.startMs);
  const problems: string[] = [];
  for (let i = 1; i < sorted.length; i++) {
    const before = sorted[i - 1]!;
    const after = sorted[i]!;
    if (after.token <= before.token)
      problems.push(`fencing token ${after.token} of ${after.owner} is not above ${before.token} of ${before.owner}`);
  }
  return problems;
}
