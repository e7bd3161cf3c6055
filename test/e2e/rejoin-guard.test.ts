// A member whose data directory is wiped must not undo what it helped commit (the rejoin guard,
// docs/operations.md). Real member processes, kill -9, a wiped directory: A and B commit X while
// C is down; A dies; B is wiped and restarted; C comes back without X. A forgetful B would elect
// C and X would be gone. Guarded, B neither votes nor counts, so the ensemble waits for A — and
// keeps X.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ensemble, waitFor } from '@arbor/testing';
import { connectTo, str, text } from './clients.js';

describe('a member restarted with a wiped data directory', () => {
  let ensemble: Ensemble;
  beforeAll(async () => {
    ensemble = await Ensemble.start({ members: 3 });
  });
  afterAll(async () => ensemble?.stop());

  it('starts guarded in a new ensemble only until the founders find each other', async () => {
    await ensemble.waitForLeader();
    for (const slot of ensemble.slots) expect((await ensemble.status(slot.id)).rejoinGuarded).toBe(false);
  });

  it('does not elect the lagging member, and the acknowledged write survives', async () => {
    const a = await ensemble.waitForLeader();
    const [b, c] = ensemble.slots.map((s) => s.id).filter((id) => id !== a) as [number, number];
    await ensemble.kill(c);
    const client = await connectTo(ensemble, [a]);
    try {
      await client.create('/x', text('acknowledged while C was down'));
    } finally {
      await client.close();
    }
    await ensemble.kill(a);
    await ensemble.kill(b);
    await ensemble.restart(b, { wipe: true });
    await ensemble.restart(c);
    await waitFor('the wiped member to report its guard', async () => ((await ensemble.status(b)).rejoinGuarded ? true : undefined));
    // The guard is durable: a crash before anyone caught B up does not end it.
    await ensemble.kill(b);
    await ensemble.restart(b);
    expect((await ensemble.status(b)).rejoinGuarded).toBe(true);

    // Several election timeouts (10 ticks of 50 ms, randomised up to 20): without the guard B
    // would have voted C in by now. Every status read is one sample of "no leader".
    const watchUntil = Date.now() + 4_000;
    while (Date.now() < watchUntil) {
      for (const id of [b, c]) {
        const st = await ensemble.status(id);
        expect(st.role, `member ${id} must not lead without A`).not.toBe('leader');
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await ensemble.status(b)).rejoinGuarded).toBe(true);

    await ensemble.restart(a);
    const leader = await ensemble.waitForLeader(30_000);
    expect(leader).not.toBe(c);
    const reader = await connectTo(ensemble);
    try {
      await reader.sync('/');
      expect(str((await reader.getData('/x')).data)).toBe('acknowledged while C was down');
      // A write committed after B came back lifts its guard.
      await reader.create('/after', null);
    } finally {
      await reader.close();
    }
    await waitFor('the wiped member to be caught up', async () => ((await ensemble.status(b)).rejoinGuarded ? undefined : true), 20_000);
    await ensemble.waitForConvergence(30_000);
    const c2 = await connectTo(ensemble, [b]);
    try {
      await c2.sync('/');
      expect(str((await c2.getData('/x')).data)).toBe('acknowledged while C was down');
    } finally {
      await c2.close();
    }
  }, 120_000);

  it('a member restarted with its data directory intact is not guarded', async () => {
    const leader = await ensemble.waitForLeader();
    const victim = ensemble.slots.map((s) => s.id).find((id) => id !== leader)!;
    await ensemble.kill(victim);
    await ensemble.restart(victim);
    expect((await ensemble.status(victim)).rejoinGuarded).toBe(false);
  }, 60_000);
});
