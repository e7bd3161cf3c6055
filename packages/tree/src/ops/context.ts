import { ArborError, ErrorCode } from '@arbor/protocol';
import type { WatchTrigger } from '@arbor/protocol';
import { permName } from '../acl-table.js';
import type { Journal } from '../journal.js';
import type { Session } from '../session.js';
import { childPathHash, pathHash } from '../state.js';
import type { NodeRef, TreeState } from '../state.js';
import type { Txn } from '../txn.js';

/** What an op handler works with. Handlers throw ArborError for a refused op, before changing anything. */
export interface ApplyContext {
  readonly state: TreeState;
  readonly txn: Txn;
  /** The caller's live session (ops that need one), else undefined. */
  readonly session: Session | undefined;
  /** Changes to report, appended in delivery order. */
  readonly triggers: WatchTrigger[];
  /** Set inside a multi: mutations record their inverse. */
  readonly journal: Journal | null;
}

export function fail(code: ErrorCode, message: string): never {
  throw new ArborError(code, message);
}

/**
 * A non-root path's node and parent with both path hashes (the digest needs them for any
 * change; the path index finds both by them): `id` -1 when the node does not exist,
 * `parentId` -1 when the parent does not either.
 */
export function locate(state: TreeState, path: string): NodeRef {
  const slash = path.lastIndexOf('/');
  const parentPath = slash === 0 ? '/' : path.slice(0, slash);
  const name = path.slice(slash + 1);
  const parentHash = pathHash(parentPath);
  const ph = childPathHash(parentHash, slash === 0, name);
  const id = state.resolveHashed(path, ph);
  const parentId = id >= 0 ? state.nodes.parentOf(id) : state.resolveHashed(parentPath, parentHash);
  return { id, parentId, parentPath, parentHash, name, path, pathHash: ph };
}

/** The op a message names ("setData /a"), made only when there is a message to make: not on every apply. */
export interface Subject {
  readonly type: string;
  readonly path: string;
}

export function subjectOf(op: Subject): string {
  return `${op.type} ${op.path}`;
}

export function requirePerm(ctx: ApplyContext, id: number, perm: number, op: Subject, onPath: string): void {
  if (!ctx.state.acls.allows(ctx.state.nodes.aclOf(id), perm, ctx.txn.identities)) {
    fail(ErrorCode.NOAUTH, `${subjectOf(op)}: ${permName(perm)} permission on ${onPath} denied`);
  }
}

/** -1 matches any version; any other value, negative included, must equal the current one. */
export function requireVersion(expected: number, actual: number, op: Subject, what = 'version'): void {
  if (expected !== -1 && expected !== actual) {
    fail(ErrorCode.BADVERSION, `${subjectOf(op)}: expected ${what} ${expected}, the node has ${what} ${actual}`);
  }
}

export function requireNode(state: TreeState, op: Subject): number {
  const id = state.resolve(op.path);
  if (id < 0) fail(ErrorCode.NONODE, `${subjectOf(op)}: node does not exist`);
  return id;
}
