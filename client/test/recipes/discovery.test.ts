import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ArborClient } from '../../src/index.js';
import { ServiceDiscovery, randomStrategy, roundRobinStrategy, stickyStrategy } from '../../src/recipes/discovery/index.js';
import type { ServiceInstance } from '../../src/recipes/discovery/index.js';
import { FakeEnsemble, connectString } from '../helpers/fake-ensemble.js';
import { advanceUntil, inOrder, seededRandom, until } from '../helpers/harness.js';

const newClient = (ensemble: FakeEnsemble): ArborClient =>
  new ArborClient(connectString(3), { transport: ensemble.transport, random: inOrder, sessionTimeoutMs: 9000 });

const instance = (id: string): ServiceInstance => ({ id, name: 's', address: 'h', port: 1, metadata: {}, registeredAt: 0 });

describe('selection strategies', () => {
  const list = ['a', 'b', 'c'].map(instance);

  it('round-robin walks the ids in order and continues after the last pick when the list changes', () => {
    const s = roundRobinStrategy();
    expect([1, 2, 3, 4].map(() => s.select(list)?.id)).toEqual(['a', 'b', 'c', 'a']);
    // 'b' vanished: the next after 'a' is 'c'.
    expect(s.select([list[0], list[2]] as ServiceInstance[])?.id).toBe('c');
    expect(s.select([])).toBeUndefined();
  });

  it('random picks every instance over many calls (seeded)', () => {
    const s = randomStrategy(seededRandom(7));
    const seen = new Set(Array.from({ length: 100 }, () => s.select(list)?.id));
    expect([...seen].sort()).toEqual(['a', 'b', 'c']);
  });

  it('sticky keeps its instance while listed and moves only when it vanishes', () => {
    const s = stickyStrategy(randomStrategy(seededRandom(3)));
    const first = s.select(list)?.id as string;
    for (let i = 0; i < 20; i++) expect(s.select(list)?.id).toBe(first);
    const rest = list.filter((i) => i.id !== first);
    const second = s.select(rest)?.id as string;
    expect(second).not.toBe(first);
    // It stays on the new one even when the first comes back.
    for (let i = 0; i < 20; i++) expect(s.select(list)?.id).toBe(second);
  });
});

describe('ServiceDiscovery', () => {
  let ensemble: FakeEnsemble;
  let clients: ArborClient[];
  const add = async (): Promise<ArborClient> => {
    const client = newClient(ensemble);
    clients.push(client);
    await until(() => client.state === 'connected', 'connected');
    return client;
  };
  beforeEach(async () => {
    vi.useFakeTimers();
    ensemble = new FakeEnsemble(3);
    clients = [];
    await add();
    await add();
  });
  afterEach(async () => {
    await Promise.all(clients.map((c) => c.close()));
    vi.useRealTimers();
  });

  it('registers an ephemeral JSON instance; discover, cache, update and unregister', async () => {
    const [a, b] = clients as [ArborClient, ArborClient];
    const server = new ServiceDiscovery(a);
    const observer = new ServiceDiscovery(b);
    const cache = observer.cache('api');
    await cache.start({ timeoutMs: 1000 });
    const changes: string[] = [];
    cache.on('change', (e) => changes.push(`${e.type} ${e.instance.id} ${e.instance.port}`));
    const reg = await server.register({ name: 'api', id: 'i1', address: '10.0.0.1', port: 80, metadata: { zone: 'x' } });
    expect(reg.state).toBe('registered');
    expect(ensemble.nodes.get('/services/api/i1')?.stat.ephemeralOwner).toBe(a.sessionId);
    expect(JSON.parse(ensemble.dataOf('/services/api/i1') as string)).toMatchObject({
      id: 'i1',
      name: 'api',
      address: '10.0.0.1',
      port: 80,
      metadata: { zone: 'x' },
    });
    expect((await observer.instances('api')).map((i) => i.id)).toEqual(['i1']);
    expect(await observer.services()).toEqual(['api']);
    await until(() => cache.instances().length === 1, 'cache sees i1');
    await reg.update({ port: 81 });
    await until(() => cache.get('i1')?.port === 81, 'update seen');
    await reg.unregister();
    await until(() => cache.instances().length === 0, 'gone');
    expect(changes).toEqual(['added i1 80', 'updated i1 81', 'removed i1 81']);
    expect(await observer.instances('api')).toEqual([]);
    expect(await observer.instances('none')).toEqual([]);
    await cache.close();
  });

  it('an instance vanishes from caches when its session expires; without reconnect the registration says it is lost', async () => {
    const [a, b] = clients as [ArborClient, ArborClient];
    const reg = await new ServiceDiscovery(a).register({ name: 'api', id: 'x', address: 'h', port: 1 });
    const cache = new ServiceDiscovery(b).cache('api');
    await cache.start();
    expect(cache.instances().map((i) => i.id)).toEqual(['x']);
    const lost: (Error | undefined)[] = [];
    reg.on('lost', (e) => lost.push(e));
    ensemble.expireSession(a.sessionId);
    await until(() => cache.instances().length === 0, 'vanished');
    await until(() => lost.length === 1, 'lost');
    expect(reg.state).toBe('lost');
    expect(lost[0]?.message).toMatch(/cannot make a new session/);
    await expect(reg.update({ port: 2 })).rejects.toThrow(/lost/);
    await cache.close();
  });

  it('with reconnect, re-registers itself on a new session after loss, and its caches follow', async () => {
    const [a, b] = clients as [ArborClient, ArborClient];
    const discovery = new ServiceDiscovery(a, { reconnect: () => add() });
    const reg = await discovery.register({ name: 'api', id: 'r', address: 'h', port: 1 });
    const ownCache = discovery.cache('api');
    await ownCache.start();
    const observer = new ServiceDiscovery(b).cache('api');
    await observer.start();
    const replaced: ArborClient[] = [];
    discovery.onClientReplaced((c) => replaced.push(c));
    const states: string[] = [];
    for (const s of ['registered', 'suspended', 'lost'] as const) reg.on(s, () => states.push(s));
    ensemble.expireSession(a.sessionId);
    await advanceUntil(() => replaced.length === 1 && reg.state === 'registered', 're-registered');
    const next = replaced[0] as ArborClient;
    expect(discovery.client).toBe(next);
    expect(ensemble.nodes.get('/services/api/r')?.stat.ephemeralOwner).toBe(next.sessionId);
    expect(states).toEqual(['suspended', 'registered']);
    await until(() => observer.get('r') !== undefined && ownCache.get('r') !== undefined && ownCache.state === 'live', 'caches follow');
    await discovery.close();
    expect(reg.state).toBe('unregistered');
    await until(() => observer.instances().length === 0, 'unregistered on close');
    await observer.close();
  });

  it('replaces a stale node of the same id held by an older session (a restart before the old session expired)', async () => {
    const [a, b] = clients as [ArborClient, ArborClient];
    await new ServiceDiscovery(a).register({ name: 'api', id: 'same', address: 'old', port: 1 });
    const reg = await new ServiceDiscovery(b).register({ name: 'api', id: 'same', address: 'new', port: 2 });
    expect(reg.state).toBe('registered');
    expect(ensemble.nodes.get('/services/api/same')?.stat.ephemeralOwner).toBe(b.sessionId);
    expect(JSON.parse(ensemble.dataOf('/services/api/same') as string)).toMatchObject({ address: 'new' });
  });

  it('re-creates its node on reconnection if it was deleted meanwhile', async () => {
    const [a] = clients as [ArborClient];
    const reg = await new ServiceDiscovery(a).register({ name: 'api', id: 'k', address: 'h', port: 1 });
    const member = ensemble.open().find((c) => c.session?.id === a.sessionId)?.member as number;
    ensemble.kill(member);
    await until(() => reg.state === 'suspended', 'suspended');
    ensemble.remove('/services/api/k');
    await advanceUntil(() => reg.state === 'registered' && ensemble.nodes.has('/services/api/k'), 'recreated');
    expect(ensemble.nodes.get('/services/api/k')?.stat.ephemeralOwner).toBe(a.sessionId);
    ensemble.revive(member);
  });

  it('the health hook withdraws the instance while unhealthy and registers it again when healthy', async () => {
    const [a, b] = clients as [ArborClient, ArborClient];
    let healthy = false;
    const reg = await new ServiceDiscovery(a).register({
      name: 'api',
      id: 'h',
      address: 'h',
      port: 1,
      health: async () => healthy,
      healthIntervalMs: 1000,
    });
    expect(reg.state).toBe('withdrawn');
    expect(ensemble.nodes.has('/services/api/h')).toBe(false);
    const cache = new ServiceDiscovery(b).cache('api');
    await cache.start();
    healthy = true;
    await advanceUntil(() => cache.get('h') !== undefined, 'registered when healthy', 5000);
    expect(reg.state).toBe('registered');
    healthy = false;
    await advanceUntil(() => cache.get('h') === undefined, 'withdrawn when unhealthy', 5000);
    expect(reg.state).toBe('withdrawn');
    // Healthy again: registered again.
    healthy = true;
    await advanceUntil(() => reg.state === 'registered', 'back', 5000);
    await reg.unregister();
    await vi.advanceTimersByTimeAsync(3000);
    expect(ensemble.nodes.has('/services/api/h')).toBe(false);
    await cache.close();
  });

  it('a cache provider picks with its strategy from the live list; sticky moves when its instance vanishes', async () => {
    const [a, b] = clients as [ArborClient, ArborClient];
    const server = new ServiceDiscovery(a);
    const regs = await Promise.all(['a', 'b', 'c'].map((id) => server.register({ name: 'p', id, address: id, port: 1 })));
    const cache = new ServiceDiscovery(b).cache('p');
    await cache.start();
    const rr = cache.provider('round-robin');
    expect([1, 2, 3].map(() => rr.get()?.id)).toEqual(['a', 'b', 'c']);
    const sticky = cache.provider('sticky');
    const first = sticky.get()?.id as string;
    expect(sticky.get()?.id).toBe(first);
    await regs.find((r) => r.instance.id === first)?.unregister();
    await until(() => cache.get(first) === undefined, 'vanished');
    const moved = sticky.get()?.id;
    expect(moved).toBeDefined();
    expect(moved).not.toBe(first);
    expect(cache.provider('random').all()).toHaveLength(2);
    await cache.close();
  });
});
