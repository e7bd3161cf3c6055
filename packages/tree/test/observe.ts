import { expect } from 'vitest';
import type { ZnodeTree } from '@arbor/tree';
import { alice, bob, ip } from './harness.js';

const callers = [[], [alice], [bob, ip('10.1.1.1')]];

/** Every path of a tree in pre-order, read past the ACLs (from the state's child lists). */
export function allPaths(tree: ZnodeTree): string[] {
  const out: string[] = [];
  const stack = ['/'];
  while (stack.length > 0) {
    const path = stack.pop()!;
    out.push(path);
    const kids = tree.state.nodes.kids(tree.state.resolve(path));
    const names = kids ? kids.page(undefined, Infinity).names : [];
    for (const name of names.reverse()) stack.push(path === '/' ? `/${name}` : `${path}/${name}`);
  }
  return out;
}

function attempt<T>(read: () => T): T | { error: number } {
  try {
    return read();
  } catch (e) {
    return { error: (e as { code: number }).code };
  }
}

/** Two trees answer every read alike: every node, every caller, sessions, ephemerals, due removals. */
export function sameReads(a: ZnodeTree, b: ZnodeTree, nowMs: number): void {
  expect(b.nodeCount).toBe(a.nodeCount);
  const paths = allPaths(a);
  expect(allPaths(b)).toEqual(paths);
  for (const path of paths) {
    expect(b.exists(path)).toEqual(a.exists(path));
    for (const who of callers) {
      expect(attempt(() => b.getData(path, who))).toEqual(attempt(() => a.getData(path, who)));
      expect(attempt(() => b.getChildren(path, who))).toEqual(attempt(() => a.getChildren(path, who)));
      expect(attempt(() => b.getACL(path, who))).toEqual(attempt(() => a.getACL(path, who)));
      expect(attempt(() => b.getAllChildrenNumber(path, who))).toEqual(attempt(() => a.getAllChildrenNumber(path, who)));
    }
  }
  const sessions = (t: ZnodeTree) =>
    [...t.sessions()].map((s) => ({ id: s.id, password: s.password, timeoutMs: s.timeoutMs, ephemerals: t.getEphemerals(s.id, '/') }));
  expect(sessions(b)).toEqual(sessions(a));
  for (const at of [nowMs, nowMs + 10 ** 6]) expect(b.dueForRemoval(at)).toEqual(a.dueForRemoval(at));
}
