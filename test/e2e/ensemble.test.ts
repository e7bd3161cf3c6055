// Real member processes (the built `arbor server`), real sockets and SQLite files: the client
// SDK against 1- and 3-member ensembles, kill -9 of the leader, restarts, snapshots, wiped data.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import {
  CreateMode,
  ErrorCode,
  Ops,
  PROTOCOL_VERSION,
  decodeConnectReply,
  decodeServerFrame,
  encodeClientFrame,
  type OpName,
  type RequestFrame,
} from '@arbor/protocol';
import { connect } from '@arbor/client';
import { Ensemble, waitFor } from '@arbor/testing';
import { connectTo, str, text } from './clients.js';

describe('a 1-member ensemble', () => {
  let ensemble: Ensemble;
  beforeAll(async () => {
    ensemble = await Ensemble.start({ members: 1 });
  });
  afterAll(async () => ensemble?.stop());

  it('serves every kind of operation over the real protocol', async () => {
    const c = await connectTo(ensemble);
    try {
      expect(await c.create('/one', text('1'))).toBe('/one');
      const seq = await c.create('/one/q-', null, { mode: 'PERSISTENT_SEQUENTIAL' });
      expect(seq).toBe('/one/q-0000000000');
      await c.create('/one/eph', null, { mode: 'EPHEMERAL' });
      expect(await c.getEphemerals('/one')).toEqual(['/one/eph']);
      const { data, stat } = await c.getData('/one');
      expect(str(data)).toBe('1');
      const stat2 = await c.setData('/one', text('2'), { version: stat.version });
      expect(stat2.version).toBe(stat.version + 1);
      await expect(c.setData('/one', text('3'), { version: stat.version })).rejects.toMatchObject({ name: 'BadVersionError' });
      expect((await c.getChildren('/one')).children).toEqual(['eph', 'q-0000000000']);
      expect(await c.getAllChildrenNumber('/one')).toBe(2);
      const results = await c.multi([
        { op: 'create', path: '/one/m', data: null },
        { op: 'setData', path: '/one', data: text('4') },
      ]);
      expect(results).toHaveLength(2);
      await expect(c.multi([{ op: 'create', path: '/one/m', data: null }])).rejects.toMatchObject({ name: 'NodeExistsError' });
      await c.sync('/one');
      expect(str((await c.getData('/one', { linearizable: true })).data)).toBe('4');
      await c.delete('/one/m');
      expect(await c.exists('/one/m')).toBeNull();
      expect((await c.getACL('/one')).acl).toEqual([{ perms: 31, id: { scheme: 'world', id: 'anyone' } }]);
      // The admin port: ready, and the requests just made are counted with their latency.
      const admin = `http://127.0.0.1:${ensemble.slot(1).adminPort}`;
      expect((await fetch(`${admin}/readyz`)).status).toBe(200);
      const metrics = await (await fetch(`${admin}/metrics`)).text();
      expect(metrics).toMatch(/^arbor_requests_total\{op="create"\} [1-9]\d*$/m);
      expect(metrics).toMatch(/^arbor_request_latency_seconds_sum\{op="create"\} \d/m);
    } finally {
      await c.close();
    }
    // The closed session's ephemeral went with it.
    const d = await connectTo(ensemble);
    try {
      expect(await d.exists('/one/eph')).toBeNull();
    } finally {
      await d.close();
    }
  });

  it('keeps acknowledged writes across kill -9 and restart', async () => {
    const c = await connectTo(ensemble);
    const writes = [];
    for (let i = 0; i < 200; i++) writes.push(c.create(`/durable-${i}`, text(String(i))));
    await Promise.all(writes);
    await c.close().catch(() => undefined);
    const before = await ensemble.waitForConvergence();
    await ensemble.kill(1);
    await ensemble.restart(1);
    await ensemble.waitForLeader();
    // The commit index is written lazily (Raft may lose it): the restarted member may apply the
    // last entries only once, as leader again, it commits its first entry. Then it must match.
    await waitFor('the restarted member to reach the state before the kill', async () =>
      (await ensemble.waitForConvergence()) === before ? true : undefined,
    );
    expect(await ensemble.waitForConvergence()).toBe(before);
    const d = await connectTo(ensemble);
    try {
      expect(str((await d.getData('/durable-199')).data)).toBe('199');
    } finally {
      await d.close();
    }
  });
});

describe('a 3-member ensemble', () => {
  let ensemble: Ensemble;
  beforeAll(async () => {
    ensemble = await Ensemble.start({ members: 3, snapshotEveryEntries: 300 });
  });
  afterAll(async () => ensemble?.stop());

  it('replicates writes made through any member, with watches firing on another', async () => {
    const leader = await ensemble.waitForLeader();
    const followers = ensemble.slots.map((s) => s.id).filter((id) => id !== leader);
    const writer = await connectTo(ensemble, [followers[0]!]);
    const watcher = await connectTo(ensemble, [followers[1]!]);
    try {
      await writer.create('/cfg', text('a'));
      // The watcher's member may not have applied the create yet: registered before it, the
      // watch would hear /cfg being created.
      await watcher.sync('/cfg');
      const watch = watcher.watch('/cfg', { recursive: true });
      const events = watch[Symbol.asyncIterator]();
      // The watch is armed once a read after it is answered (requests are answered in order).
      await watcher.exists('/cfg');
      await writer.setData('/cfg', text('b'));
      await writer.create('/cfg/x', null);
      const first = await events.next();
      const second = await events.next();
      expect(first.value).toMatchObject({ type: 'NodeDataChanged', path: '/cfg' });
      expect(second.value).toMatchObject({ type: 'NodeCreated', path: '/cfg/x' });
      // A client never goes back in time: what the writer saw, the watcher's member serves.
      await watcher.sync('/cfg');
      expect(str((await watcher.getData('/cfg')).data)).toBe('b');
      watch.close();
    } finally {
      await writer.close();
      await watcher.close();
    }
    await ensemble.waitForConvergence();
  });

  it('fails over when the leader is killed: sessions and ephemerals survive, writes go on', async () => {
    const leader = await ensemble.waitForLeader();
    const c = await connectTo(ensemble, [leader, ...ensemble.slots.map((s) => s.id).filter((id) => id !== leader)], 10_000);
    try {
      await c.create('/svc', null);
      await c.create('/svc/instance', text('up'), { mode: 'EPHEMERAL' });
      const session = c.sessionId;
      const inflight = Array.from({ length: 50 }, (_, i) =>
        c.create(`/svc/p-${i}`, null).then(
          () => 'ok' as const,
          (e: Error) => e.name,
        ),
      );
      await ensemble.kill(leader);
      const outcomes = await Promise.all(inflight);
      // In-flight writes either succeeded or failed with a connection loss; none failed otherwise.
      for (const o of outcomes) expect(['ok', 'ConnectionLossError']).toContain(o);
      const newLeader = await ensemble.waitForLeader();
      expect(newLeader).not.toBe(leader);
      // The survivors saw their links to the dead leader close and stopped waiting for its
      // heartbeats (the election started without the full timeout; timing is in the benchmarks).
      for (const id of ensemble.slots.map((s) => s.id).filter((id) => id !== leader))
        expect(ensemble.logs(id)).toContain('lost the link to the leader');
      await waitFor(
        'the first write after failover',
        async () => (await c.create('/svc/after', null).then(() => true)) || undefined,
        20_000,
        100,
      );
      expect(c.sessionId).toBe(session);
      expect(await c.exists('/svc/instance')).not.toBeNull();
      // The killed member comes back and catches up.
      await ensemble.restart(leader);
      await ensemble.waitForLeader();
      await ensemble.waitForConvergence();
    } finally {
      await c.close();
    }
  });

  it('catches a member up by snapshot after the log was compacted, and rebuilds a wiped member', async () => {
    const leader = await ensemble.waitForLeader();
    const victim = ensemble.slots.map((s) => s.id).find((id) => id !== leader)!;
    await ensemble.kill(victim);
    const c = await connectTo(ensemble, [leader]);
    try {
      const writes = [];
      for (let i = 0; i < 1_500; i++) writes.push(c.create(`/bulk-${i}`, text(String(i))));
      await Promise.all(writes);
    } finally {
      await c.close();
    }
    await ensemble.restart(victim);
    const digest = await ensemble.waitForConvergence(30_000).catch((e: Error) => {
      throw new Error(`${e.message}\n${ensemble.logs(victim)}\nleader:\n${ensemble.logs(leader)}`);
    });
    expect((await ensemble.status(victim)).znodes).toBe((await ensemble.status(leader)).znodes);
    await ensemble.kill(victim);
    await ensemble.restart(victim, { wipe: true });
    expect(await ensemble.waitForConvergence(30_000)).toBe(digest);
    // 1,500 entries, snapshotEveryEntries 300: intervals grow with the tree (300, then at least
    // the znodes of the last snapshot), so the last one is at least halfway through the writes.
    const saved = await waitFor('a snapshot behind the bulk writes', async () => {
      const last = (await ensemble.status(leader)).lastSnapshot;
      return last !== null && last.index >= 750 ? last : undefined;
    });
    expect(saved?.znodes).toBeGreaterThanOrEqual(600);
    expect(saved?.bytes).toBeGreaterThan(saved?.znodes ?? 0);
    expect(saved?.serializeMs).toBeGreaterThanOrEqual(0);
    expect(saved?.saveMs).toBeGreaterThanOrEqual(0);
  }, 90_000);

  it('expires the session of a client that vanished, removing its ephemerals on every member', async () => {
    const ws = await rawSession(ensemble.slot(await ensemble.waitForLeader()).clientPort, 1_500);
    ws.request(1, 'create', createArgs('/vanish', 'EPHEMERAL'), 1);
    const reply = await ws.next();
    expect(reply).toMatchObject({ kind: 'response', frame: { xid: 1, err: 0 } });
    const observer = await connectTo(ensemble);
    try {
      expect(await observer.exists('/vanish')).not.toBeNull();
      ws.terminate(); // no closeSession: the ensemble only notices the pings stopped
      await waitFor(
        'the ephemeral of the vanished session to go',
        async () => ((await observer.exists('/vanish')) === null ? true : undefined),
        15_000,
        100,
      );
    } finally {
      await observer.close();
    }
    await ensemble.waitForConvergence();
  });

  it('SIGTERM of the leader: it hands over and exits 0, nothing acknowledged is lost, its clients move with their sessions', async () => {
    const leader = await ensemble.waitForLeader();
    const others = ensemble.slots.map((s) => s.id).filter((id) => id !== leader);
    // Members tried in the written order (a random source that never shuffles): the leader first.
    const cs = [leader, ...others].map((id) => `127.0.0.1:${ensemble.slot(id).clientPort}`).join(',');
    const c = await connect(cs, { sessionTimeoutMs: 10_000, random: () => 0.999_999 });
    expect(c.memberId).toBe(leader);
    const observer = await connectTo(ensemble, others);
    const states: string[] = [];
    c.on('state', (state) => states.push(state));
    try {
      await c.create('/term', null);
      await c.create('/term/mine', null, { mode: 'EPHEMERAL' });
      const acknowledged: string[] = [];
      let running = true;
      const writer = (async () => {
        for (let i = 0; running; i++) {
          // A write refused in the hand-over window is retried; only acknowledged ones are counted.
          await c.create(`/term/n${i}`, null).then(
            (p) => acknowledged.push(p),
            () => new Promise((r) => setTimeout(r, 20)),
          );
        }
      })();
      await waitFor('writes before the SIGTERM', () => (acknowledged.length >= 20 ? true : undefined));
      expect(await ensemble.terminate(leader)).toBe(0);
      const atTerm = acknowledged.length;
      await waitFor('writes after the SIGTERM', () => (acknowledged.length >= atTerm + 20 ? true : undefined), 20_000);
      running = false;
      await writer;
      expect(await ensemble.waitForLeader()).not.toBe(leader);
      const { children } = await observer.getChildren('/term');
      for (const path of acknowledged) expect(children).toContain(path.slice('/term/'.length));
      expect(children).toContain('mine');
      expect(states).toEqual(['suspended', 'reconnected']);
    } finally {
      await c.close();
      await observer.close();
      // The suites after this one need all three members.
      if (ensemble.slot(leader).process === null) await ensemble.restart(leader);
    }
    await ensemble.waitForConvergence();
  });

  it('a request flood from one connection meets back-pressure; the member stays up and serves another client meanwhile', async () => {
    const id = ensemble.slots[0]!.id;
    const flood = await rawSession(ensemble.slot(id).clientPort, 10_000);
    const other = await connectTo(ensemble, [id]);
    try {
      await other.create('/flood', null);
      const FLOOD = 20_000;
      // Sent without reading a single answer: the member must bound what it holds for this connection.
      for (let i = 1; i <= FLOOD; i++) flood.request(i, 'create', createArgs(`/flood/n${i}`, 'PERSISTENT'), i);
      // Meanwhile another session on the same member is served.
      await other.setData('/flood', text('still here'));
      expect(str((await other.getData('/flood')).data)).toBe('still here');
      // Every flooded request is answered, in order, once the client reads.
      let answered = 0;
      while (answered < FLOOD) {
        const f = await flood.next().catch((e: Error) => {
          throw new Error(`after ${answered} answers (socket state ${flood.socket.readyState}): ${e.message}`);
        });
        if (f.kind !== 'response')
          throw new Error(
            `unexpected ${JSON.stringify(f)} after ${answered} answers\n${ensemble
              .logs(id)
              .split('\n')
              .filter((l) => l.includes('fault'))
              .join('\n')}`,
          );
        answered++;
        expect(f.frame.xid).toBe(answered);
        expect(f.frame.err).toBe(0);
      }
      expect((await other.getChildren('/flood', { limit: 1 })).stat.numChildren).toBe(FLOOD);
    } finally {
      flood.terminate();
      await other.close();
    }
    expect((await ensemble.status(id)).role).not.toBe('');
  }, 90_000);

  it('answers bad input with errors and keeps serving', async () => {
    const port = ensemble.slot(2).clientPort;
    // A protocol version the member does not speak: a clear refusal, then the close.
    const old = new WebSocket(`ws://127.0.0.1:${port}/`);
    await new Promise((r) => old.once('open', r));
    old.send(
      encodeClientFrame({ protocolVersion: 99, sessionId: 0, password: null, timeoutMs: 5000, lastZxid: 0, readOnly: false, auth: [] }),
    );
    const refusal = await new Promise<Uint8Array>((r) => old.once('message', (d: Buffer) => r(new Uint8Array(d))));
    const decoded = decodeConnectReply(refusal);
    expect(decoded.ok && decoded.value.kind === 'refused' && decoded.value.frame.message).toMatch(/protocol version 99/);
    await new Promise((r) => old.once('close', r));
    // Bytes that are no message at all: nothing to answer, so a 'closing' notice and the close.
    const garbage = await rawSession(port, 10_000);
    garbage.socket.send(new Uint8Array([0xc1, 0xff, 0x00, 0x13]));
    expect(await garbage.next()).toMatchObject({ kind: 'notice', frame: { notice: 'closing' } });
    await new Promise((r) => garbage.socket.once('close', r));
    // An invalid path, data over the limit: errors for those requests, and the session stays usable.
    const ws = await rawSession(port, 10_000);
    ws.request(2, 'create', createArgs('no-slash', 'PERSISTENT'), 1);
    ws.request(3, 'create', { ...createArgs('/big', 'PERSISTENT'), data: new Uint8Array(2 * 1024 * 1024) }, 2);
    ws.request(4, 'exists', { path: '/' });
    const frames = [];
    for (let i = 0; i < 3; i++) frames.push(await ws.next());
    const answers = frames.filter((f) => f.kind === 'response').map((f) => (f.kind === 'response' ? [f.frame.xid, f.frame.err] : []));
    expect(answers).toContainEqual([2, ErrorCode.BADARGUMENTS]);
    expect(answers.find((a) => a[0] === 3)?.[1]).not.toBe(0);
    expect(answers).toContainEqual([4, 0]);
    ws.terminate();
    const c = await connectTo(ensemble, [2]);
    try {
      expect(await c.exists('/')).not.toBeNull();
    } finally {
      await c.close();
    }
  });
});

function createArgs(path: string, mode: 'PERSISTENT' | 'EPHEMERAL') {
  return { path, data: null, acl: [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }], mode: CreateMode[mode] };
}

/** A hand-driven connection: handshake for a new session, then frames one by one. */
async function rawSession(port: number, timeoutMs: number) {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/`);
  socket.binaryType = 'nodebuffer';
  const inbox: Uint8Array[] = [];
  let wake: (() => void) | null = null;
  socket.on('message', (d: Buffer) => {
    inbox.push(new Uint8Array(d));
    wake?.();
  });
  await new Promise((r, j) => {
    socket.once('open', r);
    socket.once('error', j);
  });
  const nextBytes = async (): Promise<Uint8Array> => {
    const deadline = Date.now() + 10_000;
    while (inbox.length === 0) {
      if (Date.now() > deadline) throw new Error('no frame from the member within 10 s');
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 100);
      });
    }
    return inbox.shift()!;
  };
  socket.send(
    encodeClientFrame({
      protocolVersion: PROTOCOL_VERSION,
      sessionId: 0,
      password: null,
      timeoutMs,
      lastZxid: 0,
      readOnly: false,
      auth: [],
    }),
  );
  const hello = decodeConnectReply(await nextBytes());
  if (!hello.ok || hello.value.kind !== 'accepted') throw new Error(`handshake failed: ${JSON.stringify(hello)}`);
  const limits = hello.value.frame.limits;
  const sent = new Map<number, OpName>();
  return {
    socket,
    request: (xid: number, name: OpName, args: unknown, requestId?: number) => {
      sent.set(xid, name);
      const frame = { xid, op: Ops[name].code, args, ...(requestId === undefined ? {} : { requestId }) } as RequestFrame;
      socket.send(encodeClientFrame(frame));
    },
    next: async () => {
      const decoded = decodeServerFrame(await nextBytes(), { limits, opOf: (xid) => sent.get(xid) });
      if (!decoded.ok) throw new Error(decoded.message);
      return decoded.value;
    },
    terminate: () => socket.terminate(),
  };
}
