import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode } from '@arbor/protocol';
import {
  BadArgumentsError,
  BadVersionError,
  InvalidAclError,
  MarshallingError,
  NoNodeError,
  NodeExistsError,
  NotEmptyError,
  OPEN_ACL_UNSAFE,
  Perms,
  RuntimeInconsistencyError,
  digestAcl,
  utf8,
  worldAcl,
} from '../src/index.js';
import type { ArborClient } from '../src/index.js';
import type { FakeEnsemble } from './helpers/fake-ensemble.js';
import { connected, until } from './helpers/harness.js';

const text = (bytes: Uint8Array | null): string | null => (bytes === null ? null : new TextDecoder().decode(bytes));

describe('API', () => {
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

  describe('chroot', () => {
    it('applies the chroot to every path in and strips it from every path out', async () => {
      expect(await client.create('/a', 'x')).toBe('/a');
      expect(ensemble.dataOf('/app/a')).toBe('x');
      expect(await client.create('/a/s-', null, { mode: 'EPHEMERAL_SEQUENTIAL' })).toBe('/a/s-0000000000');
      expect(ensemble.nodes.has('/app/a/s-0000000000')).toBe(true);
      expect((await client.getChildren('/')).children).toEqual(['a']);
      expect(await client.getEphemerals()).toEqual(['/a/s-0000000000']);
      const [created] = await client.transaction().create('/b').commit();
      expect(created).toEqual({ op: 'create', path: '/b' });
      expect(ensemble.allRequests().every((r) => r.op === 'closeSession' || JSON.stringify(r.args).includes('/app'))).toBe(true);
    });

    it("getEphemerals('/') under a chroot does not leak a sibling that shares the prefix", async () => {
      await client.create('/e', null, { mode: 'EPHEMERAL' });
      ensemble.seed('/apple');
      const session = ensemble.sessions.get(client.sessionId);
      // An ephemeral of this session outside the chroot (made by another client handle in real life).
      ensemble.nodes.set('/apple/x', { ...(ensemble.nodes.get('/apple') as never) });
      session?.ephemerals.add('/apple/x');
      expect(await client.getEphemerals('/')).toEqual(['/e']);
    });
  });

  describe('create', () => {
    it('returns the path and, with create2, the stat', async () => {
      const { path, stat } = await client.create2('/n', new Uint8Array([1, 2, 3]));
      expect(path).toBe('/n');
      expect(stat).toMatchObject({ version: 0, dataLength: 3, numChildren: 0, ephemeralOwner: 0 });
    });

    it('distinguishes null data from empty data', async () => {
      await client.create('/null');
      await client.create('/empty', new Uint8Array());
      expect((await client.getData('/null')).data).toBeNull();
      expect((await client.getData('/empty')).data).toEqual(new Uint8Array());
    });

    it('accepts a mode by name or number, and ephemerals carry the session id', async () => {
      await client.create('/e1', null, { mode: 'EPHEMERAL' });
      await client.create('/e2', null, { mode: 1 });
      expect((await client.exists('/e1'))?.ephemeralOwner).toBe(client.sessionId);
      expect((await client.exists('/e2'))?.ephemeralOwner).toBe(client.sessionId);
      await expect(client.create('/e3', null, { mode: 'FOREVER' as never })).rejects.toThrow(/unknown create mode FOREVER/);
    });

    it('fails with NoNodeError without a parent, and createParents makes the ancestors (pipelined)', async () => {
      await expect(client.create('/x/y/z')).rejects.toBeInstanceOf(NoNodeError);
      ensemble.seed('/app/x');
      expect(await client.create('/x/y/z/w', 'leaf', { createParents: true })).toBe('/x/y/z/w');
      expect(ensemble.dataOf('/app/x/y/z/w')).toBe('leaf');
      expect(ensemble.dataOf('/app/x/y')).toBeNull();
      const creates = ensemble
        .allRequests()
        .filter((r) => r.op === 'create')
        .map((r) => r.args['path']);
      expect(creates).toEqual(['/app/x/y/z', '/app/x/y/z/w', '/app/x', '/app/x/y', '/app/x/y/z', '/app/x/y/z/w']);
    });

    it('NodeExistsError for an existing path', async () => {
      await client.create('/dup');
      const error = await client.create('/dup').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NodeExistsError);
      expect(error).toMatchObject({ code: ErrorCode.NODEEXISTS, op: 'create', path: '/dup' });
    });

    it('validates before sending: path, ACL, TTL', async () => {
      await expect(client.create('relative')).rejects.toThrow(BadArgumentsError);
      await expect(client.create('/a/')).rejects.toThrow(/create \/a\/: path '\/a\/' must not end with '\/'/);
      await expect(client.create('/q/', null, { mode: 'PERSISTENT_SEQUENTIAL' })).rejects.toBeInstanceOf(NoNodeError); // valid path; no parent
      await expect(client.create('/a', null, { acl: [] })).rejects.toBeInstanceOf(InvalidAclError);
      await expect(client.create('/a', null, { mode: 'PERSISTENT_WITH_TTL' })).rejects.toThrow(/ttl 0 is out of range/);
      await expect(client.create('/a', null, { ttlMs: 5 })).rejects.toThrow(/which has no TTL/);
      expect(ensemble.allRequests().filter((r) => r.args['path'] !== '/app/q/')).toHaveLength(0);
    });
  });

  describe('reads and writes', () => {
    it('getData / setData with versions', async () => {
      await client.create('/v', 'a');
      const stat = await client.setData('/v', 'b', { version: 0 });
      expect(stat.version).toBe(1);
      await expect(client.setData('/v', 'c', { version: 0 })).rejects.toBeInstanceOf(BadVersionError);
      expect(text((await client.getData('/v')).data)).toBe('b');
    });

    it('string and JSON helpers', async () => {
      await client.create('/cfg');
      await client.setJSON('/cfg', { retries: 3, hosts: ['a'] });
      const { data, stat } = await client.getJSON<{ retries: number }>('/cfg');
      expect(data).toEqual({ retries: 3, hosts: ['a'] });
      expect(stat.version).toBe(1);
      await client.setData('/cfg', 'not json');
      await expect(client.getJSON('/cfg')).rejects.toBeInstanceOf(MarshallingError);
      expect((await client.getString('/cfg')).data).toBe('not json');
      await client.create('/none');
      expect((await client.getString('/none')).data).toBeNull();
      expect((await client.getJSON('/none')).data).toBeNull();
      await client.setData('/cfg', new Uint8Array([0xff, 0xfe]));
      await expect(client.getString('/cfg')).rejects.toThrow(/getString \/cfg: data is not UTF-8/);
    });

    it('exists: the stat, or null', async () => {
      expect(await client.exists('/nope')).toBeNull();
      await client.create('/yes');
      expect((await client.exists('/yes'))?.version).toBe(0);
    });

    it('delete: versions and NOTEMPTY', async () => {
      await client.create('/d');
      await client.create('/d/c');
      await expect(client.delete('/d')).rejects.toBeInstanceOf(NotEmptyError);
      await expect(client.delete('/d/c', { version: 3 })).rejects.toBeInstanceOf(BadVersionError);
      await client.delete('/d/c', { version: 0 });
      await client.delete('/d');
      expect(await client.exists('/d')).toBeNull();
      await expect(client.delete('/d')).rejects.toBeInstanceOf(NoNodeError);
    });

    it('passes the linearizable flag on reads', async () => {
      await client.create('/l');
      await client.getData('/l', { linearizable: true });
      await client.exists('/l', { linearizable: true });
      await client.getChildren('/l', { linearizable: true });
      await client.multiRead([{ op: 'getData', path: '/l' }], { linearizable: true });
      const reads = ensemble.allRequests().filter((r) => r.op !== 'create');
      expect(reads.map((r) => r.args['linearizable'])).toEqual([true, true, true, true]);
      await client.getData('/l');
      expect(ensemble.allRequests().at(-1)?.args).not.toHaveProperty('linearizable');
    });

    it('getChildren pages with after/limit, and childrenPages walks every page', async () => {
      await client.create('/p');
      for (const name of ['e', 'a', 'd', 'b', 'c']) await client.create(`/p/${name}`);
      const first = await client.getChildren('/p', { limit: 2 });
      expect(first).toMatchObject({ children: ['a', 'b'], more: true });
      expect(first.stat.numChildren).toBe(5);
      expect(await client.getChildren('/p', { after: 'b', limit: 2 })).toMatchObject({ children: ['c', 'd'], more: true });
      expect(await client.getChildren('/p', { after: 'd', limit: 2 })).toMatchObject({ children: ['e'], more: false });
      const pages: string[][] = [];
      for await (const page of client.childrenPages('/p', { pageSize: 2 })) pages.push(page);
      expect(pages).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
      await expect(client.getChildren('/p', { limit: 0 })).rejects.toBeInstanceOf(BadArgumentsError);
    });

    it('getAllChildrenNumber, sync', async () => {
      await client.create('/t');
      await client.create('/t/a');
      await client.create('/t/a/b');
      expect(await client.getAllChildrenNumber('/t')).toBe(2);
      await client.sync('/t');
      expect(ensemble.allRequests().at(-1)).toMatchObject({ op: 'sync', args: { path: '/app/t' } });
    });
  });

  describe('transactions', () => {
    it('commits all ops at one zxid and returns typed results', async () => {
      await client.create('/m', 'v0');
      const results = await client
        .transaction()
        .check('/m', 0)
        .create('/m/child', 'c', { mode: 'PERSISTENT_SEQUENTIAL' })
        .setData('/m', 'v1', 0)
        .delete('/m/child0000000000')
        .commit();
      expect(results).toEqual([
        { op: 'check' },
        { op: 'create', path: '/m/child0000000000' },
        { op: 'setData', stat: expect.objectContaining({ version: 1 }) as unknown },
        { op: 'delete' },
      ]);
      const { stat } = await client.getData('/m');
      expect(stat.mzxid).toBe(stat.pzxid);
    });

    it('a failed transaction throws the failing op error class with every outcome, and applies nothing', async () => {
      await client.create('/m', 'v0');
      const error = await client
        .multi([
          { op: 'create', path: '/m/a' },
          { op: 'setData', path: '/m', data: 'x', version: 5 },
          { op: 'delete', path: '/m' },
        ])
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BadVersionError);
      expect(error).toMatchObject({ op: 'multi', path: '/m', transaction: { index: 1 } });
      expect((error as Error).message).toMatch(/^multi \/m: op 1 \(setData \/m\) failed: /);
      const outcomes = (error as BadVersionError).transaction?.results as { op: string; error?: Error }[];
      expect(outcomes[0]).toEqual({ op: 'create', path: '/m/a' });
      expect(outcomes[1]?.error).toBeInstanceOf(BadVersionError);
      expect(outcomes[2]?.error).toBeInstanceOf(RuntimeInconsistencyError);
      expect(await client.exists('/m/a')).toBeNull();
    });

    it('multiRead: each read succeeds or fails on its own', async () => {
      await client.create('/r', 'd');
      await client.create('/r/k');
      const results = await client.multiRead([
        { op: 'getData', path: '/r' },
        { op: 'getChildren', path: '/r' },
        { op: 'getData', path: '/missing' },
      ]);
      expect(results[0]).toMatchObject({ op: 'getData', data: utf8('d') });
      expect(results[1]).toEqual({ op: 'getChildren', children: ['k'] });
      expect((results[2] as { error: Error }).error).toBeInstanceOf(NoNodeError);
      expect((results[2] as { error: Error }).error.message).toMatch(/^getData \/missing: /);
    });
  });

  describe('ACLs and auth', () => {
    it('getACL / setACL with the aversion', async () => {
      await client.create('/acl');
      expect((await client.getACL('/acl')).acl).toEqual(OPEN_ACL_UNSAFE);
      const stat = await client.setACL('/acl', [worldAcl(Perms.READ)], { version: 0 });
      expect(stat.aversion).toBe(1);
      await expect(client.setACL('/acl', [worldAcl()], { version: 0 })).rejects.toBeInstanceOf(BadVersionError);
      await expect(client.setACL('/acl', [{ perms: 99, id: { scheme: 'world', id: 'anyone' } }])).rejects.toBeInstanceOf(InvalidAclError);
    });

    it('digest ACL ids match ZooKeeper (base64 sha1 of user:password)', async () => {
      // Known value: ZooKeeper's DigestAuthenticationProvider.generateDigest("super:test").
      expect((await digestAcl('super', 'test', Perms.ALL)).id).toEqual({ scheme: 'digest', id: 'super:D/InIHSb7yEEbrWz8b9l71RjZJU=' });
    });

    it('addAuth adds an identity now and re-sends it in every later handshake', async () => {
      await client.addAuth('digest', 'alice:secret');
      expect(await client.whoAmI()).toEqual([{ scheme: 'digest', id: 'alice' }]);
      ensemble.kill(0);
      await until(() => client.state === 'reconnected');
      const [connection] = ensemble.open(1);
      expect(connection?.handshakes[0]?.auth.map((a) => [a.scheme, text(a.credentials)])).toEqual([['digest', 'alice:secret']]);
      expect(await client.whoAmI()).toEqual([{ scheme: 'digest', id: 'alice' }]);
    });
  });
});
