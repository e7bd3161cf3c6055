// Releasing a grant while the members have no leader: every write is answered CONNECTIONLOSS at
// once until an election ends. A contender node left behind by a live session blocks everyone
// queued after it, so the release must outlast the election — spaced out, not spent inside it.
// (CI caught the leader selector stalled for good after a leader kill: a term's node could not
// be deleted within ten immediate attempts.)
import { ErrorCode } from '@arbor/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LeaderLatch, LeaderSelector, Mutex, RecipeTimeoutError } from '../../src/index.js';
import type { ArborClient } from '../../src/index.js';
import { DELETE_ATTEMPTS_MAX, deleteRetryDelayMs } from '../../src/recipes/held-node.js';
import { FakeEnsemble } from '../helpers/fake-ensemble.js';
import type { LoggedRequest } from '../helpers/fake-ensemble.js';
import { advanceUntil, flush, sessions } from '../helpers/harness.js';

/** Deletes are refused as a member without a leader refuses them, for `electionMs` of the fake clock from now. */
function electionFor(ensemble: FakeEnsemble, electionMs: number): { refused: () => number } {
  const endsAt = Date.now() + electionMs;
  let refused = 0;
  ensemble.intercept = (r: LoggedRequest, connection) => {
    if (r.op !== 'delete' || Date.now() >= endsAt) return undefined;
    refused++;
    connection.sendRaw({ xid: r.xid, zxid: 0, err: ErrorCode.CONNECTIONLOSS, message: 'delete: no leader; retry on another member' });
    return 'hold';
  };
  return { refused: () => refused };
}

describe('releasing during a leader election', () => {
  let ensemble: FakeEnsemble;
  let clients: ArborClient[];
  beforeEach(async () => {
    vi.useFakeTimers();
    ensemble = new FakeEnsemble(3);
    clients = await sessions(ensemble, 2);
  });
  afterEach(async () => {
    ensemble.intercept = () => undefined;
    await Promise.all(clients.map((c) => c.close()));
    vi.useRealTimers();
  });

  const children = (path: string): string[] => [...(ensemble.nodes.get(path)?.children ?? [])];

  it('the retry schedule spans more than a slow election, in a bounded number of attempts', () => {
    let totalMs = 0;
    for (let attempt = 0; attempt + 1 < DELETE_ATTEMPTS_MAX; attempt++) totalMs += deleteRetryDelayMs(attempt);
    expect(totalMs).toBeGreaterThan(20_000);
    expect(deleteRetryDelayMs(0)).toBeGreaterThan(0);
  });

  it('a mutex released while no member has a leader frees the lock once one is elected, and the waiter gets it', async () => {
    const [holder, waiter] = clients as [ArborClient, ArborClient];
    const lease = await new Mutex(holder, '/locks/m').acquire();
    const next = new Mutex(waiter, '/locks/m').acquire();
    await flush();
    const election = electionFor(ensemble, 3_000);
    let released = false;
    void lease.release().then(() => (released = true));
    await flush();
    // Refused once and waiting for its back-off: not spinning through its attempts.
    expect(election.refused()).toBe(1);
    await advanceUntil(() => released, 'the release', 10_000);
    expect(election.refused()).toBeGreaterThan(1);
    expect(election.refused()).toBeLessThan(DELETE_ATTEMPTS_MAX);
    let granted = false;
    const nextLease = next.then((l) => ((granted = true), l));
    await advanceUntil(() => granted, 'the waiter’s grant', 10_000);
    expect(children('/locks/m')).toHaveLength(1);
    await (await nextLease).release();
    expect(children('/locks/m')).toEqual([]);
  });

  it('an acquire that times out during the election rejects on time, and its node goes once a leader is elected', async () => {
    const [holder, waiter] = clients as [ArborClient, ArborClient];
    const lease = await new Mutex(holder, '/locks/t').acquire();
    const election = electionFor(ensemble, 3_000);
    const startedAt = Date.now();
    let rejectedAt: number | undefined;
    void new Mutex(waiter, '/locks/t').acquire({ timeoutMs: 500 }).catch((error: unknown) => {
      expect(error).toBeInstanceOf(RecipeTimeoutError);
      rejectedAt = Date.now();
    });
    await advanceUntil(() => rejectedAt !== undefined, 'the acquire’s timeout', 10_000);
    // Its deadline is not stretched by the election: the first delete was refused, the rest go on behind.
    expect(rejectedAt! - startedAt).toBeLessThan(1_000);
    expect(election.refused()).toBeGreaterThanOrEqual(1);
    expect(children('/locks/t')).toHaveLength(2);
    await advanceUntil(() => children('/locks/t').length === 1, 'the abandoned node’s removal', 10_000);
    expect(children('/locks/t')).toEqual([lease.path.slice('/locks/t/'.length)]);
    await lease.release();
  });

  it('a leader selector whose term ends while no member has a leader still hands leadership on', async () => {
    const terms: number[] = [];
    const selectors = (clients as ArborClient[]).map(
      (client, i) =>
        new LeaderSelector(client, '/election/s', {
          id: `c${i}`,
          autoRequeue: true,
          takeLeadership: async () => {
            terms.push(i);
            await new Promise((r) => setTimeout(r, 100));
          },
        }),
    );
    for (const s of selectors) s.start();
    await advanceUntil(() => terms.length >= 1, 'a first term', 10_000);
    const election = electionFor(ensemble, 3_000);
    const before = terms.length;
    // The terms go on once the election is over (3 s): well within a few seconds more.
    for (let step = 0; step < 100 && terms.length < before + 4; step++) await vi.advanceTimersByTimeAsync(100);
    expect(terms.length).toBeGreaterThanOrEqual(before + 4);
    expect(election.refused()).toBeGreaterThan(0);
    expect(new Set(terms)).toEqual(new Set([0, 1]));
    let closed = false;
    void Promise.all(selectors.map((s) => s.close())).then(() => (closed = true));
    for (let step = 0; step < 100 && !closed; step++) await vi.advanceTimersByTimeAsync(100);
    expect(closed).toBe(true);
    expect(children('/election/s')).toEqual([]);
  });

  it('a leader latch closed while no member has a leader leaves the election', async () => {
    const [first, second] = clients as [ArborClient, ArborClient];
    const a = new LeaderLatch(first, '/election/l', { id: 'a' });
    const b = new LeaderLatch(second, '/election/l', { id: 'b' });
    await a.start();
    await b.start();
    await advanceUntil(() => a.hasLeadership(), 'a leads', 10_000);
    electionFor(ensemble, 3_000);
    let closed = false;
    void a.close().then(() => (closed = true));
    await advanceUntil(() => closed && b.hasLeadership(), 'b leads after a closed', 15_000);
    await b.close();
    expect(children('/election/l')).toEqual([]);
  });
});
