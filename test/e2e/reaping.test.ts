// Automatic removal of container and TTL nodes on a real 3-member ensemble (member processes,
// sockets, SQLite files): the leader finds due nodes on its tick and removes them through the
// log, so every member removes them at the same zxid, watchers on every member hear of it, and a
// new leader carries on after the old one is killed with kill -9.
//
// "Not removed" is never asserted after a sleep: it is checked against something that proves
// the reaper looked after the node was created (another node reaped later), or against the wall
// clock the ensemble stamps into stats (a removal reported before mtime + ttlMs is a bug).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArborClient, PersistentWatchEvent, WatchEvent } from '@arbor/client';
import { Ensemble, waitFor } from '@arbor/testing';
import { connectTo } from './clients.js';

/** A client of exactly one member: what it reads is that member's applied state. */
function clientOf(ensemble: Ensemble, id: number): Promise<ArborClient> {
  return connectTo(ensemble, [id], 10_000);
}

async function clientsOfEvery(ensemble: Ensemble, ids = ensemble.slots.map((s) => s.id)): Promise<Map<number, ArborClient>> {
  const clients = new Map<number, ArborClient>();
  for (const id of ids) clients.set(id, await clientOf(ensemble, id));
  return clients;
}

async function closeAll(clients: Map<number, ArborClient>): Promise<void> {
  await Promise.all([...clients.values()].map((c) => c.close().catch(() => undefined)));
}

/** Until `path` is gone on the member `client` talks to. */
function gone(client: ArborClient, path: string, timeoutMs = 15_000): Promise<true> {
  return waitFor(
    `${path} to be removed on member ${client.memberId}`,
    async () => ((await client.exists(path)) === null ? true : undefined),
    timeoutMs,
  );
}

/** Resolves with the event and the wall-clock ms at which this process received it. */
function timed(changed: Promise<WatchEvent>): Promise<{ event: WatchEvent; atMs: number }> {
  const stamped = changed.then((event) => ({ event, atMs: Date.now() }));
  // Like `changed`, never an unhandled rejection when a failing test closes the client first.
  stamped.catch(() => undefined);
  return stamped;
}

/** Polls `path` on `client` until the wall clock reaches `untilMs`; throws if it is ever missing. */
async function presentUntil(client: ArborClient, path: string, untilMs: number): Promise<void> {
  const boundMs = untilMs + 30_000;
  while (Date.now() < untilMs) {
    if (Date.now() > boundMs) throw new Error('the wall clock went backwards');
    if ((await client.exists(path)) === null) throw new Error(`${path} was removed ${untilMs - Date.now()} ms before it could be due`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('container and TTL nodes on a 3-member ensemble', () => {
  let ensemble: Ensemble;
  beforeAll(async () => {
    ensemble = await Ensemble.start({ members: 3 });
  });
  afterAll(async () => ensemble?.stop());

  it('removes an emptied container on every member and tells watchers on each; a container that never had a child stays', async () => {
    const clients = await clientsOfEvery(ensemble);
    const writer = clients.get(1)!;
    try {
      await writer.create('/c', null);
      await writer.create('/c/idle', null, { mode: 'CONTAINER' });
      await writer.create('/c/jobs', null, { mode: 'CONTAINER' });
      await writer.create('/c/jobs/a', null);
      await writer.create('/c/jobs/b', null);
      // A nested pair: emptying the inner one empties the outer one, which goes next.
      await writer.create('/c/outer', null, { mode: 'CONTAINER' });
      await writer.create('/c/outer/inner', null, { mode: 'CONTAINER' });
      await writer.create('/c/outer/inner/x', null);

      const watched = new Map<number, { jobs: Promise<WatchEvent>; outer: Promise<WatchEvent> }>();
      const recursive = new Map<number, AsyncIterator<PersistentWatchEvent>>();
      for (const [id, c] of clients) {
        await c.sync('/c');
        const jobs = await c.getData('/c/jobs', { watch: true });
        const outer = await c.exists('/c/outer', { watch: true });
        expect(outer.stat).not.toBeNull();
        watched.set(id, { jobs: jobs.changed, outer: outer.changed });
        const w = c.watch('/c', { recursive: true });
        await w.ready;
        recursive.set(id, w[Symbol.asyncIterator]());
      }

      // Still has a child after the first delete: it outlives it (the order is checked below).
      await writer.delete('/c/jobs/a');
      await writer.delete('/c/jobs/b');
      await writer.delete('/c/outer/inner/x');

      const seenBy = new Map<number, string[]>();
      for (const [id, c] of clients) {
        const { jobs, outer } = watched.get(id)!;
        expect(await jobs).toMatchObject({ type: 'NodeDeleted', path: '/c/jobs' });
        expect(await outer).toMatchObject({ type: 'NodeDeleted', path: '/c/outer' });
        await gone(c, '/c/jobs');
        await gone(c, '/c/outer');
        expect(await c.exists('/c/outer/inner')).toBeNull();
        // The reaper ran after /c/idle was made (it removed nodes emptied later): never having
        // had a child, /c/idle is still here.
        expect(await c.exists('/c/idle')).not.toBeNull();
        const events = await takeUntil(recursive.get(id)!, (e) => e.type === 'NodeDeleted' && e.path === '/c/outer');
        const lines = events.map((e) => `${e.type} ${e.path}`);
        expect([...lines].sort()).toEqual([
          'NodeDeleted /c/jobs',
          'NodeDeleted /c/jobs/a',
          'NodeDeleted /c/jobs/b',
          'NodeDeleted /c/outer',
          'NodeDeleted /c/outer/inner',
          'NodeDeleted /c/outer/inner/x',
        ]);
        // A container goes only once its last child is gone; the outer one only after the inner one.
        const at = (path: string): number => lines.indexOf(`NodeDeleted ${path}`);
        expect(at('/c/jobs')).toBeGreaterThan(at('/c/jobs/b'));
        expect(at('/c/jobs/b')).toBeGreaterThan(at('/c/jobs/a'));
        expect(at('/c/outer/inner')).toBeGreaterThan(at('/c/outer/inner/x'));
        expect(at('/c/outer')).toBeGreaterThan(at('/c/outer/inner'));
        seenBy.set(
          id,
          events.map((e) => `${e.zxid} ${e.type} ${e.path}`),
        );
      }
      // Removals are log entries: every member reports the same ones at the same zxids.
      const [first, ...others] = [...seenBy.values()];
      for (const other of others) expect(other).toEqual(first);
      expect((await writer.getChildren('/c')).children).toEqual(['idle']);
    } finally {
      await closeAll(clients);
    }
    await ensemble.waitForConvergence();
  });

  it('removes a TTL node after its TTL and not before; a setData restarts its clock; one with a child is kept until the child goes', async () => {
    const TTL_MS = 2_000;
    // Due before /t/plain: the reaper has looked at it, due and with a child, when /t/plain goes.
    const PARENT_TTL_MS = 1_500;
    const clients = await clientsOfEvery(ensemble);
    const writer = clients.get(2)!;
    const readers = [...clients.values()];
    try {
      await writer.create('/t', null);
      const plain = await writer.create2('/t/plain', null, { mode: 'PERSISTENT_WITH_TTL', ttlMs: TTL_MS });
      const seq = await writer.create2('/t/seq-', null, { mode: 'PERSISTENT_SEQUENTIAL_WITH_TTL', ttlMs: TTL_MS });
      expect(seq.path).toMatch(/^\/t\/seq-\d{10}$/);
      const touched = await writer.create2('/t/touched', null, { mode: 'PERSISTENT_WITH_TTL', ttlMs: TTL_MS });
      const parent = await writer.create2('/t/parent', null, { mode: 'PERSISTENT_WITH_TTL', ttlMs: PARENT_TTL_MS });
      await writer.create('/t/parent/kid', null);

      const deletions = new Map<string, Promise<{ event: WatchEvent; atMs: number }>[]>();
      const watchRemoval = async (path: string): Promise<void> => {
        const perMember = [];
        for (const c of readers) {
          await c.sync(path);
          const r = await c.exists(path, { watch: true });
          expect(r.stat).not.toBeNull();
          perMember.push(timed(r.changed));
        }
        deletions.set(path, perMember);
      };
      for (const path of ['/t/plain', seq.path, '/t/parent']) await watchRemoval(path);

      // Half-way through its TTL, /t/touched is written: its clock starts again from that mtime.
      await presentUntil(writer, '/t/touched', touched.stat.mtime + TTL_MS / 2);
      const retouched = await writer.setData('/t/touched', null);
      expect(retouched.mtime).toBeGreaterThan(touched.stat.mtime);
      await watchRemoval('/t/touched');

      // Not before: present on every member until shortly before it can be due.
      const MARGIN_MS = 300;
      await Promise.all(readers.map((c) => presentUntil(c, '/t/plain', plain.stat.mtime + TTL_MS - MARGIN_MS)));
      for (const [path, ttl, mtime] of [
        ['/t/plain', TTL_MS, plain.stat.mtime],
        [seq.path, TTL_MS, seq.stat.mtime],
      ] as const) {
        for (const d of deletions.get(path)!) {
          const { event, atMs } = await d;
          expect(event).toMatchObject({ type: 'NodeDeleted', path });
          // After: the removal cannot be reported before the TTL has run out since mtime.
          expect(atMs).toBeGreaterThan(mtime + ttl);
        }
      }
      for (const c of readers) await gone(c, '/t/plain');

      // The written node outlived the untouched ones, and went only after its new TTL ran out.
      await Promise.all(readers.map((c) => presentUntil(c, '/t/touched', retouched.mtime + TTL_MS - MARGIN_MS)));
      for (const d of deletions.get('/t/touched')!) {
        const { event, atMs } = await d;
        expect(event).toMatchObject({ type: 'NodeDeleted', path: '/t/touched' });
        expect(atMs).toBeGreaterThan(retouched.mtime + TTL_MS);
      }

      // Its TTL ran out long ago, but it has a child: kept. The reaper has looked since then
      // (it removed /t/plain and /t/touched after the parent was due), so this is not a matter of timing.
      expect(Date.now()).toBeGreaterThan(parent.stat.mtime + PARENT_TTL_MS);
      for (const c of readers) expect(await c.exists('/t/parent')).not.toBeNull();
      // Once the child goes, it is due at once: gone well within a fresh grace period of a whole TTL.
      const kidDeletedAtMs = Date.now();
      await writer.delete('/t/parent/kid');
      await Promise.all(readers.map((c) => gone(c, '/t/parent', PARENT_TTL_MS)));
      for (const d of deletions.get('/t/parent')!) {
        const { event, atMs } = await d;
        expect(event).toMatchObject({ type: 'NodeDeleted', path: '/t/parent' });
        expect(atMs - kidDeletedAtMs).toBeLessThan(PARENT_TTL_MS);
      }
      expect((await writer.getChildren('/t')).children).toEqual([]);
    } finally {
      await closeAll(clients);
    }
    await ensemble.waitForConvergence();
  });

  it('goes on reaping after the leader is killed with kill -9: the new leader removes what was due', async () => {
    const CONTAINERS = 60;
    // Long enough that the node is certainly not due before the kill: the new leader removes it.
    const TTL_MS = 3_000;
    const leader = await ensemble.waitForLeader();
    const survivors = ensemble.slots.map((s) => s.id).filter((id) => id !== leader);
    const clients = await clientsOfEvery(ensemble, survivors);
    const writer = clients.get(survivors[0]!)!;
    try {
      await writer.create('/f', null);
      await writer.multi(
        Array.from({ length: CONTAINERS }, (_, i) => [
          { op: 'create' as const, path: `/f/c${i}`, data: null, mode: 'CONTAINER' as const },
          { op: 'create' as const, path: `/f/c${i}/job`, data: null },
        ]).flat(),
      );
      await writer.create('/f/held', null, { mode: 'CONTAINER' });
      await writer.create('/f/held/job', null);
      const ttl = await writer.create2('/f/ttl', null, { mode: 'PERSISTENT_WITH_TTL', ttlMs: TTL_MS });
      expect((await writer.getChildren('/f')).children).toHaveLength(CONTAINERS + 2);

      // Every container emptied in one entry: the leader proposes their removals on its next
      // ticks, and dies with some of them proposed, some perhaps committed, the rest not yet.
      await writer.multi(Array.from({ length: CONTAINERS }, (_, i) => ({ op: 'delete' as const, path: `/f/c${i}/job` })));
      expect(await writer.exists('/f/ttl')).not.toBeNull();
      await ensemble.kill(leader);
      const newLeader = await ensemble.waitForLeader();
      expect(survivors).toContain(newLeader);

      // Emptied under the new leader, and the TTL node falling due under it.
      // (The writer's member holds the delete until it knows the new leader.)
      await writer.delete('/f/held/job');
      for (const c of clients.values()) {
        let left: string[] = [];
        await waitFor(
          `every container removed on member ${c.memberId}`,
          async () => {
            // The TTL node may be gone already or not yet; every container must go.
            left = (await c.getChildren('/f')).children.filter((name) => name !== 'ttl');
            return left.length === 0 ? true : undefined;
          },
          20_000,
        ).catch((error: Error) => {
          throw new Error(`${error.message}; left: ${left.join(' ')}\nnew leader ${newLeader}:\n${ensemble.logs(newLeader)}`);
        });
        await gone(c, '/f/ttl');
      }
      const stat = await writer.exists('/f');
      expect(stat?.numChildren).toBe(0);
      expect(Date.now()).toBeGreaterThan(ttl.stat.mtime + TTL_MS);

      // The killed member comes back, replays its log and catches up: the same tree everywhere.
      await ensemble.restart(leader);
      await ensemble.waitForLeader();
      const back = await clientOf(ensemble, leader);
      try {
        await back.sync('/f');
        expect((await back.getChildren('/f')).children).toEqual([]);
      } finally {
        await back.close();
      }
    } finally {
      await closeAll(clients);
    }
    const digest = await ensemble.waitForConvergence(30_000);
    const statuses = await Promise.all(ensemble.slots.map((s) => ensemble.status(s.id)));
    expect(statuses.map((s) => s.digest)).toEqual([digest, digest, digest]);
    expect(new Set(statuses.map((s) => s.znodes)).size).toBe(1);
    expect(new Set(statuses.map((s) => s.appliedIndex)).size).toBe(1);
  }, 60_000);
});

/** Events of a persistent watch up to and including the first that `last` accepts, bounded in time and count. */
async function takeUntil(
  iterator: AsyncIterator<PersistentWatchEvent>,
  last: (e: PersistentWatchEvent) => boolean,
  timeoutMs = 15_000,
): Promise<PersistentWatchEvent[]> {
  const events: PersistentWatchEvent[] = [];
  const deadline = AbortSignal.timeout(timeoutMs);
  while (events.length < 1_000) {
    const next = await Promise.race([
      iterator.next(),
      new Promise<never>((_, reject) =>
        deadline.addEventListener('abort', () =>
          reject(new Error(`after ${JSON.stringify(events)}: no more events within ${timeoutMs} ms`)),
        ),
      ),
    ]);
    if (next.done === true) throw new Error(`watch ended after ${JSON.stringify(events)}`);
    events.push(next.value);
    if (last(next.value)) return events;
  }
  throw new Error('more than 1,000 events');
}
