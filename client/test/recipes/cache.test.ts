import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ArborClient, SessionExpiredError } from '../../src/index.js';
import { NodeCache, TreeCache } from '../../src/recipes/cache/index.js';
import type { CacheEvent } from '../../src/recipes/cache/index.js';
import { FakeEnsemble, connectString } from '../helpers/fake-ensemble.js';
import { advanceUntil, inOrder, until } from '../helpers/harness.js';

const newClient = (ensemble: FakeEnsemble): ArborClient =>
  new ArborClient(connectString(3), { transport: ensemble.transport, random: inOrder, sessionTimeoutMs: 9000 });

const text = (bytes: Uint8Array | null | undefined): string | null | undefined =>
  bytes === undefined ? undefined : bytes === null ? null : new TextDecoder().decode(bytes);

/** The fake ensemble's subtree at `root`: path → [data, mzxid]. */
function treeOf(ensemble: FakeEnsemble, root: string): Map<string, [string | null, number]> {
  const out = new Map<string, [string | null, number]>();
  for (const [path, node] of ensemble.nodes) {
    if (path === root || path.startsWith(`${root}/`)) out.set(path, [text(node.data) as string | null, node.stat.mzxid]);
  }
  return out;
}

/** The cache's view in the same shape. */
function viewOf(cache: TreeCache): Map<string, [string | null, number]> {
  return new Map(cache.nodes().map((n) => [n.path, [text(n.bytes) as string | null, n.stat.mzxid]]));
}

const sameTree = (ensemble: FakeEnsemble, cache: TreeCache, root: string): boolean =>
  JSON.stringify([...treeOf(ensemble, root)].sort()) === JSON.stringify([...viewOf(cache)].sort());

/** Replays change events onto a map: what a consumer that only listens would hold. */
function replay(events: CacheEvent<Uint8Array | null>[]): Map<string, [string | null, number]> {
  const out = new Map<string, [string | null, number]>();
  for (const e of events) {
    if (e.type === 'removed') out.delete(e.path);
    else out.set(e.path, [text(e.data) as string | null, e.stat.mzxid]);
  }
  return out;
}

/** Per node: events alternate correctly (added first, nothing after removed until added) and mzxid grows. */
function checkOrder(events: CacheEvent<unknown>[]): void {
  const last = new Map<string, { type: string; mzxid: number; czxid: number }>();
  for (const e of events) {
    const before = last.get(e.path);
    if (e.type === 'added') expect(before === undefined || before.type === 'removed').toBe(true);
    else expect(before !== undefined && before.type !== 'removed').toBe(true);
    if (e.type === 'updated' && before !== undefined) {
      expect(e.stat.czxid).toBe(before.czxid);
      expect(e.stat.mzxid).toBeGreaterThan(before.mzxid);
    }
    if (e.type === 'added' && before !== undefined) expect(e.stat.czxid).toBeGreaterThan(before.czxid);
    last.set(e.path, { type: e.type, mzxid: e.stat.mzxid, czxid: e.stat.czxid });
  }
}

describe('TreeCache', () => {
  let ensemble: FakeEnsemble;
  let clients: ArborClient[];
  beforeEach(async () => {
    vi.useFakeTimers();
    ensemble = new FakeEnsemble(3);
    clients = [newClient(ensemble)];
    await until(() => clients.every((c) => c.state === 'connected'), 'connected');
  });
  afterEach(async () => {
    await Promise.all(clients.map((c) => c.close()));
    vi.useRealTimers();
  });

  it('loads the subtree (parents before children), then follows creates, sets and deletes', async () => {
    ensemble.seed('/app/a/x', 'ax');
    ensemble.seed('/app/b', 'b');
    ensemble.seed('/other', 'o');
    const cache = new TreeCache(clients[0] as ArborClient, '/app', { decode: 'string' });
    const events: CacheEvent<string | null>[] = [];
    cache.on('change', (e) => events.push(e));
    await cache.start({ timeoutMs: 1000 });
    expect(cache.state).toBe('live');
    expect(events.map((e) => `${e.type} ${e.path}`)).toEqual(['added /app', 'added /app/a', 'added /app/a/x', 'added /app/b']);
    expect(cache.current('/app/a/x')?.data).toBe('ax');
    expect(cache.children('/app')).toEqual(['a', 'b']);
    expect(cache.current('/other')).toBeUndefined();
    events.length = 0;
    ensemble.set('/app/b', 'b2');
    ensemble.seed('/app/c', 'c');
    ensemble.remove('/app/a/x');
    ensemble.set('/other', 'o2');
    await until(() => events.length === 3, 'three events');
    expect(events.map((e) => `${e.type} ${e.path} ${e.data}`)).toEqual(['updated /app/b b2', 'added /app/c c', 'removed /app/a/x ax']);
    expect(events[0]?.previous?.data).toBe('b');
    expect(cache.children('/app')).toEqual(['a', 'b', 'c']);
    expect(cache.children('/app/a')).toEqual([]);
    expect(sameTree(ensemble, cache as unknown as TreeCache, '/app')).toBe(true);
    await cache.close();
    expect(cache.state).toBe('closed');
  });

  it('respects maxDepth and typed JSON; a decode failure is reported on the node, not thrown', async () => {
    ensemble.seed('/svc/a', '{"port":1}');
    ensemble.seed('/svc/a/deep', '{}');
    ensemble.seed('/svc/bad', 'not json');
    const cache = new TreeCache<{ port: number } | null>(clients[0] as ArborClient, '/svc', { decode: 'json', maxDepth: 1 });
    await cache.start({ timeoutMs: 1000 });
    expect(cache.current('/svc/a')?.data).toEqual({ port: 1 });
    expect(cache.current('/svc')?.data).toBeNull();
    expect(cache.current('/svc/a/deep')).toBeUndefined();
    expect(cache.current('/svc/bad')?.data).toBeUndefined();
    expect(cache.current('/svc/bad')?.decodeError).toBeInstanceOf(SyntaxError);
    ensemble.seed('/svc/a/deeper', '{}');
    ensemble.set('/svc/a', '{"port":2}');
    await until(() => cache.current('/svc/a')?.data?.port === 2, 'update');
    expect(cache.current('/svc/a/deeper')).toBeUndefined();
    await cache.close();
  });

  it('fast-check: after random creates, sets and deletes (with reconnects and resyncs), the cache equals the tree and its events replay to it', async () => {
    type Cmd =
      | { op: 'create'; parent: number; name: string; data: string }
      | { op: 'set'; target: number; data: string }
      | { op: 'delete'; target: number }
      | { op: 'recreate'; target: number }
      | { op: 'kill' }
      | { op: 'resync' }
      | { op: 'settle' };
    const cmd: fc.Arbitrary<Cmd> = fc.oneof(
      {
        weight: 4,
        arbitrary: fc.record({
          op: fc.constant('create' as const),
          parent: fc.nat(),
          name: fc.constantFrom('a', 'b', 'c'),
          data: fc.string({ maxLength: 3 }),
        }),
      },
      { weight: 4, arbitrary: fc.record({ op: fc.constant('set' as const), target: fc.nat(), data: fc.string({ maxLength: 3 }) }) },
      { weight: 3, arbitrary: fc.record({ op: fc.constant('delete' as const), target: fc.nat() }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('recreate' as const), target: fc.nat() }) },
      { weight: 1, arbitrary: fc.constant({ op: 'kill' as const }) },
      { weight: 1, arbitrary: fc.constant({ op: 'resync' as const }) },
      { weight: 2, arbitrary: fc.constant({ op: 'settle' as const }) },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(cmd, { minLength: 1, maxLength: 30 }), fc.boolean(), async (cmds, preload) => {
        const fake = new FakeEnsemble(3);
        const client = newClient(fake);
        await until(() => client.state === 'connected', 'connected');
        if (preload) {
          fake.seed('/root/a/b', 'x');
          fake.seed('/root/c', 'y');
        }
        const cache = new TreeCache(client, '/root');
        const events: CacheEvent<Uint8Array | null>[] = [];
        cache.on('change', (e) => events.push(e));
        await cache.start();
        const paths = (): string[] => [...fake.nodes.keys()].filter((p) => p === '/root' || p.startsWith('/root/')).sort();
        const leaves = (): string[] => paths().filter((p) => (fake.nodes.get(p)?.children.size ?? 0) === 0);
        const killed: number[] = [];
        for (const c of cmds) {
          const all = paths();
          switch (c.op) {
            case 'create': {
              const parents = all.length === 0 ? ['/'] : all;
              const parent = parents[c.parent % parents.length] as string;
              const path = parent === '/' ? '/root' : `${parent}/${c.name}`;
              if (!fake.nodes.has(path)) fake.seed(path, c.data);
              break;
            }
            case 'set':
              if (all.length > 0) fake.set(all[c.target % all.length] as string, c.data);
              break;
            case 'delete': {
              const candidates = leaves();
              if (candidates.length > 0) fake.remove(candidates[c.target % candidates.length] as string);
              break;
            }
            case 'recreate': {
              const candidates = leaves();
              if (candidates.length === 0) break;
              const path = candidates[c.target % candidates.length] as string;
              fake.remove(path);
              fake.seed(path, 'again');
              break;
            }
            case 'kill': {
              const member = fake.open().find((x) => x.session?.id === client.sessionId)?.member;
              if (member !== undefined && killed.length < 2) {
                fake.kill(member);
                killed.push(member);
              }
              break;
            }
            case 'resync':
              fake.truncateWindow();
              break;
            case 'settle':
              await advanceUntil(() => sameTree(fake, cache, '/root'), 'cache settles', 30_000);
              break;
          }
        }
        await advanceUntil(() => client.state === 'connected' || client.state === 'reconnected', 'reconnected', 30_000);
        await advanceUntil(() => sameTree(fake, cache, '/root'), 'cache equals the tree', 30_000);
        expect(JSON.stringify([...replay(events)].sort())).toBe(JSON.stringify([...viewOf(cache)].sort()));
        checkOrder(events);
        expect(cache.staleReads).toBe(0);
        await cache.close();
        await client.close();
      }),
      { numRuns: 60 },
    );
  });

  it('keeps a child of the new incarnation read before its re-created parent (found by fast-check)', async () => {
    // The parent is deleted and created again, then a child is created under it, all before the
    // cache reads: the child's event is read first (it was already dirty), then the parent's,
    // whose new czxid must take only the old incarnation's descendants with it.
    ensemble.seed('/root/a/b', 'x');
    ensemble.seed('/root/c', 'y');
    const cache = new TreeCache(clients[0] as ArborClient, '/root', { decode: 'string' });
    const events: string[] = [];
    cache.on('change', (e) => events.push(`${e.type} ${e.path}`));
    await cache.start();
    events.length = 0;
    ensemble.remove('/root/a/b');
    ensemble.remove('/root/a');
    ensemble.remove('/root/c');
    ensemble.remove('/root');
    ensemble.seed('/root', 'again');
    ensemble.seed('/root/a', '');
    await advanceUntil(() => sameTree(ensemble, cache as unknown as TreeCache, '/root'), 'cache equals the tree', 30_000);
    expect(cache.children('/root')).toEqual(['a']);
    expect(events).toContain('added /root/a');
    expect(events.at(-1)).toBe('added /root');
    expect(cache.staleReads).toBe(0);
    await cache.close();
  });

  it('reloads on resync and emits only the difference', async () => {
    const client = clients[0] as ArborClient;
    ensemble.seed('/r/a', '1');
    ensemble.seed('/r/b', '1');
    const cache = new TreeCache(client, '/r', { decode: 'string' });
    await cache.start();
    const events: string[] = [];
    cache.on('change', (e) => events.push(`${e.type} ${e.path} ${e.data}`));
    const member = ensemble.open().find((c) => c.session?.id === client.sessionId)?.member as number;
    ensemble.kill(member);
    ensemble.set('/r/a', '2');
    ensemble.remove('/r/b');
    ensemble.seed('/r/c', '3');
    ensemble.truncateWindow();
    await advanceUntil(() => events.length === 3, 'diff after resync');
    expect(events).toEqual(['removed /r/b 1', 'updated /r/a 2', 'added /r/c 3']);
    expect(sameTree(ensemble, cache as unknown as TreeCache, '/r')).toBe(true);
    await cache.close();
  });

  it('is suspended while disconnected and applies what was missed on reconnection', async () => {
    const client = clients[0] as ArborClient;
    ensemble.seed('/s/a', '1');
    const cache = new TreeCache(client, '/s', { decode: 'string' });
    await cache.start();
    const member = ensemble.open().find((c) => c.session?.id === client.sessionId)?.member as number;
    ensemble.kill(member);
    await until(() => cache.state === 'suspended', 'suspended');
    expect(cache.current('/s/a')?.data).toBe('1');
    ensemble.set('/s/a', '2');
    await advanceUntil(() => cache.current('/s/a')?.data === '2', 'missed change applied');
    expect(cache.state).toBe('live');
    await cache.close();
  });

  it('ends on session loss with the error, and rebind continues on a new client with only the differences', async () => {
    const client = clients[0] as ArborClient;
    ensemble.seed('/l/a', '1');
    ensemble.seed('/l/b', '1');
    const cache = new TreeCache(client, '/l', { decode: 'string' });
    await cache.start();
    const ended: Error[] = [];
    cache.on('end', (e) => ended.push(e));
    const events: string[] = [];
    cache.on('change', (e) => events.push(`${e.type} ${e.path} ${e.data}`));
    ensemble.expireSession(client.sessionId);
    await until(() => cache.state === 'ended', 'ended');
    expect(ended[0]).toBeInstanceOf(SessionExpiredError);
    expect(cache.error).toBe(ended[0]);
    expect(cache.current('/l/a')?.data).toBe('1');
    ensemble.set('/l/a', '2');
    const next = newClient(ensemble);
    clients.push(next);
    await until(() => next.state === 'connected', 'new client');
    cache.rebind(next);
    await until(() => cache.state === 'live' && events.length === 1, 'rebound');
    expect(events).toEqual(['updated /l/a 2']);
    ensemble.seed('/l/c', '3');
    await until(() => events.length === 2, 'follows on the new client');
    expect(events[1]).toBe('added /l/c 3');
    await cache.close();
  });

  it('start() times out (RecipeTimeoutError) while the ensemble does not answer; ready rejects on close', async () => {
    const client = clients[0] as ArborClient;
    for (const m of [0, 1, 2]) ensemble.silence(m);
    const cache = new TreeCache(client, '/t');
    const outcome = cache.start({ timeoutMs: 500 }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(500);
    expect(((await outcome) as Error).name).toBe('RecipeTimeoutError');
    await cache.close();
    await expect(cache.ready).rejects.toThrow(/closed/);
    for (const m of [0, 1, 2]) ensemble.revive(m);
    await advanceUntil(() => client.state === 'reconnected', 'reconnected after the silence');
  });
});

describe('NodeCache', () => {
  let ensemble: FakeEnsemble;
  let client: ArborClient;
  beforeEach(async () => {
    vi.useFakeTimers();
    ensemble = new FakeEnsemble(3);
    client = newClient(ensemble);
    await until(() => client.state === 'connected', 'connected');
  });
  afterEach(async () => {
    await client.close();
    vi.useRealTimers();
  });

  it('follows one node through creation, updates, deletion and re-creation, in order, ignoring its children', async () => {
    const cache = new NodeCache<{ v: number } | null>(client, '/cfg/node', { decode: 'json' });
    const events: string[] = [];
    cache.on('change', (e) => events.push(`${e.type} ${JSON.stringify(e.data)}`));
    await cache.start({ timeoutMs: 1000 });
    expect(cache.current()).toBeUndefined();
    ensemble.seed('/cfg/node', '{"v":1}');
    await until(() => cache.data?.v === 1, 'created');
    ensemble.seed('/cfg/node/child', '{}');
    for (let v = 2; v <= 5; v++) ensemble.set('/cfg/node', `{"v":${v}}`);
    await until(() => cache.data?.v === 5, 'updated');
    ensemble.remove('/cfg/node/child');
    ensemble.remove('/cfg/node');
    await until(() => cache.current() === undefined, 'deleted');
    ensemble.seed('/cfg/node', '{"v":7}');
    await until(() => cache.data?.v === 7, 'recreated');
    expect(events[0]).toBe('added {"v":1}');
    expect(events.at(-2)).toBe('removed {"v":5}');
    expect(events.at(-1)).toBe('added {"v":7}');
    const updates = events.filter((e) => e.startsWith('updated')).map((e) => (JSON.parse(e.slice(8)) as { v: number }).v);
    expect(updates).toEqual([...updates].sort((a, b) => a - b));
    expect(updates.at(-1)).toBe(5);
    // Only the node is watched: no recursive watch on the member.
    const connection = ensemble.open().find((c) => c.session?.id === client.sessionId);
    expect(connection?.watches.recursive.size).toBe(0);
    expect(connection?.watches.persistent.has('/cfg/node')).toBe(true);
    await cache.close();
  });
});
