import { ErrorCode, EventType, Perms, isEphemeralMode, isSequentialMode, isTtlMode, sequentialName, CreateMode } from '@arbor/protocol';
import { resolveAcl } from '../acl-table.js';
import { F, NodeKind, ROOT_ID } from '../node-store.js';
import { ownString } from '../paths.js';
import { childPathHash, pathHash } from '../state.js';
import type { CheckOp, CreateOp, CreateResult, DeleteOp, OkResult, SetAclOp, SetDataOp, StatResult } from '../txn.js';
import { fail, locate, requireNode, requirePerm, requireVersion, subjectOf } from './context.js';
import type { ApplyContext } from './context.js';

/**
 * Handlers of the node ops. Each decides everything that depends on state (existence,
 * versions, ACLs, ephemeral parents) in ZooKeeper's order (PrepRequestProcessor), then makes
 * its change through one TreeState primitive and appends the triggers it fires.
 */

function kindOf(mode: CreateMode): NodeKind {
  if (isEphemeralMode(mode)) return NodeKind.EPHEMERAL;
  if (mode === CreateMode.CONTAINER) return NodeKind.CONTAINER;
  return isTtlMode(mode) ? NodeKind.TTL : NodeKind.PERSISTENT;
}

export function applyCreate(ctx: ApplyContext, op: CreateOp): CreateResult {
  const { state, txn } = ctx;
  const sequential = isSequentialMode(op.mode);
  const acl = resolveAcl(op.acl, txn.identities, op.type, op.path);
  if (op.path === '/' && !sequential) fail(ErrorCode.NODEEXISTS, 'create /: the root always exists');
  // A sequential path may end in '/': the counter is then the whole name.
  const slash = op.path.lastIndexOf('/');
  const parentPath = slash === 0 ? '/' : op.path.slice(0, slash);
  const parentHash = pathHash(parentPath);
  const parentId = state.resolveHashed(parentPath, parentHash);
  if (parentId < 0) fail(ErrorCode.NONODE, `${subjectOf(op)}: parent ${parentPath} does not exist`);
  requirePerm(ctx, parentId, Perms.CREATE, op, parentPath);
  const kids = state.nodes.kids(parentId);
  const path = sequential ? sequentialName(op.path, kids?.creations ?? 0) : op.path;
  const name = ownString(path.slice(slash + 1));
  const ph = childPathHash(parentHash, parentId === ROOT_ID, name);
  if (kids && kids.size > 0 && state.resolveHashed(path, ph) >= 0) fail(ErrorCode.NODEEXISTS, `create ${path}: node already exists`);
  if (state.nodes.kind(parentId) === NodeKind.EPHEMERAL) {
    fail(ErrorCode.NOCHILDRENFOREPHEMERALS, `${subjectOf(op)}: parent ${parentPath} is ephemeral and cannot have children`);
  }
  const kind = kindOf(op.mode);
  const id = state.createNode(
    {
      parentId,
      parentPath,
      parentHash,
      name,
      path,
      pathHash: ph,
      data: op.data,
      aclId: state.acls.intern(acl),
      kind,
      owner: kind === NodeKind.EPHEMERAL ? txn.sessionId : kind === NodeKind.TTL ? op.ttlMs! : 0,
      zxid: txn.zxid,
      timeMs: txn.timeMs,
    },
    ctx.journal,
  );
  ctx.triggers.push(
    { type: EventType.NodeCreated, path, zxid: txn.zxid },
    { type: EventType.NodeChildrenChanged, path: parentPath, zxid: txn.zxid },
  );
  return { err: 0, path, stat: state.nodes.stat(id) };
}

export function applyDelete(ctx: ApplyContext, op: DeleteOp): OkResult {
  const { state, txn } = ctx;
  if (op.path === '/') fail(ErrorCode.BADARGUMENTS, 'delete /: the root cannot be deleted');
  const loc = locate(state, op.path);
  if (loc.parentId < 0) fail(ErrorCode.NONODE, `${subjectOf(op)}: node does not exist`);
  requirePerm(ctx, loc.parentId, Perms.DELETE, op, loc.parentPath);
  if (loc.id < 0) fail(ErrorCode.NONODE, `${subjectOf(op)}: node does not exist`);
  requireVersion(op.version, state.nodes.get(loc.id, F.VERSION), op);
  const numChildren = state.nodes.numChildren(loc.id);
  if (numChildren > 0) fail(ErrorCode.NOTEMPTY, `${subjectOf(op)}: node has ${numChildren} children`);
  state.deleteNode(loc, txn.zxid, ctx.journal);
  ctx.triggers.push(
    { type: EventType.NodeDeleted, path: op.path, zxid: txn.zxid },
    { type: EventType.NodeChildrenChanged, path: loc.parentPath, zxid: txn.zxid },
  );
  return { err: 0 };
}

export function applySetData(ctx: ApplyContext, op: SetDataOp): StatResult {
  const { state, txn } = ctx;
  const ph = pathHash(op.path);
  const id = state.resolveHashed(op.path, ph);
  if (id < 0) fail(ErrorCode.NONODE, `${subjectOf(op)}: node does not exist`);
  requirePerm(ctx, id, Perms.WRITE, op, op.path);
  requireVersion(op.version, state.nodes.get(id, F.VERSION), op);
  state.setData(id, ph, op.data, txn.zxid, txn.timeMs, ctx.journal);
  ctx.triggers.push({ type: EventType.NodeDataChanged, path: op.path, zxid: txn.zxid });
  return { err: 0, stat: state.nodes.stat(id) };
}

/** setACL fires no watch (as in ZooKeeper): the ACL is not part of what data or child watches report. */
export function applySetAcl(ctx: ApplyContext, op: SetAclOp): StatResult {
  const { state, txn } = ctx;
  const acl = resolveAcl(op.acl, txn.identities, op.type, op.path);
  const id = requireNode(state, op);
  requirePerm(ctx, id, Perms.ADMIN, op, op.path);
  requireVersion(op.version, state.nodes.get(id, F.AVERSION), op, 'aversion');
  state.setAcl(id, pathHash(op.path), state.acls.intern(acl));
  return { err: 0, stat: state.nodes.stat(id) };
}

/** check needs READ, as in ZooKeeper: a version is information about the node. */
export function applyCheck(ctx: ApplyContext, op: CheckOp): OkResult {
  const { state } = ctx;
  const id = requireNode(state, op);
  requirePerm(ctx, id, Perms.READ, op, op.path);
  requireVersion(op.version, state.nodes.get(id, F.VERSION), op);
  return { err: 0 };
}
