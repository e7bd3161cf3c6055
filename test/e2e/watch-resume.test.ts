// Persistent watches resumed over a real reconnect (member processes, sockets, SQLite files):
// a client cut off from its member (a fault proxy in front of each client port, or kill -9 of
// the member) and moved to another member gets every change it missed, in zxid order, exactly
// once, then the live ones; when the member's window of recent changes no longer reaches back,
// it gets a `resync` event instead of a stream with a silent gap.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect, utf8, type ArborClient, type ConnectionState, type PersistentWatch, type PersistentWatchEvent } from '@arbor/client';
import { Ensemble, Mode, startProxy, waitFor, type FaultProxy } from '@arbor/testing';

/** The next `n` events of a persistent watch, bounded in time. */
async function take(iterator: AsyncIterator<PersistentWatchEvent>, n: number, timeoutMs = 15_000): Promise<PersistentWatchEvent[]> {
  const events: PersistentWatchEvent[] = [];
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    const got = (): string => events.map((e) => `${e.type} ${e.path} @${e.zxid}`).join(', ');
    timer = setTimeout(() => reject(new Error(`only ${events.length} of ${n} events: ${got()}`)), timeoutMs);
  });
  deadline.catch(() => undefined);
  try {
    while (events.length < n) {
      const next = await Promise.race([iterator.next(), deadline]);
      if (next.done === true) throw new Error(`watch ended after ${events.length} of ${n} events`);
      events.push(next.value);
    }
  } finally {
    clearTimeout(timer);
  }
  return events;
}

const brief = (events: readonly PersistentWatchEvent[]): string[] => events.map((e) => `${e.type} ${e.path}`);

/** Resolves the next time the client enters `state`. */
function nextState(client: ArborClient, state: ConnectionState, timeoutMs = 15_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`the client did not become ${state} within ${timeoutMs} ms (it is ${client.state})`));
    }, timeoutMs);
    const off = client.on('state', (s) => {
      if (s !== state) return;
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}

/**
 * A watching client that reaches each member through a proxy of its own (so its links can be
 * cut while the ensemble and other clients carry on), connected to member 1: members are tried
 * in the written order when the random source never shuffles.
 */
async function connectWatcher(ensemble: Ensemble): Promise<{ client: ArborClient; proxies: Map<number, FaultProxy> }> {
  const proxies = new Map<number, FaultProxy>();
  for (const slot of ensemble.slots) proxies.set(slot.id, await startProxy({ targetPort: slot.clientPort }));
  const client = await connect([...proxies.values()].map((p) => `127.0.0.1:${p.port}`).join(','), {
    sessionTimeoutMs: 20_000,
    random: () => 0.999_999,
  });
  expect(client.memberId).toBe(1);
  return { client, proxies };
}

/** A client of members 2 and 3 only, which the cuts never touch. */
function connectWriter(ensemble: Ensemble): Promise<ArborClient> {
  return connect([2, 3].map((id) => `127.0.0.1:${ensemble.slot(id).clientPort}`).join(','), { sessionTimeoutMs: 20_000 });
}

/** A watcher (connectWatcher) and a writer (connectWriter), closed by the suite's `cleanup` after the test. */
async function connectPair(
  ensemble: Ensemble,
  cleanup: (() => Promise<unknown>)[],
): Promise<{ watcher: ArborClient; writer: ArborClient; proxies: Map<number, FaultProxy> }> {
  const { client: watcher, proxies } = await connectWatcher(ensemble);
  const writer = await connectWriter(ensemble);
  cleanup.push(
    async () => Promise.all([...proxies.values()].map((p) => p.close())),
    () => watcher.close(),
    () => writer.close(),
  );
  return { watcher, writer, proxies };
}

/**
 * The writer creates `root` and then `nodes` in order; the watcher registers a recursive watch on
 * `root` once its member has applied them: a watch registered before that would hear the setup
 * creates as live events.
 */
async function watchAfterCreating(
  watcher: ArborClient,
  writer: ArborClient,
  root: string,
  nodes: readonly (readonly [path: string, data: Uint8Array | null])[] = [],
): Promise<{ watch: PersistentWatch; events: AsyncIterator<PersistentWatchEvent> }> {
  await writer.create(root, null);
  for (const [path, data] of nodes) await writer.create(path, data);
  await watcher.sync(root);
  const watch = watcher.watch(root, { recursive: true });
  await watch.ready;
  return { watch, events: watch[Symbol.asyncIterator]() };
}

/** Cuts every link of the watcher: its connection is reset, and it can reach no member. */
async function cutOff(watcher: ArborClient, proxies: Map<number, FaultProxy>): Promise<void> {
  const suspended = nextState(watcher, 'suspended');
  for (const p of proxies.values()) p.setMode(Mode.drop);
  await suspended;
}

/** Lets the watcher reach members `ids` again, and waits until it has reconnected to one. */
async function reconnectVia(watcher: ArborClient, proxies: Map<number, FaultProxy>, ids: readonly number[]): Promise<void> {
  const reconnected = nextState(watcher, 'reconnected');
  for (const id of ids) proxies.get(id)!.setMode(Mode.pass);
  await reconnected;
}

/** Zxids must not decrease, and no (zxid, type, path) may come twice. */
function expectOrderedOnce(events: readonly PersistentWatchEvent[]): void {
  const zxids = events.map((e) => e.zxid);
  expect(zxids).toEqual([...zxids].sort((a, b) => a - b));
  const keys = events.map((e) => `${e.zxid} ${e.type} ${e.path}`);
  expect(new Set(keys).size).toBe(keys.length);
}

describe('resuming persistent watches within the change window', () => {
  let ensemble: Ensemble;
  const cleanup: (() => Promise<unknown>)[] = [];
  beforeAll(async () => {
    ensemble = await Ensemble.start({ members: 3 });
  });
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step().catch(() => undefined);
  });
  afterAll(async () => ensemble?.stop());

  it('replays exactly the changes missed while its links were cut, in zxid order, then the live ones', async () => {
    const { watcher, writer, proxies } = await connectPair(ensemble, cleanup);
    const { watch, events } = await watchAfterCreating(watcher, writer, '/app', [['/app/cfg', utf8('0')]]);
    await writer.setData('/app/cfg', utf8('1'));
    const [before] = await take(events, 1);
    expect(before).toMatchObject({ type: 'NodeDataChanged', path: '/app/cfg' });

    await cutOff(watcher, proxies);

    const expected: string[] = [];
    for (let i = 0; i < 30; i++) {
      await writer.create(`/app/n${i}`, utf8(String(i)));
      expected.push(`NodeCreated /app/n${i}`);
    }
    await writer.create('/app/n7/deep', null);
    expected.push('NodeCreated /app/n7/deep');
    for (let i = 10; i < 20; i++) {
      await writer.setData(`/app/n${i}`, utf8('changed'));
      expected.push(`NodeDataChanged /app/n${i}`);
    }
    for (let i = 20; i < 25; i++) {
      await writer.delete(`/app/n${i}`);
      expected.push(`NodeDeleted /app/n${i}`);
    }
    // Outside the watched subtree: '/apx' is not under '/app'.
    await writer.create('/apx', null);
    await writer.create('/other', null);
    // One multi: three changes at one zxid.
    const results = await writer.multi([
      { op: 'create', path: '/app/m1', data: null },
      { op: 'setData', path: '/app/cfg', data: utf8('2') },
      { op: 'delete', path: '/app/n29' },
    ]);
    const multiStat = results[1];
    if (multiStat?.op !== 'setData') throw new Error('the multi answered out of order');
    const multiZxid = multiStat.stat.mzxid;
    expected.push('NodeCreated /app/m1', 'NodeDataChanged /app/cfg', 'NodeDeleted /app/n29');
    const lastMissed = await writer.setData('/app/cfg', utf8('3'));
    expected.push('NodeDataChanged /app/cfg');

    // Back, but not to member 1: the replay comes from another member's window.
    await reconnectVia(watcher, proxies, [2, 3]);
    expect(watcher.memberId).not.toBe(1);

    const missed = await take(events, expected.length);
    expect(brief(missed)).toEqual(expected);
    expectOrderedOnce([before!, ...missed]);
    expect(missed[0]!.zxid).toBeGreaterThan(before!.zxid);
    expect(missed.at(-1)!.zxid).toBe(lastMissed.mzxid);
    expect(missed.filter((e) => e.zxid === multiZxid).map((e) => e.path)).toEqual(['/app/m1', '/app/cfg', '/app/n29']);

    // Live again, and nothing replayed twice: the next event is the next change.
    const live = await writer.setData('/app/cfg', utf8('live'));
    const [next] = await take(events, 1);
    expect(next).toEqual({ type: 'NodeDataChanged', path: '/app/cfg', zxid: live.mzxid });
    await watch.close();
  });

  it('replays the missed changes to a persistent watch exactly once when one-shot watches are re-armed with it', async () => {
    const { watcher, writer, proxies } = await connectPair(ensemble, cleanup);
    const { watch, events } = await watchAfterCreating(watcher, writer, '/mix', [
      ['/mix/cfg', utf8('0')],
      ['/mix/doomed', null],
    ]);
    // One-shot watches on nodes inside the persistent watch's subtree, as an application
    // that reads a config and also follows its subtree would hold.
    const data = await watcher.getData('/mix/cfg', { watch: true });
    const doomed = await watcher.exists('/mix/doomed', { watch: true });
    const later = await watcher.exists('/mix/later', { watch: true });
    expect(later.stat).toBeNull();

    await cutOff(watcher, proxies);
    const changes = [
      await writer.setData('/mix/cfg', utf8('1')).then((s) => ({ zxid: s.mzxid, line: 'NodeDataChanged /mix/cfg' })),
      await writer.create2('/mix/later', null).then((r) => ({ zxid: r.stat.czxid, line: 'NodeCreated /mix/later' })),
      await writer.setData('/mix/cfg', utf8('2')).then((s) => ({ zxid: s.mzxid, line: 'NodeDataChanged /mix/cfg' })),
    ];
    await writer.delete('/mix/doomed');
    await reconnectVia(watcher, proxies, [2, 3]);

    expect(await data.changed).toMatchObject({ type: 'NodeDataChanged', path: '/mix/cfg' });
    expect(await doomed.changed).toMatchObject({ type: 'NodeDeleted', path: '/mix/doomed' });
    expect(await later.changed).toMatchObject({ type: 'NodeCreated', path: '/mix/later' });
    const live = await writer.setData('/mix', utf8('live'));
    const seen = await take(events, 5);
    expect(brief(seen)).toEqual([...changes.map((c) => c.line), 'NodeDeleted /mix/doomed', 'NodeDataChanged /mix']);
    expect(seen.slice(0, 3).map((e) => e.zxid)).toEqual(changes.map((c) => c.zxid));
    expect(seen.at(-1)!.zxid).toBe(live.mzxid);
    expectOrderedOnce(seen);
    await watch.close();
  });

  it('loses nothing and repeats nothing when its member is killed with kill -9 in the middle of a stream of writes', async () => {
    const { watcher, writer, proxies } = await connectPair(ensemble, cleanup);
    cleanup.push(async () => {
      if (ensemble.slot(1).process === null) await ensemble.restart(1);
    });
    const { watch, events } = await watchAfterCreating(watcher, writer, '/stream');

    // One writer, each create awaited: creation order is zxid order.
    const created: string[] = [];
    let writing = true;
    const writes = (async () => {
      while (writing) created.push(await writer.create('/stream/s-', null, { mode: 'PERSISTENT_SEQUENTIAL' }));
    })();
    const createdAtLeast = (n: number, what: string) => waitFor(what, () => (created.length >= n ? true : undefined), 20_000, 10);

    try {
      await createdAtLeast(20, 'writes before the kill');
      // Members 2 and 3 unreachable for the watcher until the writer has gone on without it.
      proxies.get(2)!.setMode(Mode.drop);
      proxies.get(3)!.setMode(Mode.drop);
      const suspended = nextState(watcher, 'suspended');
      await ensemble.kill(1);
      await suspended;
      const atCut = created.length;
      await createdAtLeast(atCut + 40, 'writes while the watcher is away');
      await reconnectVia(watcher, proxies, [2, 3]);
      // The replay and the live events meet while the writer goes on.
      await createdAtLeast(created.length + 20, 'writes after the reconnect');
    } finally {
      writing = false;
      await writes;
    }
    const seen = await take(events, created.length);
    expect(brief(seen)).toEqual(created.map((path) => `NodeCreated ${path}`));
    expectOrderedOnce(seen);
    await writer.setData('/stream', utf8('end'));
    const [next] = await take(events, 1);
    expect(next).toMatchObject({ type: 'NodeDataChanged', path: '/stream' });
    await watch.close();
  });
});

describe('resuming persistent watches beyond a small change window', () => {
  const WINDOW = 20;
  let ensemble: Ensemble;
  beforeAll(async () => {
    ensemble = await Ensemble.start({ members: 3, settings: { changeWindowEntries: WINDOW } });
  });
  afterAll(async () => ensemble?.stop());

  it('replays a gap the window still holds, and sends resync, not a gapped stream, for one it does not', async () => {
    const { client: watcher, proxies } = await connectWatcher(ensemble);
    const writer = await connectWriter(ensemble);
    try {
      const { watch: recursive, events: deep } = await watchAfterCreating(watcher, writer, '/app', [['/app/cfg', utf8('0')]]);
      const plain = watcher.watch('/app/cfg');
      await plain.ready;
      const flat = plain[Symbol.asyncIterator]();

      // A gap of 5 changes fits the window: replayed as usual.
      await cutOff(watcher, proxies);
      for (let i = 0; i < 5; i++) await writer.setData('/app/cfg', utf8(`small-${i}`));
      await reconnectVia(watcher, proxies, [...proxies.keys()]);
      const small = await take(deep, 5);
      expect(brief(small)).toEqual(Array(5).fill('NodeDataChanged /app/cfg'));
      expectOrderedOnce(small);
      expect(brief(await take(flat, 5))).toEqual(Array(5).fill('NodeDataChanged /app/cfg'));

      // A gap of 40 creates (80 changes with the parent's NodeChildrenChanged) does not.
      await cutOff(watcher, proxies);
      let lastCreated = 0;
      for (let i = 0; i < 40; i++) lastCreated = (await writer.create2(`/app/n${i}`, null)).stat.czxid;
      await reconnectVia(watcher, proxies, [2, 3]);
      expect(watcher.memberId).not.toBe(1);
      // Then a live change: between the two, only the resync, none of the 40 creates.
      const live = await writer.setData('/app/cfg', utf8('live'));
      const [resync, afterResync] = await take(deep, 2);
      expect(resync).toMatchObject({ type: 'resync', path: '/app' });
      expect(resync!.zxid).toBeGreaterThanOrEqual(lastCreated);
      expect(afterResync).toEqual({ type: 'NodeDataChanged', path: '/app/cfg', zxid: live.mzxid });
      const [flatResync, flatLive] = await take(flat, 2);
      expect(flatResync).toMatchObject({ type: 'resync', path: '/app/cfg' });
      expect(flatLive).toEqual({ type: 'NodeDataChanged', path: '/app/cfg', zxid: live.mzxid });
      // The watches stay in place after a resync, and a re-read shows what was missed.
      expect((await watcher.getChildren('/app')).children).toHaveLength(41);
      await writer.create('/app/after', null);
      const [created] = await take(deep, 1);
      expect(created).toMatchObject({ type: 'NodeCreated', path: '/app/after' });
      await recursive.close();
      await plain.close();
    } finally {
      await watcher.close();
      await writer.close();
      await Promise.all([...proxies.values()].map((p) => p.close()));
    }
  });
});
