import { describe, expect, it } from 'vitest';
import { ErrorCode, EventType } from '@arbor/protocol';
import type { StatResult } from '@arbor/tree';
import { OPEN, driver, enc, worldAcl, Perms } from './harness.js';

describe('versions and stats', () => {
  it('version counts setData, cversion child creates and deletes, aversion setACL; each starts at 0', () => {
    const d = driver();
    const created = d.create('/n', { data: enc('a') });
    expect(created.stat).toMatchObject({ version: 0, cversion: 0, aversion: 0 });
    d.ok({ type: 'setData', path: '/n', data: enc('b'), version: 0 });
    d.ok({ type: 'setData', path: '/n', data: enc('c'), version: -1 });
    d.create('/n/k');
    d.ok({ type: 'delete', path: '/n/k', version: 0 });
    d.ok({ type: 'setACL', path: '/n', acl: worldAcl(Perms.ALL), version: 0 });
    expect(d.tree.exists('/n')).toMatchObject({ version: 2, cversion: 2, aversion: 1, numChildren: 0 });
  });

  it('sets czxid/ctime at creation, mzxid/mtime at each setData, pzxid at child changes', () => {
    const d = driver();
    const c = d.create('/n');
    const czxid = d.zxid;
    const ctime = d.nowMs;
    expect(c.stat).toMatchObject({ czxid, mzxid: czxid, pzxid: czxid, ctime, mtime: ctime });
    d.advance(500);
    const s = d.ok<StatResult>({ type: 'setData', path: '/n', data: null, version: -1 }).stat;
    expect(s).toMatchObject({ czxid, ctime, mzxid: d.zxid, mtime: ctime + 500, pzxid: czxid });
    d.advance(500);
    d.create('/n/child');
    expect(d.tree.exists('/n')).toMatchObject({ mzxid: czxid + 1, mtime: ctime + 500, pzxid: d.zxid });
  });

  it('treats setData with identical bytes as a change: version, mzxid and a trigger', () => {
    const d = driver();
    d.create('/n', { data: enc('same') });
    const { result, triggers } = d.apply({ type: 'setData', path: '/n', data: enc('same'), version: 0 });
    expect((result as StatResult).stat).toMatchObject({ version: 1, mzxid: d.zxid, dataLength: 4 });
    expect(triggers).toEqual([{ type: EventType.NodeDataChanged, path: '/n', zxid: d.zxid }]);
  });

  it('keeps dataLength and numChildren current', () => {
    const d = driver();
    d.create('/n', { data: enc('12345') });
    expect(d.ok<StatResult>({ type: 'setData', path: '/n', data: enc('12'), version: -1 }).stat.dataLength).toBe(2);
    expect(d.ok<StatResult>({ type: 'setData', path: '/n', data: null, version: -1 }).stat.dataLength).toBe(0);
    expect(d.tree.getData('/n', []).data).toBeNull();
    d.create('/n/a');
    d.create('/n/b');
    expect(d.tree.exists('/n')!.numChildren).toBe(2);
  });

  describe.each([
    ['setData', (path: string, version: number) => ({ type: 'setData' as const, path, data: null, version })],
    ['delete', (path: string, version: number) => ({ type: 'delete' as const, path, version })],
    ['check', (path: string, version: number) => ({ type: 'check' as const, path, version })],
  ])('%s version preconditions', (_name, make) => {
    it.each([
      [-1, 0],
      [3, 0],
      [2, ErrorCode.BADVERSION],
      [4, ErrorCode.BADVERSION],
      [-2, ErrorCode.BADVERSION],
      [-3, ErrorCode.BADVERSION],
    ])('expected %i against version 3 → %i', (expected, code) => {
      const d = driver();
      d.create('/n');
      for (let i = 0; i < 3; i++) d.ok({ type: 'setData', path: '/n', data: null, version: i });
      const digest = d.tree.digest();
      const { result, triggers } = d.apply(make('/n', expected), { requestId: null });
      expect(result.err).toBe(code);
      if (code !== 0) {
        expect(triggers).toEqual([]);
        expect(d.tree.digest()).toBe(digest);
        expect('message' in result && result.message).toMatch(/expected version .* the node has version 3/);
      }
    });

    it('is NONODE on a missing node whatever the version', () => {
      const d = driver();
      for (const v of [-1, 0, 7, -5]) expect(d.err(make('/missing', v))).toBe(ErrorCode.NONODE);
      expect(d.err(make('/missing/deeper', 0))).toBe(ErrorCode.NONODE);
    });
  });

  it('setACL checks the aversion', () => {
    const d = driver();
    d.create('/n');
    expect(d.err({ type: 'setACL', path: '/n', acl: OPEN, version: 1 })).toBe(ErrorCode.BADVERSION);
    expect(d.ok<StatResult>({ type: 'setACL', path: '/n', acl: OPEN, version: 0 }).stat.aversion).toBe(1);
    expect(d.ok<StatResult>({ type: 'setACL', path: '/n', acl: OPEN, version: -1 }).stat.aversion).toBe(2);
    expect(d.err({ type: 'setACL', path: '/missing', acl: OPEN, version: -1 })).toBe(ErrorCode.NONODE);
  });

  it('setACL fires nothing', () => {
    const d = driver();
    d.create('/n');
    expect(d.apply({ type: 'setACL', path: '/n', acl: OPEN, version: -1 }).triggers).toEqual([]);
  });

  it('delete checks the version before NOTEMPTY', () => {
    const d = driver();
    d.create('/n');
    d.create('/n/c');
    expect(d.err({ type: 'delete', path: '/n', version: 5 })).toBe(ErrorCode.BADVERSION);
    expect(d.err({ type: 'delete', path: '/n', version: 0 })).toBe(ErrorCode.NOTEMPTY);
    expect(d.err({ type: 'delete', path: '/n', version: -1 })).toBe(ErrorCode.NOTEMPTY);
  });

  it('delete fires NodeDeleted then the parent NodeChildrenChanged', () => {
    const d = driver();
    d.create('/a');
    d.create('/a/b');
    expect(d.apply({ type: 'delete', path: '/a/b', version: -1 }).triggers).toEqual([
      { type: EventType.NodeDeleted, path: '/a/b', zxid: d.zxid },
      { type: EventType.NodeChildrenChanged, path: '/a', zxid: d.zxid },
    ]);
  });

  it('gives every txn its own zxid and stamps stats with it', () => {
    const d = driver();
    d.zxid = 100;
    d.create('/a');
    d.zxid = 250; // a gap: entries that are not tree txns (raft config, no-ops) take indexes too
    d.create('/b');
    expect(d.tree.exists('/a')!.czxid).toBe(101);
    expect(d.tree.exists('/b')!.czxid).toBe(251);
    expect(d.tree.lastZxid).toBe(251);
  });

  it('refuses to apply a zxid that does not move forward (a bug in the caller, not bad input)', () => {
    const d = driver();
    d.create('/a');
    expect(() =>
      d.tree.apply({ zxid: d.zxid, timeMs: 0, sessionId: 1, identities: [], op: { type: 'check', path: '/a', version: -1 } }),
    ).toThrow(/invariant/);
  });

  it('returns stats the caller may change without changing the tree', () => {
    const d = driver();
    const created = d.create('/n');
    expect(Object.isFrozen(created.stat)).toBe(true);
    const stat = d.tree.exists('/n')!;
    stat.version = 99;
    d.tree.getData('/n', []).stat.numChildren = 7;
    expect(d.tree.exists('/n')).toMatchObject({ version: 0, numChildren: 0 });
  });
});
