import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Mode, createPeerMesh } from '../src/proxy/index.js';
import type { MemberId, PeerMesh } from '../src/proxy/index.js';
import { connectClient, startEchoServer, waitFor } from './proxy-support.js';
import type { TestServer } from './proxy-support.js';

// Three "members": each peer port greets with its id, so a dial shows whom it reached.
const IDS = [1, 2, 3] as const;
let servers: Map<MemberId, TestServer>;
let mesh: PeerMesh;

beforeEach(async () => {
  servers = new Map(await Promise.all(IDS.map(async (id) => [id, await startEchoServer(`member ${id}`)] as const)));
  mesh = await createPeerMesh(IDS.map((id) => ({ id, peerPort: servers.get(id)!.port })));
});
afterEach(async () => {
  await mesh.close();
  await Promise.all([...servers.values()].map((s) => s.close()));
});

type Reach = 'up' | 'down';
/** Dials `to` the way `from` would and reports whether `to` answered. Links are cut with drop here, so "down" is immediate. */
async function dial(from: MemberId, to: MemberId): Promise<Reach> {
  const c = connectClient(mesh.addressOf(from, to).port);
  try {
    const greeting = `member ${String(to)}`;
    await waitFor(() => c.receivedBytes() >= greeting.length || c.closed(), `${String(from)}→${String(to)} to answer or close`);
    if (c.closed()) return 'down';
    expect(c.received().toString()).toBe(greeting);
    return 'up';
  } finally {
    c.socket.destroy();
  }
}

/** The reachability of every ordered pair, as `from→to`. */
async function matrix(): Promise<Record<string, Reach>> {
  const pairs = IDS.flatMap((from) => IDS.filter((to) => to !== from).map((to) => [from, to] as const));
  const results = await Promise.all(pairs.map(([from, to]) => dial(from, to)));
  return Object.fromEntries(pairs.map(([from, to], i) => [`${from}→${to}`, results[i]!]));
}

const allUp = { '1→2': 'up', '1→3': 'up', '2→1': 'up', '2→3': 'up', '3→1': 'up', '3→2': 'up' };

describe('peer mesh', () => {
  it('gives each member a distinct proxied address for every other member', () => {
    const realPorts = new Set([...servers.values()].map((s) => s.port));
    const ports = new Set<number>();
    for (const from of IDS) {
      const peers = mesh.peersOf(from);
      expect([...peers.keys()].sort()).toEqual(IDS.filter((id) => id !== from));
      for (const address of peers.values()) {
        expect(address.host).toBe('127.0.0.1');
        expect(realPorts.has(address.port)).toBe(false);
        ports.add(address.port);
      }
    }
    expect(ports.size).toBe(6);
    expect(mesh.link(1, 2).target.port).toBe(servers.get(2)!.port);
  });

  it('reaches every member through the mesh when healthy', async () => {
    expect(await matrix()).toEqual(allUp);
    expect(mesh.describe()).toBe('all links pass');
  });

  it('cuts exactly the links between partition groups, both directions', async () => {
    mesh.partition([[1], [2, 3]], Mode.drop);
    expect(await matrix()).toEqual({ '1→2': 'down', '1→3': 'down', '2→1': 'down', '2→3': 'up', '3→1': 'down', '3→2': 'up' });
    mesh.heal();
    expect(await matrix()).toEqual(allUp);
  });

  it('cuts with blackhole by default: the dialled member never hears of the connection', async () => {
    mesh.partition([[1, 3], [2]]);
    expect(
      mesh
        .links()
        .filter((l) => l.mode.kind === 'blackhole')
        .map((l) => `${String(l.from)}→${String(l.to)}`),
    ).toEqual(['1→2', '2→1', '2→3', '3→2']);
    expect(mesh.describe().split('\n')).toEqual(['1→2 blackhole', '2→1 blackhole', '2→3 blackhole', '3→2 blackhole']);
    const acceptedBefore = servers.get(2)!.accepted;
    const c = connectClient(mesh.addressOf(1, 2).port);
    try {
      await waitFor(() => c.connected(), 'the dial to be accepted by the proxy');
      c.socket.write('vote for me');
      await waitFor(() => mesh.link(1, 2).stats().clientToTarget.discardedBytes === 11, 'the message to be discarded');
      expect(servers.get(2)!.accepted).toBe(acceptedBefore);
      expect(c.receivedBytes()).toBe(0);
      // Healing lets the silent connection through, since it lost bytes it is reset; a new dial works.
      mesh.heal();
      await c.waitForClose();
    } finally {
      c.socket.destroy();
    }
    expect(await dial(1, 2)).toBe('up');
  });

  it('isolates one member and leaves the other links alone', async () => {
    mesh.isolate(3, Mode.drop);
    expect(await matrix()).toEqual({ '1→2': 'up', '1→3': 'down', '2→1': 'up', '2→3': 'down', '3→1': 'down', '3→2': 'down' });
  });

  it('sets one directed link', async () => {
    mesh.setMode(1, 2, Mode.drop);
    expect(await matrix()).toEqual({ ...allUp, '1→2': 'down' });
    expect(mesh.link(1, 2).mode).toEqual(Mode.drop);
  });

  it('rejects partitions that are not a partition of the members, and unknown ids', () => {
    expect(() => mesh.partition([[1], [2]])).toThrow(/leaves out 3/);
    expect(() =>
      mesh.partition([
        [1, 2],
        [2, 3],
      ]),
    ).toThrow(/member 2 is in more than one group/);
    expect(() => mesh.partition([[1, 2, 3, 4]])).toThrow(/unknown member 4/);
    expect(() => mesh.isolate(9)).toThrow(/unknown member 9/);
    expect(() => mesh.link(1, 1)).toThrow(/itself/);
    expect(mesh.describe()).toBe('all links pass');
  });
});

describe('peer mesh setup', () => {
  it('refuses duplicate member ids', async () => {
    await expect(
      createPeerMesh([
        { id: 'a', peerPort: 1 },
        { id: 'a', peerPort: 2 },
      ]),
    ).rejects.toThrow(/duplicate member ids/);
  });
});
