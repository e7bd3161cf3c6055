// The in-process ensemble: members of `arbor server` inside the test process, used the way a
// user's test would use it. Needs the built server (its storage worker runs from server/dist).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, isConnectedState, type ArborClient } from '@arbor/client';
import { InProcessEnsemble, waitFor } from '@arbor/testing';

/** Sockets and servers of this process, to show that stop() leaves nothing that keeps it alive. */
function openSockets(): number {
  return process.getActiveResourcesInfo().filter((kind) => kind === 'TCPServerWrap' || kind === 'TCPSocketWrap').length;
}

/**
 * A session held by the member `memberId`. The client picks a member at random, so this
 * connects until one lands there (bounded: 60 tries of a one-in-three chance).
 */
async function connectOn(connectString: string, memberId: number, sessionTimeoutMs: number): Promise<ArborClient> {
  for (let attempt = 0; attempt < 60; attempt++) {
    const client = await connect(connectString, { sessionTimeoutMs });
    if (client.memberId === memberId) return client;
    await client.close();
  }
  throw new Error(`no session landed on member ${memberId}`);
}

describe('InProcessEnsemble of 3 members', () => {
  let ensemble: InProcessEnsemble;
  let socketsBefore: number;
  const clients: ArborClient[] = [];
  const client = async (connectString: string, sessionTimeoutMs = 10_000): Promise<ArborClient> => {
    const c = await connect(connectString, { sessionTimeoutMs });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    socketsBefore = openSockets();
    ensemble = await InProcessEnsemble.start({ members: 3 });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await ensemble?.stop();
  });

  it('serves writes through one member and reads through every other', async () => {
    const [first, second, third] = ensemble.slots.map((s) => `127.0.0.1:${s.clientPort}`);
    const writer = await client(first!);
    await writer.create('/app/config', 'v1', { createParents: true });
    await writer.setData('/app/config', 'v2');
    for (const address of [second!, third!]) {
      const reader = await client(address);
      expect((await reader.getString('/app/config', { linearizable: true })).data).toBe('v2');
    }
  });

  it("keeps a session's ephemeral across the crash of the leader it is connected to", async () => {
    const leader = await ensemble.waitForLeader();
    const owner = await connectOn(ensemble.connectString, leader, 8_000);
    clients.push(owner);
    const sessionId = owner.sessionId;
    await owner.create('/app/worker', 'alive', { mode: 'EPHEMERAL' });

    await ensemble.crash(leader);
    const newLeader = await ensemble.waitForLeader();
    expect(newLeader).not.toBe(leader);
    await waitFor('the session to move to another member', () =>
      isConnectedState(owner.state) && owner.memberId !== undefined && owner.memberId !== leader ? true : undefined,
    );
    expect(owner.sessionId).toBe(sessionId);
    expect(await owner.getEphemerals('/app')).toEqual(['/app/worker']);
    const observer = await client(
      ensemble
        .running()
        .map((s) => `127.0.0.1:${s.clientPort}`)
        .join(','),
    );
    const stat = await observer.exists('/app/worker', { linearizable: true });
    expect(stat?.ephemeralOwner).toBe(sessionId);

    // Written while the old leader is down, so that it has entries to catch up on.
    for (let i = 0; i < 50; i++) await owner.create(`/app/item-${i}`, String(i));

    await ensemble.restart(leader);
    const digest = await ensemble.waitForConvergence();
    const statuses = await Promise.all(ensemble.slots.map((s) => ensemble.status(s.id)));
    const highest = Math.max(...statuses.map((st) => st.appliedIndex));
    expect(statuses.find((st) => st.id === leader)?.appliedIndex).toBe(highest);
    expect(new Set(statuses.map((st) => st.digest))).toEqual(new Set([digest]));
    const restarted = await client(`127.0.0.1:${ensemble.slot(leader).clientPort}`);
    expect((await restarted.getChildren('/app')).children).toHaveLength(52);
  });

  it('elects another leader on forceLeaderChange, with every member back', async () => {
    const before = await ensemble.waitForLeader();
    const after = await ensemble.forceLeaderChange();
    expect(after).not.toBe(before);
    expect(ensemble.running()).toHaveLength(3);
    await ensemble.waitForConvergence();
  });

  it('leaves no socket open once stopped', async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await ensemble.stop();
    // A closed server's handle goes away on a later turn of the loop than its close callback.
    await waitFor('every socket of the ensemble closed', () => (openSockets() === socketsBefore ? true : undefined), 2_000, 10);
    expect(process.getActiveResourcesInfo()).not.toContain('MessagePort');
  });
});

describe('InProcessEnsemble of 1 member', () => {
  it('is an ensemble like any other', async () => {
    const ensemble = await InProcessEnsemble.start({ members: 1, logLevel: 'silent' });
    try {
      expect(await ensemble.waitForLeader()).toBe(1);
      const c = await connect(ensemble.connectString);
      try {
        await c.create('/hello', 'world');
        expect((await c.getString('/hello')).data).toBe('world');
      } finally {
        await c.close();
      }
      expect((await ensemble.status(1)).znodes).toBeGreaterThan(1);
    } finally {
      await ensemble.stop();
    }
  });
});
