// The nemesis: applies one fault at a time to a running ensemble, holds it, heals it, and waits
// until the ensemble has a leader and every member has caught up before the next one. One at a
// time is deliberate: Raft promises nothing when a majority is faulty at once, and a member whose
// disk was wiped must catch up before anyone else fails (see the notes on wipe below).

import { Mode, type Ensemble } from '@arbor/testing';
import type { Rng } from './random.js';

export const FAULT_KINDS = [
  'kill-leader',
  'kill-follower',
  'pause-short',
  'pause-long',
  'partition-leader',
  'partition-follower',
  'one-way-leader',
  'slow-links',
  'wipe-follower',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Faults that need the peer mesh (proxies between members). */
const NEEDS_MESH: ReadonlySet<FaultKind> = new Set(['partition-leader', 'partition-follower', 'one-way-leader', 'slow-links']);

export function needsMesh(kinds: readonly FaultKind[]): boolean {
  return kinds.some((k) => NEEDS_MESH.has(k));
}

export interface FaultRecord {
  kind: FaultKind;
  target: number;
  /** Milliseconds since the run started. */
  startMs: number;
  heldMs: number;
  /** How long after healing the ensemble had a leader and every member had caught up. */
  recoveredMs: number;
}

export interface NemesisOptions {
  kinds: readonly FaultKind[];
  /** The clients' session timeout: pause-short stays under it, pause-long goes past it. */
  sessionTimeoutMs: number;
  /** Quiet time between faults, [min, max] ms. */
  quietMs?: [number, number];
  /** Bound on recovery after a fault is healed; exceeding it fails the run. */
  recoveryTimeoutMs?: number;
  log?: (message: string) => void;
}

export class Nemesis {
  readonly faults: FaultRecord[] = [];
  private readonly origin = performance.now();

  constructor(
    private readonly ensemble: Ensemble,
    private readonly rng: Rng,
    private readonly options: NemesisOptions,
  ) {
    if (options.kinds.length === 0) throw new Error('nemesis: no fault kinds');
    if (needsMesh(options.kinds) && ensemble.mesh === undefined)
      throw new Error('nemesis: partition faults need an ensemble started with peerMesh');
  }

  /** Applies faults until `shouldStop()` (checked between faults), then heals everything. */
  async run(shouldStop: () => boolean): Promise<FaultRecord[]> {
    const [quietMin, quietMax] = this.options.quietMs ?? [300, 1500];
    try {
      while (!shouldStop()) {
        await sleep(this.rng.int(quietMin, quietMax));
        if (shouldStop()) break;
        await this.once(this.rng.pick(this.options.kinds));
      }
    } finally {
      await this.healAll();
    }
    return this.faults;
  }

  /** Restarts stopped members, resumes paused ones, passes every link. Idempotent. */
  async healAll(): Promise<void> {
    for (const slot of this.ensemble.slots) this.ensemble.resume(slot.id);
    this.ensemble.mesh?.heal();
    for (const slot of this.ensemble.slots) if (slot.process === null) await this.ensemble.restart(slot.id);
  }

  private async once(kind: FaultKind): Promise<void> {
    const leader = await this.currentLeader();
    const followers = this.ensemble.slots.map((s) => s.id).filter((id) => id !== leader);
    const target = kind.endsWith('leader') ? leader : this.rng.pick(followers);
    const startMs = performance.now() - this.origin;
    const heldMs = await this.apply(kind, target);
    const healedAt = performance.now();
    await this.recover(kind, target);
    const record: FaultRecord = {
      kind,
      target,
      startMs: Math.round(startMs),
      heldMs,
      recoveredMs: Math.round(performance.now() - healedAt),
    };
    this.faults.push(record);
    this.options.log?.(`fault ${kind} on member ${target}: held ${heldMs} ms, recovered in ${record.recoveredMs} ms`);
  }

  /** Applies the fault, holds it, and heals it; returns how long it was held. */
  private async apply(kind: FaultKind, target: number): Promise<number> {
    const ensemble = this.ensemble;
    const mesh = ensemble.mesh;
    const timeout = this.options.sessionTimeoutMs;
    switch (kind) {
      case 'kill-leader':
      case 'kill-follower': {
        const held = this.rng.int(200, 2_000);
        await ensemble.kill(target);
        await sleep(held);
        await ensemble.restart(target);
        return held;
      }
      case 'pause-short':
      case 'pause-long': {
        const held = kind === 'pause-short' ? this.rng.int(100, Math.floor(timeout / 2)) : timeout + this.rng.int(500, 1_500);
        ensemble.pause(target);
        await sleep(held);
        ensemble.resume(target);
        return held;
      }
      case 'partition-leader':
      case 'partition-follower': {
        const held = this.rng.int(500, 3_000);
        mesh!.isolate(target);
        await sleep(held);
        mesh!.heal();
        return held;
      }
      case 'one-way-leader': {
        // The leader's messages to one follower vanish; the follower's to the leader still arrive.
        const held = this.rng.int(500, 2_500);
        const others = ensemble.slots.map((s) => s.id).filter((id) => id !== target);
        const victim = this.rng.pick(others);
        mesh!.setMode(target, victim, Mode.blackhole);
        await sleep(held);
        mesh!.heal();
        return held;
      }
      case 'slow-links': {
        const held = this.rng.int(1_000, 3_000);
        const ms = this.rng.int(20, 80);
        for (const from of ensemble.slots)
          for (const to of ensemble.slots) if (from.id !== to.id) mesh!.setMode(from.id, to.id, Mode.delay(ms, ms));
        await sleep(held);
        mesh!.heal();
        return held;
      }
      case 'wipe-follower': {
        // Raft assumes stable storage: a member that lost its disk comes back as a founding member
        // with an empty log. That is safe only while the others hold every committed entry, which
        // is why faults never overlap and the next one waits for this member to catch up.
        await ensemble.kill(target);
        await ensemble.restart(target, { wipe: true });
        return 0;
      }
    }
  }

  /** A leader everyone agrees on, and every member applied what the leader had committed when it healed. */
  private async recover(kind: FaultKind, target: number): Promise<void> {
    const timeoutMs = this.options.recoveryTimeoutMs ?? 30_000;
    const deadline = performance.now() + timeoutMs;
    const what = `recovery from ${kind} on member ${target}`;
    const leader = await this.ensemble.waitForLeader(timeoutMs);
    const committed = (await this.ensemble.status(leader)).commitIndex;
    while (performance.now() < deadline) {
      const statuses = await Promise.all(this.ensemble.responsive().map((s) => this.ensemble.status(s.id).catch(() => undefined)));
      if (statuses.every((st) => st !== undefined && st.appliedIndex >= committed)) return;
      await sleep(50);
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: members did not apply index ${committed}`);
  }

  private async currentLeader(): Promise<number> {
    try {
      return await this.ensemble.waitForLeader(10_000);
    } catch {
      return this.rng.pick(this.ensemble.slots.map((s) => s.id));
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
