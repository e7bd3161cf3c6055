// Service discovery and config caches against a real 3-member ensemble (member processes, real
// sockets and SQLite), with faults: a client that crashes (its session left to expire) and the
// kill of a member (the one a cache's session is on) while a config node changes.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ArborClient, connect, defaultMemberUrl, webSocketTransport } from '@arbor/client';
import type { TransportFactory, Transport, WebSocketConstructor } from '@arbor/client';
import { NodeCache, TreeCache } from '@arbor/client';
import { ServiceDiscovery } from '@arbor/client';
import type { ServiceCache } from '@arbor/client';
import { Ensemble, waitFor } from '@arbor/testing';

/** Bound on an instance appearing in or vanishing from a cache after the fact (plus the session timeout for a crash). */
const SEEN_WITHIN_MS = 5_000;
const CRASH_SESSION_TIMEOUT_MS = 2_000;

/**
 * A transport that can be cut as a crash would: every socket closed without a closeSession,
 * and every later connection refused, so the session is left to expire on the ensemble.
 */
function crashableTransport(): { transport: TransportFactory; crash(): void } {
  const inner = webSocketTransport(defaultMemberUrl, async () => WebSocket as unknown as WebSocketConstructor);
  const open = new Set<Transport>();
  let crashed = false;
  return {
    transport: (member, handlers) => {
      if (crashed) {
        setTimeout(() => handlers.onClose('crashed'), 0);
        return { send: () => undefined, close: () => undefined };
      }
      const t = inner(member, { ...handlers, onClose: (reason) => (open.delete(t), handlers.onClose(reason)) });
      open.add(t);
      return t;
    },
    crash: () => {
      crashed = true;
      for (const t of [...open]) t.close();
    },
  };
}

/** Polls a synchronous condition (no fixed sleeps), failing after `timeoutMs`. */
function until(what: string, condition: () => boolean, timeoutMs = SEEN_WITHIN_MS): Promise<true> {
  return waitFor(what, async () => (condition() ? true : undefined), timeoutMs);
}

describe('service discovery and config caches on a real 3-member ensemble', () => {
  let ensemble: Ensemble;
  const clients: ArborClient[] = [];
  const client = async (): Promise<ArborClient> => {
    const c = await connect(ensemble.connectString, { sessionTimeoutMs: 8_000 });
    clients.push(c);
    return c;
  };
  beforeAll(async () => {
    ensemble = await Ensemble.start({ members: 3, sessionTimeoutMinMs: 1_000 });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await ensemble?.stop();
  });

  it('instances appear in every cache after registration and vanish after close and after a crash (session expiry)', async () => {
    const observers: ServiceCache[] = [];
    for (let i = 0; i < 2; i++) {
      const cache = new ServiceDiscovery(await client()).cache('api');
      await cache.start({ timeoutMs: 10_000 });
      observers.push(cache);
    }
    const seenBy = (id: string, present: boolean): boolean => observers.every((c) => (c.get(id) !== undefined) === present);

    // Registration.
    const closing = await client();
    const reg = await new ServiceDiscovery(closing).register({ name: 'api', id: 'closing', address: '10.0.0.1', port: 80 });
    let t0 = performance.now();
    await until('registered instance in every cache', () => seenBy('closing', true));
    const appearMs = performance.now() - t0;

    const crash = crashableTransport();
    const doomed = new ArborClient(ensemble.connectString, { transport: crash.transport, sessionTimeoutMs: CRASH_SESSION_TIMEOUT_MS });
    clients.push(doomed);
    await doomed.waitUntilConnected({ timeoutMs: 10_000 });
    const crashing = await new ServiceDiscovery(doomed).register({ name: 'api', id: 'crashing', address: '10.0.0.2', port: 80 });
    await until('second instance in every cache', () => seenBy('crashing', true));
    expect(observers[0]?.instances().map((i) => i.id)).toEqual(['closing', 'crashing']);
    expect(observers[1]?.get('closing')).toMatchObject({ name: 'api', address: '10.0.0.1', port: 80 });

    // Update is seen too.
    await reg.update({ metadata: { version: 2 } });
    await until('update in every cache', () => observers.every((c) => (c.get('closing')?.metadata as { version?: number }).version === 2));

    // Close: the session ends and its ephemeral goes at once.
    t0 = performance.now();
    await closing.close();
    await until('closed instance gone from every cache', () => seenBy('closing', false));
    const closeMs = performance.now() - t0;

    // Crash: the socket goes without a closeSession; the ensemble expires the session.
    const lost: (Error | undefined)[] = [];
    crashing.on('lost', (e) => lost.push(e));
    t0 = performance.now();
    crash.crash();
    await until('crashed instance gone from every cache', () => seenBy('crashing', false), CRASH_SESSION_TIMEOUT_MS + SEEN_WITHIN_MS);
    const crashMs = performance.now() - t0;
    await until('the crashed registration says it is lost', () => lost.length === 1);
    expect(crashing.state).toBe('lost');
    expect(appearMs).toBeLessThan(SEEN_WITHIN_MS);
    expect(closeMs).toBeLessThan(SEEN_WITHIN_MS);
    // Not before the session could have expired on the ensemble, and within its timeout plus the bound.
    expect(crashMs).toBeLessThan(CRASH_SESSION_TIMEOUT_MS + SEEN_WITHIN_MS);
    for (const c of observers) await c.close();
  });

  it('a registration with reconnect re-registers itself on a new session after its session is lost', async () => {
    const observer = new ServiceDiscovery(await client()).cache('svc');
    await observer.start({ timeoutMs: 10_000 });
    const crash = crashableTransport();
    const first = new ArborClient(ensemble.connectString, { transport: crash.transport, sessionTimeoutMs: CRASH_SESSION_TIMEOUT_MS });
    clients.push(first);
    await first.waitUntilConnected({ timeoutMs: 10_000 });
    const discovery = new ServiceDiscovery(first, { reconnect: () => client(), reconnectDelayMs: 200 });
    const reg = await discovery.register({ name: 'svc', id: 'phoenix', address: 'h', port: 1 });
    await until('registered', () => observer.get('phoenix') !== undefined);
    const firstSession = first.sessionId;
    crash.crash();
    await until('re-registered on a new session', () => discovery.client !== first && reg.state === 'registered', 20_000);
    await until('observer sees it again', () => observer.get('phoenix') !== undefined);
    const owner = (await discovery.client.exists('/services/svc/phoenix'))?.ephemeralOwner;
    expect(owner).toBe(discovery.client.sessionId);
    expect(owner).not.toBe(firstSession);
    await discovery.close();
    await until('gone after close', () => observer.get('phoenix') === undefined);
    await observer.close();
  });

  it('config caches see every change in order across the kill of a member (the one a cache is connected to)', async () => {
    const writer = await client();
    await writer.create('/config/app', '0', { createParents: true });
    const nodeCaches = [];
    for (let i = 0; i < 2; i++) {
      const cache = new NodeCache<number>(await client(), '/config/app', { decode: 'json' });
      await cache.start({ timeoutMs: 10_000 });
      nodeCaches.push(cache);
    }
    const tree = new TreeCache<number>(await client(), '/config', { decode: 'json' });
    await tree.start({ timeoutMs: 10_000 });
    const seen: number[][] = [[], [], []];
    const mzxids: number[][] = [[], [], []];
    nodeCaches.forEach((c, i) =>
      c.on('change', (e) => {
        (seen[i] as number[]).push(e.data as number);
        (mzxids[i] as number[]).push(e.stat.mzxid);
      }),
    );
    tree.on('change', (e) => {
      if (e.path !== '/config/app') return;
      (seen[2] as number[]).push(e.data as number);
      (mzxids[2] as number[]).push(e.stat.mzxid);
    });
    const suspensions: string[] = [];
    nodeCaches[0]?.client.on('state', (state) => suspensions.push(state));
    const values = (): (number | undefined)[] => [...nodeCaches.map((c) => c.data), tree.current('/config/app')?.data];

    // Each write waits until every cache has it, so every version must be seen, none skipped.
    const N = 30;
    let killed: number | undefined;
    for (let v = 1; v <= N; v++) {
      if (v === N / 2) {
        // The member holding a cache's session, so that this cache must fail over mid-stream.
        killed = nodeCaches[0]?.client.memberId ?? (await ensemble.waitForLeader());
        await ensemble.kill(killed);
      }
      await writer.setJSON('/config/app', v, { timeoutMs: 20_000 });
      await until(`every cache has ${v}`, () => values().every((x) => x === v), 20_000);
    }
    expect(suspensions).toContain('suspended');
    expect(suspensions).toContain('reconnected');
    const expected = Array.from({ length: N }, (_, i) => i + 1);
    for (let i = 0; i < 3; i++) {
      expect(seen[i]).toEqual(expected);
      const m = mzxids[i] as number[];
      expect(m).toEqual([...m].sort((a, b) => a - b));
      expect(new Set(m).size).toBe(m.length);
    }

    // Then a burst without waiting: versions may be coalesced, never reordered, and the last is seen.
    for (const s of seen) s.length = 0;
    await Promise.all(Array.from({ length: 20 }, (_, i) => writer.setJSON('/config/app', 100 + i)));
    await until('every cache has the last value of the burst', () => values().every((x) => x === 119), 20_000);
    for (const s of seen) {
      expect(s).toEqual([...s].sort((a, b) => a - b));
      expect(s.at(-1)).toBe(119);
    }
    expect(nodeCaches.every((c) => c.state === 'live') && tree.state === 'live').toBe(true);
    for (const c of nodeCaches) await c.close();
    await tree.close();
    if (killed !== undefined) await ensemble.restart(killed);
  });
});
