import { ArborError, ErrorCode } from '@arbor/protocol';
import type { WatchTrigger } from '@arbor/protocol';
import { permName } from '../acl-table.js';
import type { Journal } from '../journal.js';
import { ROOT_ID } from '../node-store.js';
import type { Session } from '../session.js';
import type { Hasher } from '../hash.js';
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

/** A node's parent and place, found without computing any hash yet. */
export interface Located {
  parentId: number;
  parentPath: string;
  name: string;
  /** -1 when the parent exists but the node does not. */
  id: number;
}

/** Finds a non-root path's parent and the node; parentId -1 when the parent is missing. */
export function locate(state: TreeState, path: string): Located {
  const slash = path.lastIndexOf('/');
  const parentPath = slash === 0 ? '/' : path.slice(0, slash);
  const name = path.slice(slash + 1);
  const parentId = state.resolve(parentPath);
  const kids = parentId < 0 ? null : state.nodes.children[parentId];
  const id = kids === null || kids === undefined ? -1 : kids.get(name);
  return { parentId, parentPath, name, id };
}

/** The full reference a primitive needs (hashes computed once, the child's from the parent's). */
export function nodeRef(loc: Located, path: string): NodeRef {
  const parentHash: Hasher = pathHash(loc.parentPath);
  return {
    id: loc.id,
    parentId: loc.parentId,
    parentPath: loc.parentPath,
    parentHash,
    name: loc.name,
    path,
    pathHash: childPathHash(parentHash, loc.parentId === ROOT_ID, loc.name),
  };
}

export function requirePerm(ctx: ApplyContext, id: number, perm: number, subject: string, onPath: string): void {
  if (!ctx.state.acls.allows(ctx.state.nodes.acl[id]!, perm, ctx.txn.identities)) {
    fail(ErrorCode.NOAUTH, `${subject}: ${permName(perm)} permission on ${onPath} denied`);
  }
}

/** -1 matches any version; any other value, negative included, must equal the current one. */
export function requireVersion(expected: number, actual: number, subject: string, what = 'version'): void {
  if (expected !== -1 && expected !== actual) {
    fail(ErrorCode.BADVERSION, `${subject}: expected ${what} ${expected}, the node has ${what} ${actual}`);
  }
}

export function requireNode(state: TreeState, path: string, subject: string): number {
  const id = state.resolve(path);
  if (id < 0) fail(ErrorCode.NONODE, `${subject}: node does not exist`);
  return id;
}
