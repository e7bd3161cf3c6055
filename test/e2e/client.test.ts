// The SDK (@arbor/client) against real member processes: every API call on a 1-member ensemble,
// and on a 3-member ensemble the failures a client must ride through — its member killed in the
// middle of pipelined requests, every member unreachable for longer than the session timeout,
// changes made while it was away, and a create whose answer was lost.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConnectionLossError,
  NoAuthError,
  NoNodeError,
  NodeExistsError,
  NotEmptyError,
  Perms,
  SessionExpiredError,
  connect,
  digestAcl,
  fromUtf8,
  utf8,
  worldAcl,
  type ArborClient,
  type ConnectionState,
  type PersistentWatchEvent,
} from '@arbor/client';
import { Ensemble, Mode, startProxy, waitFor, type FaultProxy } from '@arbor/testing';

const str = (b: Uint8Array | null): string | null => (b === null ? null : fromUtf8(b));

/** Records every state a client passes through, with the time it got there. */
function recordStates(client: ArborClient): { states: ConnectionState[]; at: Map<ConnectionState, number> } {
  const states: ConnectionState[] = [];
  const at = new Map<ConnectionState, number>();
  client.on('state', (state) => {
    states.push(state);
    at.set(state, performance.now());
  });
  return { states, at };
}

/** The next `n` events of a persistent watch, bounded in time. */
async function take(iterator: AsyncIterator<PersistentWatchEvent>, n: number, timeoutMs = 10_000): Promise<PersistentWatchEvent[]> {
  const events: PersistentWatchEvent[] = [];
  const deadline = AbortSignal.timeout(timeoutMs);
  while (events.length < n) {
    const next = await Promise.race([
      iterator.next(),
      new Promise<never>((_, reject) =>
        deadline.addEventListener('abort', () => reject(new Error(`only ${events.length} of ${n} events`))),
      ),
    ]);
    if (next.done === true) throw new Error(`watch ended after ${events.length} of ${n} events`);
    events.push(next.value);
  }
  return events;
}

describe('the SDK on a 1-member ensemble', () => {
  let ensemble: Ensemble;
  let client: ArborClient;
  beforeAll(async () => {
    ensemble = await Ensemble.start({ members: 1 });
    client = await connect(ensemble.connectString, { sessionTimeoutMs: 10_000 });
  });
  afterAll(async () => {
    await client?.close();
    await ensemble?.stop();
  });

  it('creates every kind of node, with parents, data helpers and create2', async () => {
    expect(await client.create('/kinds/a/b', 'deep', { createParents: true })).toBe('/kinds/a/b');
    expect((await client.getString('/kinds/a/b')).data).toBe('deep');
    expect((await client.exists('/kinds/a'))?.dataLength).toBe(0);
    const { path, stat } = await client.create2('/kinds/p', utf8('x'));
    expect(path).toBe('/kinds/p');
    expect(stat).toMatchObject({ version: 0, dataLength: 1, numChildren: 0, ephemeralOwner: 0 });
    expect(stat.czxid).toBe(stat.mzxid);

    const seq1 = await client.create('/kinds/s-', null, { mode: 'PERSISTENT_SEQUENTIAL' });
    const seq2 = await client.create('/kinds/s-', null, { mode: 'EPHEMERAL_SEQUENTIAL' });
    expect(seq1).toMatch(/^\/kinds\/s-\d{10}$/);
    expect(Number(seq2.slice(-10))).toBe(Number(seq1.slice(-10)) + 1);
    await client.create('/kinds/e', null, { mode: 'EPHEMERAL' });
    expect((await client.exists('/kinds/e'))?.ephemeralOwner).toBe(client.sessionId);
    await expect(client.create('/kinds/e/child', null)).rejects.toMatchObject({ name: 'NoChildrenForEphemeralsError' });

    await client.create('/kinds/ttl', null, { mode: 'PERSISTENT_WITH_TTL', ttlMs: 60_000 });
    await client.create('/kinds/ttl-', null, { mode: 'PERSISTENT_SEQUENTIAL_WITH_TTL', ttlMs: 60_000 });
    await client.create('/kinds/container', null, { mode: 'CONTAINER' });
    await expect(client.create('/kinds/bad-ttl', null, { mode: 'PERSISTENT_WITH_TTL' })).rejects.toMatchObject({
      name: 'BadArgumentsError',
    });

    await client.setJSON('/kinds/p', { v: 2, tags: ['a'] });
    expect((await client.getJSON<{ v: number }>('/kinds/p')).data).toEqual({ v: 2, tags: ['a'] });
    await expect(client.create('/kinds/p', null)).rejects.toBeInstanceOf(NodeExistsError);
    await expect(client.delete('/kinds')).rejects.toBeInstanceOf(NotEmptyError);
    const error = await client.getData('/kinds/missing').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NoNodeError);
    expect((error as Error).message).toContain('/kinds/missing');
    // The op and path are named once (the member's own prefix is not repeated).
    expect((error as Error).message.match(/getData/g)).toHaveLength(1);
  });

  it('lists children in pages and counts descendants', async () => {
    await client.create('/list', null);
    const names = Array.from({ length: 25 }, (_, i) => `n${String(i).padStart(2, '0')}`);
    await Promise.all(names.map((n) => client.create(`/list/${n}`, null)));
    const first = await client.getChildren('/list', { limit: 10 });
    expect(first.children).toEqual(names.slice(0, 10));
    expect(first.more).toBe(true);
    const rest = await client.getChildren('/list', { after: 'n09' });
    expect(rest.children).toEqual(names.slice(10));
    expect(rest.more).toBe(false);
    const pages: string[][] = [];
    for await (const page of client.childrenPages('/list', { pageSize: 7 })) pages.push(page);
    expect(pages.map((p) => p.length)).toEqual([7, 7, 7, 4]);
    expect(pages.flat()).toEqual(names);
    await client.create('/list/n00/x', null);
    expect(await client.getAllChildrenNumber('/list')).toBe(26);
  });

  it('commits transactions all or nothing, and reads several nodes at once', async () => {
    await client.create('/tx', utf8('0'));
    const results = await client.transaction().check('/tx', 0).create('/tx/a', 'a').setData('/tx', '1', 0).commit();
    expect(results).toEqual([
      { op: 'check' },
      { op: 'create', path: '/tx/a' },
      { op: 'setData', stat: expect.objectContaining({ version: 1 }) },
    ]);
    const failure = await client
      .transaction()
      .create('/tx/b', null)
      .setData('/tx', '2', 0) // stale version: the whole transaction fails
      .commit()
      .catch((e: unknown) => e);
    expect(failure).toMatchObject({ name: 'BadVersionError' });
    // Every op's outcome: the create rolled back (reported OK), the setData the one that failed.
    const outcomes = (failure as { transaction?: { index: number; results: { op: string; error?: Error }[] } }).transaction;
    expect(outcomes?.index).toBe(1);
    expect(outcomes?.results.map((r) => [r.op, r.error?.name])).toEqual([
      ['create', undefined],
      ['setData', 'BadVersionError'],
    ]);
    expect(await client.exists('/tx/b')).toBeNull();
    const reads = await client.multiRead([
      { op: 'getData', path: '/tx' },
      { op: 'getChildren', path: '/tx' },
      { op: 'getData', path: '/tx/none' },
    ]);
    expect(reads[0]).toMatchObject({ op: 'getData', stat: { version: 1 } });
    expect(str((reads[0] as { data: Uint8Array }).data)).toBe('1');
    expect(reads[1]).toEqual({ op: 'getChildren', children: ['a'] });
    expect((reads[2] as { error: Error }).error).toBeInstanceOf(NoNodeError);
  });

  it('enforces digest ACLs: the owner reads and writes, others are refused', async () => {
    const ownerAcl = await digestAcl('alice', 'secret');
    await client.addAuth('digest', 'alice:secret');
    expect(await client.whoAmI()).toContainEqual({ scheme: 'digest', id: expect.stringMatching(/^alice:/) });
    await client.create('/secret', 'x', { acl: [ownerAcl, worldAcl(Perms.READ)] });
    const { acl, stat } = await client.getACL('/secret');
    expect(acl).toHaveLength(2);
    expect(stat.aversion).toBe(0);

    const stranger = await connect(ensemble.connectString, { sessionTimeoutMs: 10_000 });
    try {
      expect(str((await stranger.getData('/secret')).data)).toBe('x');
      await expect(stranger.setData('/secret', utf8('y'))).rejects.toBeInstanceOf(NoAuthError);
      await client.setACL('/secret', [ownerAcl], { version: 0 });
      await expect(stranger.getData('/secret')).rejects.toBeInstanceOf(NoAuthError);
      await expect(client.setACL('/secret', [ownerAcl], { version: 0 })).rejects.toMatchObject({ name: 'BadVersionError' });
      expect(str((await client.getData('/secret')).data)).toBe('x');
    } finally {
      await stranger.close();
    }
  });

  it('roots every path in a chroot', async () => {
    await client.create('/apps/one', null, { createParents: true });
    const rooted = await connect(`${ensemble.connectString}/apps/one`, { sessionTimeoutMs: 10_000 });
    try {
      expect(await rooted.create('/cfg', 'v')).toBe('/cfg');
      expect(str((await client.getData('/apps/one/cfg')).data)).toBe('v');
      expect((await rooted.getChildren('/')).children).toEqual(['cfg']);
      const seq = await rooted.create('/q-', null, { mode: 'PERSISTENT_SEQUENTIAL' });
      expect(seq).toMatch(/^\/q-\d{10}$/);
      const watched = await rooted.addWatch('/', { recursive: true });
      await client.setData('/apps/one/cfg', utf8('w'));
      const [event] = await take(watched[Symbol.asyncIterator](), 1);
      expect(event).toMatchObject({ type: 'NodeDataChanged', path: '/cfg' });
      await watched.close();
    } finally {
      await rooted.close();
    }
  });

  it('fires one-shot watches once, persistent watches for every change, and removes them', async () => {
    await client.create('/w', utf8('0'));
    const data = await client.getData('/w', { watch: true });
    const kids = await client.getChildren('/w', { watch: true });
    const absent = await client.exists('/w/later', { watch: true });
    expect(absent.stat).toBeNull();
    const recursive = client.watch('/w', { recursive: true });
    await recursive.ready;
    const events = recursive[Symbol.asyncIterator]();

    await client.setData('/w', utf8('1'));
    await client.create('/w/later', null);
    await client.setData('/w/later', utf8('x'));
    await client.delete('/w/later');
    expect(await data.changed).toMatchObject({ type: 'NodeDataChanged', path: '/w' });
    expect(await kids.changed).toMatchObject({ type: 'NodeChildrenChanged', path: '/w' });
    expect(await absent.changed).toMatchObject({ type: 'NodeCreated', path: '/w/later' });
    const seen = await take(events, 4);
    expect(seen.map((e) => [e.type, e.path])).toEqual([
      ['NodeDataChanged', '/w'],
      ['NodeCreated', '/w/later'],
      ['NodeDataChanged', '/w/later'],
      ['NodeDeleted', '/w/later'],
    ]);
    expect(seen.map((e) => e.zxid)).toEqual([...seen.map((e) => e.zxid)].sort((a, b) => a - b));

    const again = await client.getData('/w', { watch: true });
    await client.checkWatches('/w', 'Data');
    await client.removeWatches('/w', 'Data');
    expect(await again.changed).toMatchObject({ type: 'DataWatchRemoved', path: '/w' });
    await expect(client.checkWatches('/w', 'Data')).rejects.toMatchObject({ name: 'NoWatcherError' });
    await recursive.close();
  });

  it('honours AbortSignal and per-call timeouts', async () => {
    const controller = new AbortController();
    controller.abort(new Error('changed my mind'));
    await expect(client.getData('/w', { signal: controller.signal })).rejects.toThrow('changed my mind');
    // sync through the leader, then a linearizable read that sees it.
    await client.setData('/w', utf8('final'));
    await client.sync('/w', { timeoutMs: 5_000 });
    expect(str((await client.getData('/w', { linearizable: true, timeoutMs: 5_000 })).data)).toBe('final');
  });
});

describe('the SDK on a 3-member ensemble under failures', () => {
  let ensemble: Ensemble;
  let observer: ArborClient;
  beforeAll(async () => {
    ensemble = await Ensemble.start({ members: 3, sessionTimeoutMinMs: 1_000 });
    observer = await connect(ensemble.connectString, { sessionTimeoutMs: 30_000 });
  });
  afterAll(async () => {
    await observer?.close();
    await ensemble?.stop();
  });

  /** Makes sure every member is up (a test before may have killed one). */
  async function allRunning(): Promise<void> {
    for (const slot of ensemble.slots) if (slot.process === null) await ensemble.restart(slot.id);
    await ensemble.waitForLeader();
  }

  it('keeps its session when its member is killed in the middle of 60 pipelined writes; each write applies once', async () => {
    await allRunning();
    const client = await connect(ensemble.connectString, { sessionTimeoutMs: 10_000 });
    const { states } = recordStates(client);
    try {
      await client.create('/pipe', null);
      await client.create('/pipe/mine', null, { mode: 'EPHEMERAL' });
      const sessionId = client.sessionId;
      const member = client.memberId!;
      expect(member).toBeGreaterThan(0);

      const writes = Array.from({ length: 60 }, (_, i) => client.create('/pipe/w-', utf8(String(i)), { mode: 'PERSISTENT_SEQUENTIAL' }));
      // A read in flight when the connection drops is not resent: it fails with CONNECTIONLOSS or succeeds.
      const read = client.getChildren('/pipe').then(
        () => 'answered',
        (e: unknown) => e,
      );
      let answered = 0;
      for (const w of writes) void w.then(() => answered++);
      await ensemble.kill(member);
      // The kill landed in the middle: some answers had not arrived when the member died.
      const answeredBeforeKill = answered;
      expect(answeredBeforeKill).toBeLessThan(60);
      const names = await Promise.all(writes);
      const readOutcome = await read;
      if (readOutcome !== 'answered') expect(readOutcome).toBeInstanceOf(ConnectionLossError);

      expect(client.sessionId).toBe(sessionId);
      expect(client.memberId).not.toBe(member);
      expect(states).toContain('suspended');
      expect(states.at(-1)).toBe('reconnected');
      // Exactly once: 60 distinct names, 60 children, each holding the data of its own call.
      expect(new Set(names).size).toBe(60);
      const { children } = await client.getChildren('/pipe');
      expect(children.filter((c) => c.startsWith('w-'))).toHaveLength(60);
      const datas = await Promise.all(names.map(async (n) => str((await client.getData(n)).data)));
      expect(datas).toEqual(names.map((_, i) => String(i)));
      // Creation order is call order (the session's requests are applied in order).
      expect([...names].sort()).toEqual(names);
      expect((await observer.exists('/pipe/mine'))?.ephemeralOwner).toBe(sessionId);
    } finally {
      await client.close();
    }
  });

  it('reports changes made while it was away through the watches it re-registers on reconnect', async () => {
    await allRunning();
    const client = await connect(ensemble.connectString, { sessionTimeoutMs: 10_000 });
    try {
      await client.create('/away', utf8('0'));
      await client.create('/away/child', null);
      const oneShot = await client.getData('/away', { watch: true });
      // exists() on an existing node: re-armed after the reconnect as a data watch, so the delete is reported.
      const childWatch = await client.exists('/away/child', { watch: true });
      expect(childWatch.stat).not.toBeNull();
      const absentWatch = await client.exists('/away/new', { watch: true });
      expect(absentWatch.stat).toBeNull();
      const persistent = client.watch('/away', { recursive: true });
      await persistent.ready;
      const events = persistent[Symbol.asyncIterator]();
      const member = client.memberId!;
      const suspended = new Promise<void>((resolve) => {
        const off = client.on('state', (s) => s === 'suspended' && (off(), resolve()));
      });
      await ensemble.kill(member);
      await suspended;
      // Changed while the client has no connection at all: it must learn of them from its new member.
      await observer.setData('/away', utf8('1'));
      await observer.delete('/away/child');
      await observer.create('/away/new', null);
      expect(await oneShot.changed).toMatchObject({ type: 'NodeDataChanged', path: '/away' });
      expect(await childWatch.changed).toMatchObject({ type: 'NodeDeleted', path: '/away/child' });
      expect(await absentWatch.changed).toMatchObject({ type: 'NodeCreated', path: '/away/new' });
      const seen = await take(events, 3, 15_000);
      expect(seen.map((e) => [e.type, e.path])).toEqual([
        ['NodeDataChanged', '/away'],
        ['NodeDeleted', '/away/child'],
        ['NodeCreated', '/away/new'],
      ]);
      // And nothing repeated: the next event is the next change, not a replay.
      await observer.setData('/away/new', utf8('x'));
      const [next] = await take(events, 1);
      expect(next).toMatchObject({ type: 'NodeDataChanged', path: '/away/new' });
      await persistent.close();
    } finally {
      await client.close();
    }
  });

  it('resends a protected create whose answer was lost and is answered with the node it made, not a second one', async () => {
    await allRunning();
    const leader = await ensemble.waitForLeader();
    const proxy: FaultProxy = await startProxy({ targetPort: ensemble.slot(leader).clientPort });
    const client = await connect(`127.0.0.1:${proxy.port}`, { sessionTimeoutMs: 10_000 });
    try {
      await observer.create('/protected', null);
      // Requests reach the member; its answers vanish.
      proxy.setMode(Mode.perDirection(Mode.pass, Mode.blackhole));
      const created = client.create('/protected/lock-', null, { mode: 'EPHEMERAL_SEQUENTIAL', protected: true });
      const applied = await waitFor('the create to apply', async () => {
        const { children } = await observer.getChildren('/protected');
        return children.length > 0 ? children : undefined;
      });
      expect(applied).toHaveLength(1);
      // Healing resets the connection that lost bytes: the client reconnects and resends the create
      // under its requestId; the member answers with the node the first copy made.
      proxy.setMode(Mode.pass);
      const path = await created;
      expect(path).toBe(`/protected/${applied[0]}`);
      expect(applied[0]).toMatch(/^_c_[0-9a-f-]{36}-lock-\d{10}$/);
      expect((await observer.getChildren('/protected')).children).toEqual(applied);
      expect((await observer.exists(path))?.ephemeralOwner).toBe(client.sessionId);
    } finally {
      await client.close();
      await proxy.close();
    }
  });

  it('declares its session lost by itself when every member is unreachable, before the ensemble expires it', async () => {
    await allRunning();
    const proxies = await Promise.all(ensemble.slots.map((s) => startProxy({ targetPort: s.clientPort })));
    const client = await connect(proxies.map((p) => `127.0.0.1:${p.port}`).join(','), { sessionTimeoutMs: 2_000 });
    const { states, at } = recordStates(client);
    try {
      await client.create('/partitioned', null, { mode: 'EPHEMERAL' });
      const gone = await observer.exists('/partitioned', { watch: true });
      expect(gone.stat).not.toBeNull();
      for (const p of proxies) p.setMode(Mode.blackhole);
      const deleted = await gone.changed;
      const deletedAt = performance.now();
      expect(deleted).toMatchObject({ type: 'NodeDeleted', path: '/partitioned' });
      await waitFor('the client to call its session lost', async () => (at.has('lost') ? true : undefined), 10_000);
      expect(states).toEqual(['suspended', 'lost']);
      expect(at.get('lost')!).toBeLessThanOrEqual(deletedAt);
      await expect(client.getData('/')).rejects.toBeInstanceOf(SessionExpiredError);
      // Healing does not bring a lost session back: the client stays lost.
      for (const p of proxies) p.setMode(Mode.pass);
      expect(client.state).toBe('lost');
    } finally {
      await client.close();
      await Promise.all(proxies.map((p) => p.close()));
    }
  });
});
