import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BadArgumentsError, ClosedError, NoWatcherError, SessionExpiredError, WatcherType } from '../src/index.js';
import { setWatchesChunks } from '../src/watches.js';
import type { ArborClient, PersistentWatch, PersistentWatchEvent, WatchEvent } from '../src/index.js';
import type { FakeEnsemble } from './helpers/fake-ensemble.js';
import { advanceUntil, connected, flush, until } from './helpers/harness.js';

/** Collects a persistent watch's events in the background. */
function collect(watch: PersistentWatch): { events: PersistentWatchEvent[]; done: Promise<unknown> } {
  const events: PersistentWatchEvent[] = [];
  const done = (async () => {
    for await (const event of watch) events.push(event);
  })().then(
    () => 'ended',
    (error: unknown) => error,
  );
  return { events, done };
}

const brief = (events: PersistentWatchEvent[]): string[] => events.map((e) => `${e.type} ${e.path}`);

describe('watches', () => {
  let ensemble: FakeEnsemble;
  let client: ArborClient;
  beforeEach(async () => {
    vi.useFakeTimers();
    ({ ensemble, client } = await connected({ chroot: '/app' }));
  });
  afterEach(async () => {
    await client.close();
    vi.useRealTimers();
  });

  /** Cuts the client off, runs `whileAway` on the ensemble, and lets it reconnect to member 1. */
  async function reconnectAfter(whileAway: () => void): Promise<void> {
    for (const m of [0, 1, 2]) ensemble.kill(m);
    await until(() => client.state === 'suspended');
    whileAway();
    ensemble.revive(1);
    await advanceUntil(() => client.state === 'reconnected');
    await flush();
  }

  describe('one-shot', () => {
    it('getData with watch: true resolves `changed` on the next change, with the client path', async () => {
      ensemble.seed('/app/cfg', 'v0');
      const { data, changed } = await client.getData('/cfg', { watch: true });
      expect(new TextDecoder().decode(data ?? new Uint8Array())).toBe('v0');
      ensemble.set('/app/cfg', 'v1');
      expect(await changed).toEqual({ type: 'NodeDataChanged', path: '/cfg', zxid: ensemble.zxid });
    });

    it('exists on a missing node watches for its creation', async () => {
      const { stat, changed } = await client.exists('/later', { watch: true });
      expect(stat).toBeNull();
      await client.create('/later');
      expect((await changed).type).toBe('NodeCreated');
    });

    it('getChildren watches for child changes, and for deletion', async () => {
      await client.create('/p');
      const first = await client.getChildren('/p', { watch: true });
      await client.create('/p/c');
      expect(await first.changed).toMatchObject({ type: 'NodeChildrenChanged', path: '/p' });
      const second = await client.getChildren('/p', { watch: true });
      await client.delete('/p/c');
      await client.delete('/p');
      expect((await second.changed).type).toBe('NodeChildrenChanged');
      const third = await client.exists('/p', { watch: true });
      await client.create('/p');
      const fourth = await client.getChildren('/p', { watch: true });
      await client.delete('/p');
      expect((await third.changed).type).toBe('NodeCreated');
      expect((await fourth.changed).type).toBe('NodeDeleted');
    });

    it('the event arrives before the answer of the write that caused it', async () => {
      await client.create('/o', 'a');
      const order: string[] = [];
      const { changed } = await client.getData('/o', { watch: true });
      void changed.then(() => order.push('event'));
      await client.setData('/o', 'b').then(() => order.push('answer'));
      expect(order).toEqual(['event', 'answer']);
    });

    it('fires once: a second change finds no watch', async () => {
      await client.create('/once');
      const { changed } = await client.getData('/once', { watch: true });
      await client.setData('/once', '1');
      await changed;
      await client.setData('/once', '2');
      expect((client as unknown as { registry: { size: number } }).registry.size).toBe(0);
    });

    it('every read that asked gets the event (two watches on one node, one event from the member)', async () => {
      await client.create('/two');
      const a = await client.getData('/two', { watch: true });
      const b = await client.exists('/two', { watch: true });
      await client.delete('/two');
      expect((await a.changed).type).toBe('NodeDeleted');
      expect((await b.changed).type).toBe('NodeDeleted');
    });

    it('re-registered after a reconnect with setWatches and the last zxid; a change missed meanwhile fires at once', async () => {
      await client.create('/d', 'x');
      await client.create('/c');
      const data = await client.getData('/d', { watch: true });
      const exist = await client.exists('/e', { watch: true });
      const child = await client.getChildren('/c', { watch: true });
      const lastZxid = client.lastZxid;
      await reconnectAfter(() => ensemble.set('/app/d', 'changed while away'));
      const setWatches = ensemble.open(1)[0]?.requests[0];
      expect(setWatches).toMatchObject({
        op: 'setWatches',
        args: { lastZxid, data: ['/app/d'], exist: ['/app/e'], child: ['/app/c'], persistent: [], persistentRecursive: [] },
      });
      expect(await data.changed).toMatchObject({ type: 'NodeDataChanged', path: '/d' });
      // The others are registered on the new member and still work.
      await client.create('/e');
      await client.create('/c/k');
      expect((await exist.changed).type).toBe('NodeCreated');
      expect((await child.changed).type).toBe('NodeChildrenChanged');
    });

    it('split over several setWatches requests, re-registers the persistent watches first', () => {
      const lists = {
        data: ['/d1', '/d2'],
        exist: ['/e1'],
        child: ['/c1'],
        persistent: ['/p1', '/p2'],
        persistentRecursive: ['/r1'],
      };
      // Room for one path per request.
      const chunks = setWatchesChunks(7, lists, 20);
      expect(chunks.every((c) => c.lastZxid === 7)).toBe(true);
      const order = chunks.flatMap((c) =>
        (['persistent', 'persistentRecursive', 'data', 'exist', 'child'] as const).flatMap((kind) => c[kind].map((p) => `${kind} ${p}`)),
      );
      expect(order).toEqual([
        'persistent /p1',
        'persistent /p2',
        'persistentRecursive /r1',
        'data /d1',
        'data /d2',
        'exist /e1',
        'child /c1',
      ]);
      expect(chunks.length).toBeGreaterThan(1);
      // Every one-shot watch comes in a request after the last one holding a persistent watch.
      const lastPersistent = chunks.findLastIndex((c) => c.persistent.length + c.persistentRecursive.length > 0);
      const firstOneShot = chunks.findIndex((c) => c.data.length + c.exist.length + c.child.length > 0);
      expect(firstOneShot).toBeGreaterThanOrEqual(lastPersistent);
    });

    it('sends no setWatches when nothing is watched', async () => {
      await reconnectAfter(() => {});
      expect(ensemble.open(1)[0]?.requests).toEqual([]);
    });

    it('removeWatches resolves the one-shot watches with a removal event; NOWATCHER when none', async () => {
      await client.create('/rw');
      const d = await client.getData('/rw', { watch: true });
      const c = await client.getChildren('/rw', { watch: true });
      await client.removeWatches('/rw', 'Data');
      expect(await d.changed).toMatchObject({ type: 'DataWatchRemoved', path: '/rw' });
      await client.checkWatches('/rw', WatcherType.Children);
      await client.removeWatches('/rw', WatcherType.Any);
      expect(await c.changed).toMatchObject({ type: 'ChildWatchRemoved', path: '/rw' });
      await expect(client.removeWatches('/rw', 'Any')).rejects.toBeInstanceOf(NoWatcherError);
      await expect(client.checkWatches('/rw', 'Data')).rejects.toThrow(/^checkWatches \/rw: /);
      await expect(client.removeWatches('/rw', 'Sometimes' as never)).rejects.toBeInstanceOf(BadArgumentsError);
    });

    it('session expiry rejects one-shot watches with SessionExpiredError', async () => {
      await client.create('/x');
      const { changed } = await client.getData('/x', { watch: true });
      ensemble.expireSession(client.sessionId);
      await expect(changed).rejects.toBeInstanceOf(SessionExpiredError);
    });

    it('close rejects one-shot watches with ClosedError', async () => {
      await client.create('/x');
      const { changed } = await client.getData('/x', { watch: true });
      await client.close();
      await expect(changed).rejects.toBeInstanceOf(ClosedError);
    });
  });

  describe('persistent', () => {
    it('reports data, children and deletion of the node, and survives the deletion', async () => {
      const watch = await client.addWatch('/cfg');
      const { events } = collect(watch);
      await client.create('/cfg', '1');
      await client.setData('/cfg', '2');
      await client.create('/cfg/k');
      await client.delete('/cfg/k');
      await client.delete('/cfg');
      await client.create('/cfg');
      await flush();
      expect(brief(events)).toEqual([
        'NodeCreated /cfg',
        'NodeDataChanged /cfg',
        'NodeChildrenChanged /cfg',
        'NodeChildrenChanged /cfg',
        'NodeDeleted /cfg',
        'NodeCreated /cfg',
      ]);
      await watch.close();
    });

    it('recursive: the whole subtree, never NodeChildrenChanged, and /rx is not under /r', async () => {
      const watch = client.watch('/r', { recursive: true });
      await watch.ready;
      const { events } = collect(watch);
      await client.create('/r');
      await client.create('/r/a');
      await client.create('/r/a/b', 'x');
      await client.setData('/r/a/b', 'y');
      await client.create('/rx');
      await client.delete('/r/a/b');
      await flush();
      expect(brief(events)).toEqual([
        'NodeCreated /r',
        'NodeCreated /r/a',
        'NodeCreated /r/a/b',
        'NodeDataChanged /r/a/b',
        'NodeDeleted /r/a/b',
      ]);
      await watch.close();
    });

    it('delivers every change of one multi (same zxid) under a recursive watch', async () => {
      const watch = await client.addWatch('/', { recursive: true });
      const { events } = collect(watch);
      await client.transaction().create('/m1').create('/m2').create('/m1/x').commit();
      await flush();
      expect(brief(events)).toEqual(['NodeCreated /m1', 'NodeCreated /m2', 'NodeCreated /m1/x']);
      expect(new Set(events.map((e) => e.zxid)).size).toBe(1);
      await watch.close();
    });

    it('resumes after a reconnect: changes made while away are replayed, none lost or repeated', async () => {
      await client.create('/s');
      const watch = await client.addWatch('/s', { recursive: true });
      const { events } = collect(watch);
      await client.create('/s/before');
      await flush();
      await reconnectAfter(() => {
        ensemble.seed('/app/s/away1');
        ensemble.set('/app/s/away1', 'v');
        ensemble.seed('/app/other');
      });
      await client.create('/s/after');
      await flush();
      expect(brief(events)).toEqual(['NodeCreated /s/before', 'NodeCreated /s/away1', 'NodeDataChanged /s/away1', 'NodeCreated /s/after']);
      const setWatches = ensemble.open(1)[0]?.requests[0];
      expect(setWatches?.args).toMatchObject({ persistentRecursive: ['/app/s'], persistent: [] });
      await watch.close();
    });

    it('drops events the member replays twice (dedupe by zxid, type and path)', async () => {
      await client.create('/s');
      const watch = await client.addWatch('/s', { recursive: true });
      const { events } = collect(watch);
      await client.create('/s/a');
      await client.create('/s/b');
      await flush();
      // The next member replays from zxid 0: everything above was already delivered.
      ensemble.intercept = (r) => {
        if (r.op === 'setWatches') r.args['lastZxid'] = 0;
        return undefined;
      };
      await reconnectAfter(() => ensemble.seed('/app/s/c'));
      await flush();
      expect(brief(events)).toEqual(['NodeCreated /s/a', 'NodeCreated /s/b', 'NodeCreated /s/c']);
      await watch.close();
    });

    it("yields a resync event when the member's window no longer reaches back", async () => {
      await client.create('/s');
      const watch = await client.addWatch('/s');
      const { events } = collect(watch);
      await reconnectAfter(() => {
        ensemble.set('/app/s', 'lost in the gap');
        ensemble.truncateWindow();
      });
      await client.setData('/s', 'after');
      await flush();
      expect(events.map((e) => e.type)).toEqual(['resync', 'NodeDataChanged']);
      expect(events[0]).toEqual({ type: 'resync', path: '/s', zxid: expect.any(Number) as unknown });
      await watch.close();
    });

    it('leaving the loop removes the watch on the member, unless another local watch needs it', async () => {
      const a = await client.addWatch('/w');
      const b = await client.addWatch('/w');
      const seen: WatchEvent['type'][] = [];
      await client.create('/w');
      for await (const event of a) {
        seen.push(event.type as WatchEvent['type']);
        break;
      }
      await flush();
      expect(ensemble.allRequests().filter((r) => r.op === 'removeWatches')).toHaveLength(0);
      const { events } = collect(b);
      await client.setData('/w', 'x');
      await flush();
      expect(brief(events)).toEqual(['NodeCreated /w', 'NodeDataChanged /w']);
      await b.close();
      expect(
        ensemble
          .allRequests()
          .filter((r) => r.op === 'removeWatches')
          .map((r) => r.args),
      ).toEqual([{ path: '/app/w', type: WatcherType.Persistent }]);
      expect(ensemble.open(0)[0]?.watches.persistent.size).toBe(0);
      expect(seen).toEqual(['NodeCreated']);
    });

    it('a watch closed before the member acknowledged it is removed when the acknowledgement arrives', async () => {
      const watch = client.watch('/early', { recursive: true });
      await watch.close();
      await watch.ready;
      await flush();
      expect(ensemble.allRequests().map((r) => r.op)).toEqual(['addWatch', 'removeWatches']);
      expect(ensemble.open(0)[0]?.watches.recursive.size).toBe(0);
    });

    it('removeWatches(Persistent) ends the iterators', async () => {
      const watch = await client.addWatch('/w');
      const { done } = collect(watch);
      await client.removeWatches('/w', 'Persistent');
      expect(await done).toBe('ended');
    });

    it('a bad path ends the iteration with BadArgumentsError', async () => {
      const watch = client.watch('no-slash');
      await expect(watch.ready).rejects.toBeInstanceOf(BadArgumentsError);
      expect(await collect(watch).done).toBeInstanceOf(BadArgumentsError);
    });

    it('session expiry ends every iterator with SessionExpiredError', async () => {
      const w1 = await client.addWatch('/a');
      const w2 = await client.addWatch('/b', { recursive: true });
      const c1 = collect(w1);
      const c2 = collect(w2);
      ensemble.expireSession(client.sessionId);
      expect(await c1.done).toBeInstanceOf(SessionExpiredError);
      expect(await c2.done).toBeInstanceOf(SessionExpiredError);
      expect(((await c1.done) as Error).message).toMatch(/^watch \/a: the session is lost/);
      // A watch asked for after the end fails at once.
      expect(await collect(client.watch('/c')).done).toBeInstanceOf(SessionExpiredError);
    });

    it('close ends every iterator normally', async () => {
      const watch = await client.addWatch('/a');
      const { done } = collect(watch);
      await client.close();
      expect(await done).toBe('ended');
    });
  });
});
