import { describe, expect, it } from 'vitest';
import { EventType } from '@arbor/protocol';
import type { ReapResult } from '@arbor/tree';
import { CreateMode, driver } from './harness.js';

const reap = (path: string) => ({ type: 'reap' as const, path });

describe('containers', () => {
  it('are never removed before they had a child', () => {
    const d = driver();
    d.create('/c', { mode: CreateMode.CONTAINER });
    d.advance(10 ** 9);
    expect(d.tree.dueForRemoval(d.nowMs)).toEqual([]);
    expect(d.ok<ReapResult>(reap('/c'), { session: 0 }).removed).toBe(false);
    expect(d.tree.exists('/c')).not.toBeNull();
  });

  it('are due once their last child is gone, and a reap removes them with events', () => {
    const d = driver();
    d.create('/c', { mode: CreateMode.CONTAINER });
    d.create('/c/a');
    d.create('/c/b');
    d.ok({ type: 'delete', path: '/c/a', version: -1 });
    expect(d.tree.dueForRemoval(d.nowMs)).toEqual([]);
    d.ok({ type: 'delete', path: '/c/b', version: -1 });
    expect(d.tree.dueForRemoval(d.nowMs)).toEqual(['/c']);
    const { result, triggers } = d.apply(reap('/c'), { session: 0 });
    expect((result as ReapResult).removed).toBe(true);
    expect(triggers).toEqual([
      { type: EventType.NodeDeleted, path: '/c', zxid: d.zxid },
      { type: EventType.NodeChildrenChanged, path: '/', zxid: d.zxid },
    ]);
    expect(d.tree.exists('/c')).toBeNull();
    expect(d.tree.dueForRemoval(d.nowMs)).toEqual([]);
  });

  it('are kept when a child arrived between the check and the reap', () => {
    const d = driver();
    d.create('/c', { mode: CreateMode.CONTAINER });
    d.create('/c/a');
    d.ok({ type: 'delete', path: '/c/a', version: -1 });
    expect(d.tree.dueForRemoval(d.nowMs)).toEqual(['/c']);
    d.create('/c/again');
    expect(d.ok<ReapResult>(reap('/c'), { session: 0 }).removed).toBe(false);
    expect(d.tree.exists('/c')!.numChildren).toBe(1);
  });
});

describe('TTL nodes', () => {
  const ttl = (path: string, ttlMs: number, d: ReturnType<typeof driver>) =>
    d.create(path, { mode: CreateMode.PERSISTENT_WITH_TTL, ttlMs });

  it('are due when untouched for longer than the TTL, measured from mtime', () => {
    const d = driver();
    ttl('/t', 1000, d);
    d.advance(1000);
    expect(d.tree.dueForRemoval(d.nowMs)).toEqual([]);
    d.advance(1);
    expect(d.tree.dueForRemoval(d.nowMs)).toEqual(['/t']);
    d.ok({ type: 'setData', path: '/t', data: null, version: -1 }); // setData extends it
    expect(d.tree.dueForRemoval(d.nowMs)).toEqual([]);
    expect(d.tree.dueForRemoval(d.nowMs + 1001)).toEqual(['/t']);
  });

  it('are re-checked at apply with the entry’s time', () => {
    const d = driver();
    ttl('/t', 1000, d);
    d.advance(500);
    expect(d.ok<ReapResult>(reap('/t'), { session: 0 }).removed).toBe(false);
    d.advance(501);
    expect(d.ok<ReapResult>(reap('/t'), { session: 0 }).removed).toBe(true);
  });

  it('are kept while they have children, and go at the next check after the last, without a fresh grace period', () => {
    const d = driver();
    ttl('/t', 1000, d);
    d.create('/t/child');
    d.advance(5000);
    expect(d.tree.dueForRemoval(d.nowMs)).toEqual([]);
    expect(d.ok<ReapResult>(reap('/t'), { session: 0 }).removed).toBe(false);
    d.ok({ type: 'delete', path: '/t/child', version: -1 });
    expect(d.tree.dueForRemoval(d.nowMs)).toEqual(['/t']);
    expect(d.ok<ReapResult>(reap('/t'), { session: 0 }).removed).toBe(true);
  });

  it('sequential TTL nodes behave the same', () => {
    const d = driver();
    const { path } = d.create('/s-', { mode: CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL, ttlMs: 10 });
    d.advance(11);
    expect(d.tree.dueForRemoval(d.nowMs)).toEqual([path]);
  });
});

describe('dueForRemoval', () => {
  it('reports in path order, bounded, and ignores other kinds', () => {
    const d = driver();
    for (const name of ['d', 'b', 'a', 'c']) {
      d.create(`/${name}`, { mode: CreateMode.CONTAINER });
      d.create(`/${name}/x`);
      d.ok({ type: 'delete', path: `/${name}/x`, version: -1 });
    }
    d.create('/p');
    d.create('/p/x');
    d.ok({ type: 'delete', path: '/p/x', version: -1 });
    d.create('/e', { mode: CreateMode.EPHEMERAL });
    expect(d.tree.dueForRemoval(d.nowMs)).toEqual(['/a', '/b', '/c', '/d']);
    expect(d.tree.dueForRemoval(d.nowMs, 2)).toEqual(['/a', '/b']);
  });

  it('reaps nothing for a missing path, the root or a plain node', () => {
    const d = driver();
    d.create('/p');
    for (const path of ['/missing', '/', '/p']) expect(d.ok<ReapResult>(reap(path), { session: 0 }).removed).toBe(false);
  });
});
