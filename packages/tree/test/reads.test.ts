import { describe, expect, it } from 'vitest';
import { ErrorCode } from '@arbor/protocol';
import { CreateMode, driver } from './harness.js';

describe('getChildren pages', () => {
  it('lists children in UTF-16 code unit order', () => {
    const d = driver();
    d.create('/p');
    const names = ['b', 'a', 'B', '10', '9', 'é', 'z', 'ä', '\uFF21', '\uFB01'];
    for (const n of names) d.create(`/p/${n}`);
    expect(d.tree.getChildren('/p', []).children).toEqual([...names].sort());
  });

  it('pages strictly after `after`, at most `limit`, saying whether there is more', () => {
    const d = driver();
    d.create('/p');
    for (const n of ['a', 'b', 'c', 'd', 'e']) d.create(`/p/${n}`);
    const page = (after?: string, limit?: number) => d.tree.getChildren('/p', [], { after, limit });
    expect(page(undefined, 2)).toMatchObject({ children: ['a', 'b'], more: true });
    expect(page('b', 2)).toMatchObject({ children: ['c', 'd'], more: true });
    expect(page('d', 2)).toMatchObject({ children: ['e'], more: false });
    expect(page('c', 2)).toMatchObject({ children: ['d', 'e'], more: false });
    expect(page('bb', 1)).toMatchObject({ children: ['c'], more: true });
    expect(page('e', 10)).toMatchObject({ children: [], more: false });
    expect(page('', 10).children).toHaveLength(5);
    expect(page('c')).toMatchObject({ children: ['d', 'e'], more: false });
    expect(page().stat).toMatchObject({ numChildren: 5 });
  });

  it('refuses a bad limit or after', () => {
    const d = driver();
    for (const limit of [0, -1, 1.5, Number.NaN]) {
      expect(() => d.tree.getChildren('/', [], { limit })).toThrow(expect.objectContaining({ code: ErrorCode.BADARGUMENTS }));
    }
    expect(() => d.tree.getChildren('/', [], { after: 5 as never })).toThrow(/after must be a string/);
  });

  it('walks a large parent page by page, matching a sorted list, across inserts and deletes', () => {
    const d = driver();
    d.create('/big');
    const names: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const name = `n${((i * 7919) % 3000).toString(36)}`;
      names.push(name);
      d.create(`/big/${name}`, { requestId: null });
    }
    for (let i = 0; i < 3000; i += 3) d.ok({ type: 'delete', path: `/big/${names[i]}`, version: -1 }, { requestId: null });
    const expected = names.filter((_, i) => i % 3 !== 0).sort();
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = d.tree.getChildren('/big', [], { after, limit: 97 });
      seen.push(...page.children);
      if (!page.more) break;
      after = page.children[page.children.length - 1];
    }
    expect(seen).toEqual(expected);
    expect(d.tree.getChildren('/big', []).children).toEqual(expected);
    expect(d.tree.exists('/big')!.numChildren).toBe(2000);
  });

  it('has no stat-less answer for a missing node', () => {
    expect(() => driver().tree.getChildren('/none', [])).toThrow(/getChildren \/none: node does not exist/);
  });
});

describe('getEphemerals', () => {
  it('matches a plain string prefix, for the calling session only, sorted', () => {
    const d = driver();
    d.create('/app');
    d.create('/apple');
    d.create('/app/x', { mode: CreateMode.EPHEMERAL });
    d.create('/apple/y', { mode: CreateMode.EPHEMERAL });
    d.create('/b', { mode: CreateMode.EPHEMERAL });
    d.create('/app/z', { mode: CreateMode.EPHEMERAL, session: 2 });
    expect(d.tree.getEphemerals(1, '/app')).toEqual(['/app/x', '/apple/y']);
    expect(d.tree.getEphemerals(1, '/app/')).toEqual(['/app/x']);
    expect(d.tree.getEphemerals(1, '/')).toEqual(['/app/x', '/apple/y', '/b']);
    expect(d.tree.getEphemerals(2, '/')).toEqual(['/app/z']);
    expect(() => d.tree.getEphemerals(77, '/')).toThrow(expect.objectContaining({ code: ErrorCode.SESSIONEXPIRED }));
  });
});

describe('getAllChildrenNumber', () => {
  it('counts every descendant, not the node itself', () => {
    const d = driver();
    d.create('/a');
    d.create('/a/b');
    d.create('/a/b/c');
    d.create('/a/b/d');
    d.create('/a/e');
    d.create('/x');
    expect(d.tree.getAllChildrenNumber('/a', [])).toBe(4);
    expect(d.tree.getAllChildrenNumber('/a/b/c', [])).toBe(0);
    expect(d.tree.getAllChildrenNumber('/', [])).toBe(6);
    expect(() => d.tree.getAllChildrenNumber('/nope', [])).toThrow(expect.objectContaining({ code: ErrorCode.NONODE }));
  });
});

describe('read argument checks', () => {
  it.each(['', 'x', '/a/', '/a//b'])('refuses path %j with BADARGUMENTS', (path) => {
    const d = driver();
    for (const read of [() => d.tree.exists(path), () => d.tree.getData(path, []), () => d.tree.getACL(path, [])]) {
      expect(read).toThrow(expect.objectContaining({ code: ErrorCode.BADARGUMENTS }));
    }
  });
});
