import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ArborClient, LeaderLatch, Mutex, ReadWriteLock, Semaphore, ServiceDiscovery, participantsOf } from '../../src/index.js';
import { Shell } from '../../src/shell/shell.js';
import type { Status } from '../../src/shell/shell.js';
import { FakeEnsemble, connectString } from '../helpers/fake-ensemble.js';
import { flush, inOrder, until } from '../helpers/harness.js';

/** The ensemble's (fake) clock when every node of a test is made, and the shell's "now". */
const T0 = Date.UTC(2026, 0, 2, 3, 4, 5);
const WAITED_MS = 61_000;

interface Run {
  status: Status;
  out: string[];
  err: string[];
}

/** Protected-create markers carry a random UUID; tests compare names without it. */
const plain = (text: string): string => text.replace(/_c_[0-9a-f-]{36}-/g, '_c_UUID-');
const hexOf = (n: number): string => `0x${n.toString(16)}`;

describe('shell lock, election and services over recipes on a fake ensemble', () => {
  let ensemble: FakeEnsemble;
  let clients: ArborClient[];
  beforeEach(async () => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
    ensemble = new FakeEnsemble(3);
    clients = Array.from(
      { length: 4 },
      () => new ArborClient(connectString(3), { transport: ensemble.transport, random: inOrder, sessionTimeoutMs: 9000 }),
    );
    await until(() => clients.every((c) => c.state === 'connected'), 'all connected');
  });
  afterEach(async () => {
    await Promise.all(clients.map((c) => c.close()));
    vi.useRealTimers();
  });

  const client = (i: number): ArborClient => clients[i] as ArborClient;

  async function run(script: string, format: 'text' | 'json' = 'text'): Promise<Run> {
    const out: string[] = [];
    const err: string[] = [];
    const shell = new Shell(client(3), {
      format,
      output: { out: (t) => out.push(t), err: (t) => err.push(t) },
      now: () => T0 + WAITED_MS,
    });
    return { status: await shell.run(script), out, err };
  }

  const json = async (script: string): Promise<Record<string, unknown>> => {
    const r = await run(script, 'json');
    expect(r.err).toEqual([]);
    expect(r.out).toHaveLength(1);
    return JSON.parse(r.out[0] as string) as Record<string, unknown>;
  };

  /** Waits (microtasks only) until `path` shows `n` participants. */
  const participants = async (path: string, n: number): Promise<void> => {
    for (let i = 0; i < 200; i++) {
      const view = await participantsOf(client(3), path);
      if (view.holders.length + view.waiters.length === n) return;
      await flush();
    }
    throw new Error(`never ${n} participants at ${path}`);
  };

  it('lock: a mutex holder and its waiters, with sessions in hex, waited time, tokens and node names', async () => {
    const held = await new Mutex(client(0), '/locks/db').acquire();
    const pending = [1, 2].map((i) => new Mutex(client(i), '/locks/db').acquire());
    await participants('/locks/db', 3);
    const r = await run('lock /locks/db');
    expect(r.status).toBe('ok');
    expect(r.err).toEqual([]);
    const [s0, s1, s2] = [0, 1, 2].map((i) => hexOf(client(i).sessionId));
    expect(plain(r.out[0] as string)).toBe(
      [
        '/locks/db: mutex, 1 holder, 2 waiters',
        'ROLE    SESSION  WAITED  TOKEN  NODE',
        `holder  ${s0}   1m01s   0      _c_UUID-lock-0000000000`,
        `waiter  ${s1}   1m01s   1      _c_UUID-lock-0000000001`,
        `waiter  ${s2}   1m01s   2      _c_UUID-lock-0000000002`,
      ].join('\n'),
    );
    const doc = await json('lock /locks/db');
    expect(doc).toMatchObject({ command: 'lock', path: '/locks/db', kind: 'mutex' });
    expect(doc['holders']).toEqual([
      {
        role: 'holder',
        name: expect.stringMatching(/-lock-0000000000$/),
        path: expect.stringMatching(/^\/locks\/db\/_c_.*-lock-0000000000$/),
        sequence: 0,
        fencingToken: held.fencingToken,
        sessionId: client(0).sessionId,
        session: s0,
        createdAtMs: T0,
        waitedMs: WAITED_MS,
      },
    ]);
    expect((doc['waiters'] as { session: string; fencingToken: number }[]).map((w) => [w.session, w.fencingToken])).toEqual([
      [s1, 1],
      [s2, 2],
    ]);
    await held.release();
    for (const p of pending) await (await p).release();
    expect(await run('lock /locks/db')).toMatchObject({ status: 'ok', out: ['/locks/db: no holders, no waiters'] });
  });

  it('lock: a read-write lock shows each side (MODE), readers holding together', async () => {
    const r1 = await new ReadWriteLock(client(0), '/locks/rw').acquireRead();
    const r2 = await new ReadWriteLock(client(1), '/locks/rw').acquireRead();
    const w = new ReadWriteLock(client(2), '/locks/rw').acquireWrite();
    await participants('/locks/rw', 3);
    const r = await run('lock /locks/rw');
    expect(r.err).toEqual([]);
    const lines = plain(r.out[0] as string).split('\n');
    expect(lines[0]).toBe('/locks/rw: read-write lock, 2 holders, 1 waiter');
    expect(lines[1]).toBe('ROLE    MODE   SESSION  WAITED  TOKEN  NODE');
    expect(lines.slice(2).map((l) => l.split(/\s+/).slice(0, 2))).toEqual([
      ['holder', 'read'],
      ['holder', 'read'],
      ['waiter', 'write'],
    ]);
    const doc = await json('lock /locks/rw');
    expect(doc['kind']).toBe('readWriteLock');
    expect((doc['waiters'] as { mode: string; sessionId: number }[]).map((e) => [e.mode, e.sessionId])).toEqual([
      ['write', client(2).sessionId],
    ]);
    await r1.release();
    await r2.release();
    await (await w).release();
  });

  it('lock: a semaphore shows its leases, payloads, and no token for a waiter yet', async () => {
    const la = await new Semaphore(client(0), '/locks/sem', 2, { payload: 'A' }).acquire();
    const lb = await new Semaphore(client(1), '/locks/sem', 2, { payload: 'B' }).acquire();
    const pending = new Semaphore(client(2), '/locks/sem', 2, { payload: 'C' }).acquire();
    await participants('/locks/sem', 3);
    const r = await run('lock /locks/sem');
    expect(r.err).toEqual([]);
    const lines = plain(r.out[0] as string).split('\n');
    expect(lines[0]).toBe('/locks/sem: semaphore of 2 leases, 2 holders, 1 waiter');
    expect(lines[1]).toMatch(/^ROLE {4}SESSION {2}WAITED {2}TOKEN {2}PAYLOAD {2}NODE$/);
    expect(lines.slice(2).map((l) => l.split(/\s+/).slice(3, 5))).toEqual([
      [String(la.fencingToken), '"A"'],
      [String(lb.fencingToken), '"B"'],
      ['-', '"C"'],
    ]);
    const doc = await json('lock /locks/sem');
    expect(doc).toMatchObject({ kind: 'semaphore', maxLeases: 2 });
    const [waiter] = doc['waiters'] as Record<string, unknown>[];
    expect(waiter).toMatchObject({ role: 'waiter', payload: 'C', sessionId: client(2).sessionId });
    expect(waiter).not.toHaveProperty('fencingToken');
    await la.release();
    const lc = await pending;
    await lb.release();
    await lc.release();
  });

  it('election: the leader with id, payload and session, then the candidates in queue order', async () => {
    const latches = [0, 1, 2].map((i) => new LeaderLatch(client(i), '/election/app', { id: `node-${i}`, payload: { port: 8000 + i } }));
    for (const l of latches) await l.start();
    await (latches[0] as LeaderLatch).awaitLeadership({ timeoutMs: 1000 });
    const r = await run('election /election/app');
    expect(r.err).toEqual([]);
    const s = [0, 1, 2].map((i) => hexOf(client(i).sessionId));
    expect(plain(r.out[0] as string)).toBe(
      [
        `/election/app: leader node-0 (session ${s[0]}, payload {"port":8000}), 2 candidates queued`,
        'ROLE       ID      SESSION  WAITED  TOKEN  PAYLOAD        NODE',
        `leader     node-0  ${s[0]}   1m01s   0      {"port":8000}  _c_UUID-latch-0000000000`,
        `candidate  node-1  ${s[1]}   1m01s   1      {"port":8001}  _c_UUID-latch-0000000001`,
        `candidate  node-2  ${s[2]}   1m01s   2      {"port":8002}  _c_UUID-latch-0000000002`,
      ].join('\n'),
    );
    const doc = await json('election /election/app');
    const leader = await LeaderLatch.leader(client(3), '/election/app');
    expect(doc['leader']).toMatchObject({ id: leader?.id, payload: leader?.payload, sessionId: leader?.sessionId, path: leader?.path });
    expect(doc['leader']).toMatchObject({ session: s[0], waitedMs: WAITED_MS, sequence: 0 });
    expect((doc['candidates'] as { id: string }[]).map((c) => c.id)).toEqual(['node-1', 'node-2']);
    // The leader leaves: the next in line leads.
    await (latches[0] as LeaderLatch).close();
    await (latches[1] as LeaderLatch).awaitLeadership({ timeoutMs: 1000 });
    expect(((await json('election /election/app'))['leader'] as { id: string }).id).toBe('node-1');
    for (const l of latches) await l.close();
    expect(await run('election /election/app')).toMatchObject({ status: 'ok', out: ['/election/app: no leader, no candidates'] });
    expect(await json('election /election/app')).toEqual({ command: 'election', path: '/election/app', leader: null, candidates: [] });
  });

  it('election on a lock path fails with one line that says what the path is', async () => {
    const held = await new Mutex(client(0), '/locks/m').acquire();
    const r = await run('election /locks/m');
    expect(r.status).toBe('failed');
    expect(r.err).toEqual(["election /locks/m: not an election: the path holds a mutex (try 'lock /locks/m')"]);
    await held.release();
  });

  it('services: the names under the discovery root with instance counts, then one service in detail', async () => {
    const discoveries = [0, 1].map((i) => new ServiceDiscovery(client(i)));
    const [d0, d1] = discoveries as [ServiceDiscovery, ServiceDiscovery];
    await d0.register({ name: 'api', id: 'api-1', address: '10.0.0.5', port: 8080, metadata: { zone: 'a' } });
    await d1.register({ name: 'api', id: 'api-2', address: '::1', port: 8081 });
    await d1.register({ name: 'worker', id: 'w-1', address: 'w.example', port: 9000 });
    // A foreign node under the service is not an instance.
    await client(3).create('/services/api/junk', 'not json');
    const list = await run('services');
    expect(list.err).toEqual([]);
    expect(list.out).toEqual(['SERVICE  INSTANCES\napi      3\nworker   1']);
    expect(await json('services')).toEqual({
      command: 'services',
      root: '/services',
      services: [
        { name: 'api', instances: 3 },
        { name: 'worker', instances: 1 },
      ],
    });
    const one = await run('services api');
    expect(one.err).toEqual([]);
    const registered = new Date(T0).toISOString();
    const [s0, s1] = [0, 1].map((i) => hexOf(client(i).sessionId));
    expect(one.out).toEqual([
      [
        'api under /services: 2 instances',
        'ID     ADDRESS        SESSION  REGISTERED                METADATA',
        `api-1  10.0.0.5:8080  ${s0}   ${registered}  {"zone":"a"}`,
        `api-2  [::1]:8081     ${s1}   ${registered}  {}`,
        '(ignored 1 node that is not a service instance: junk)',
      ].join('\n'),
    ]);
    const doc = await json('services api');
    expect(doc).toMatchObject({ command: 'services', root: '/services', service: 'api', path: '/services/api', ignored: ['junk'] });
    expect(doc['instances']).toEqual([
      {
        id: 'api-1',
        name: 'api',
        address: '10.0.0.5',
        port: 8080,
        metadata: { zone: 'a' },
        registeredAt: T0,
        path: '/services/api/api-1',
        sessionId: client(0).sessionId,
        session: s0,
      },
      expect.objectContaining({ id: 'api-2', address: '::1', port: 8081, metadata: {}, sessionId: client(1).sessionId }),
    ]);
    for (const d of discoveries) await d.close();
    expect((await run('services api')).out).toEqual([
      'api under /services: no instances\n(ignored 1 node that is not a service instance: junk)',
    ]);
  });

  it('services --root reads another discovery root', async () => {
    const discovery = new ServiceDiscovery(client(0), { basePath: '/apps/svc' });
    await discovery.register({ name: 'db', id: 'db-1', address: 'db.local', port: 5432 });
    expect((await run('services --root /apps/svc')).out).toEqual(['SERVICE  INSTANCES\ndb       1']);
    expect((await run('services --root=/apps/svc db')).out[0]).toMatch(/^db under \/apps\/svc: 1 instance\nID {4}ADDRESS {8}SESSION/);
    await client(3).create('/empty-root');
    expect((await run('services --root /empty-root')).out).toEqual(['no services under /empty-root']);
    await discovery.close();
  });

  it('a missing path is NONODE: one line naming the command and the path, exit status failed', async () => {
    await client(3).create('/services');
    const cases: [string, string][] = [
      ['lock /nope', 'lock /nope: the node does not exist (NONODE)'],
      ['election /nope', 'election /nope: the node does not exist (NONODE)'],
      ['services --root /nope', 'services /nope: the discovery root does not exist (no service has registered under it) (NONODE)'],
      ['services api', "services /services/api: no service 'api' under /services (NONODE)"],
    ];
    for (const [script, line] of cases) {
      const r = await run(script);
      expect(r.status).toBe('failed');
      expect(r.out).toEqual([]);
      expect(r.err).toEqual([line]);
    }
    const r = await run('lock /nope', 'json');
    expect(JSON.parse(r.out[0] as string)).toEqual({
      command: 'lock',
      path: '/nope',
      error: { code: -101, name: 'NONODE', message: 'the node does not exist' },
    });
  });
});
