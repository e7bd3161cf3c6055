import { ErrorCode, EventType } from '@arbor/protocol';
import { Session } from '../session.js';
import type { CloseSessionOp, CreateSessionOp, OkResult } from '../txn.js';
import { fail, locate } from './context.js';
import type { ApplyContext } from './context.js';
import { AssertionError } from '../assert.js';

/** Opens a session. The id is chosen by the leader and is new; a reused id is a leader bug, refused. */
export function applyCreateSession(ctx: ApplyContext, op: CreateSessionOp): OkResult {
  const { state } = ctx;
  if (state.sessions.has(op.sessionId)) fail(ErrorCode.BADARGUMENTS, `createSession: session ${op.sessionId} already exists`);
  state.addSession(new Session(op.sessionId, op.password.slice(), op.timeoutMs));
  return { err: 0 };
}

/**
 * Closes (client) or expires (leader) a session: its ephemerals go in this one change, in path
 * order, each firing NodeDeleted then its parent's NodeChildrenChanged; its kept results go too.
 */
export function applyCloseSession(ctx: ApplyContext, op: CloseSessionOp): OkResult {
  const { state, txn } = ctx;
  const session = state.sessions.get(op.sessionId);
  if (session === undefined) fail(ErrorCode.SESSIONEXPIRED, `closeSession: session ${op.sessionId} is already closed or expired`);
  for (const path of [...session.ephemerals].sort()) {
    const loc = locate(state, path);
    if (loc.id < 0) throw new AssertionError(`ephemeral ${path} of session ${op.sessionId} is missing`);
    state.deleteNode(loc, txn.zxid, null);
    ctx.triggers.push(
      { type: EventType.NodeDeleted, path, zxid: txn.zxid },
      { type: EventType.NodeChildrenChanged, path: loc.parentPath, zxid: txn.zxid },
    );
  }
  state.removeSession(session);
  return { err: 0 };
}
