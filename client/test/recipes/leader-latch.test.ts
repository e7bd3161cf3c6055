import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ArborClient, LeaderLatch, RecipeTimeoutError } from '../../src/index.js';
import { FakeEnsemble, connectString } from '../helpers/fake-ensemble.js';
import { inOrder, until } from '../helpers/harness.js';

describe('LeaderLatch', () => {
  let ensemble: FakeEnsemble;
  let clients: ArborClient[];
  beforeEach(async () => {
    vi.useFakeTimers();
    ensemble = new FakeEnsemble(3);
    clients = Array.from(
      { length: 3 },
      () => new ArborClient(connectString(3), { transport: ensemble.transport, random: inOrder, sessionTimeoutMs: 9000 }),
    );
    await until(() => clients.every((c) => c.state === 'connected'), 'all connected');
  });
  afterEach(async () => {
    await Promise.all(clients.map((c) => c.close()));
    vi.useRealTimers();
  });

  /** Starts one latch per client, in order, recording their events. */
  async function latches(): Promise<{ latch: LeaderLatch; events: string[] }[]> {
    const list = [];
    for (const [i, client] of clients.entries()) {
      const latch = new LeaderLatch(client, '/election', { id: `p${i}`, payload: { port: 9000 + i } });
      const events: string[] = [];
      latch.on('leadership', () => events.push('leadership'));
      latch.on('lost', () => events.push('lost'));
      await latch.start();
      list.push({ latch, events });
    }
    return list;
  }

  const leaders = (list: { latch: LeaderLatch }[]): string[] => list.filter((l) => l.latch.hasLeadership()).map((l) => l.latch.id);

  it('elects the first participant; observers see its id and payload', async () => {
    const list = await latches();
    await (list[0] as { latch: LeaderLatch }).latch.awaitLeadership({ timeoutMs: 1000 });
    expect(leaders(list)).toEqual(['p0']);
    const observer = clients[2] as ArborClient;
    expect(await LeaderLatch.leader(observer, '/election')).toMatchObject({
      id: 'p0',
      payload: { port: 9000 },
      sessionId: (clients[0] as ArborClient).sessionId,
    });
    expect((await LeaderLatch.participants(observer, '/election')).map((p) => p.id)).toEqual(['p0', 'p1', 'p2']);
    for (const { latch } of list) await latch.close();
    expect(await LeaderLatch.leader(observer, '/election')).toBeUndefined();
  });

  it('hands over to the next participant when the leader closes', async () => {
    const list = await latches();
    const [first, second] = list as [(typeof list)[number], (typeof list)[number]];
    await first.latch.awaitLeadership({ timeoutMs: 1000 });
    await first.latch.close();
    expect(first.events).toEqual(['leadership', 'lost']);
    expect(first.latch.hasLeadership()).toBe(false);
    await second.latch.awaitLeadership({ timeoutMs: 1000 });
    expect(leaders(list)).toEqual(['p1']);
    expect((await LeaderLatch.leader(clients[2] as ArborClient, '/election'))?.id).toBe('p1');
  });

  it('a leader whose session expires learns it, and the next one is elected', async () => {
    const list = await latches();
    const [first, second] = list as [(typeof list)[number], (typeof list)[number]];
    await first.latch.awaitLeadership({ timeoutMs: 1000 });
    ensemble.expireSession((clients[0] as ArborClient).sessionId);
    await until(() => first.events.includes('lost'), 'lost event');
    expect(first.latch.hasLeadership()).toBe(false);
    await second.latch.awaitLeadership({ timeoutMs: 1000 });
    expect(leaders(list)).toEqual(['p1']);
    await expect(first.latch.awaitLeadership()).rejects.toThrow(/closed|lost/);
  });

  it('loses leadership on suspension and regains it after reconnecting with the same session', async () => {
    const list = await latches();
    const first = list[0] as (typeof list)[number];
    await first.latch.awaitLeadership({ timeoutMs: 1000 });
    const client = clients[0] as ArborClient;
    const member = ensemble.open().find((c) => c.session?.id === client.sessionId)?.member as number;
    ensemble.kill(member);
    await until(() => first.events.includes('lost'), 'lost on suspension');
    expect(first.latch.hasLeadership()).toBe(false);
    // The client fails over to another member within the session timeout.
    for (let i = 0; i < 100 && !first.latch.hasLeadership(); i++) await vi.advanceTimersByTimeAsync(50);
    expect(client.state).toBe('reconnected');
    expect(first.events).toEqual(['leadership', 'lost', 'leadership']);
    expect(leaders(list)).toEqual(['p0']);
    ensemble.revive(member);
  });

  it('awaitLeadership times out for a follower', async () => {
    const list = await latches();
    const outcome = (list[1] as { latch: LeaderLatch }).latch.awaitLeadership({ timeoutMs: 200 }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(200);
    expect(await outcome).toBeInstanceOf(RecipeTimeoutError);
  });
});
