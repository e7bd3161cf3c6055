import { EventType } from '@arbor/protocol';
import { F, NodeKind } from '../node-store.js';
import type { TreeState } from '../state.js';
import type { ReapOp, ReapResult } from '../txn.js';
import { locate } from './context.js';
import type { ApplyContext } from './context.js';

/**
 * Is a node due for automatic removal at `nowMs`? A container once it has had a child
 * (cversion > 0) and has none; a TTL node when childless and untouched (mtime) for more than
 * its TTL — so the moment its last child goes it is due again, with no fresh grace period.
 */
export function isDue(state: TreeState, id: number, nowMs: number): boolean {
  const { nodes } = state;
  if (nodes.numChildren(id) > 0) return false;
  switch (nodes.kind(id)) {
    case NodeKind.CONTAINER:
      return nodes.get(id, F.CVERSION) > 0;
    case NodeKind.TTL:
      return nowMs - nodes.get(id, F.MTIME) > nodes.get(id, F.OWNER);
    default:
      return false;
  }
}

/** Paths due at nowMs, in path order, at most `max`. Scans the container and TTL indexes only. */
export function dueForRemoval(state: TreeState, nowMs: number, max: number): string[] {
  const due: string[] = [];
  for (const [path, id] of state.containers) if (isDue(state, id, nowMs)) due.push(path);
  for (const [path, id] of state.ttlNodes) if (isDue(state, id, nowMs)) due.push(path);
  due.sort();
  return due.length > max ? due.slice(0, max) : due;
}

/**
 * The leader proposed this removal when it saw the node due; by the time it applies, a child
 * may have been created or the data set. Re-check with the entry's time: not due → nothing.
 * No session or ACL is involved: the removal is the service's own.
 */
export function applyReap(ctx: ApplyContext, op: ReapOp): ReapResult {
  const { state, txn } = ctx;
  if (op.path === '/') return { err: 0, removed: false };
  const loc = locate(state, op.path);
  if (loc.id < 0 || !isDue(state, loc.id, txn.timeMs)) return { err: 0, removed: false };
  state.deleteNode(loc, txn.zxid, null);
  ctx.triggers.push(
    { type: EventType.NodeDeleted, path: op.path, zxid: txn.zxid },
    { type: EventType.NodeChildrenChanged, path: loc.parentPath, zxid: txn.zxid },
  );
  return { err: 0, removed: true };
}
