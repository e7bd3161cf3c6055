import { ArborError, ErrorCode, Perms, pathProblem } from '@arbor/protocol';
import type { ACL, Id, MultiReadOp, MultiReadOpResult, Stat } from '@arbor/protocol';
import { hideDigests, permName } from './acl-table.js';
import type { TreeState } from './state.js';
import { isPlainValidPath } from './validate.js';

/**
 * Reads of the applied state. They take the caller's identities for ACL checks and throw
 * ArborError (BADARGUMENTS, NONODE, NOAUTH) with a message naming the op and the path.
 * Everything returned is a fresh copy the caller may keep.
 */

export interface ChildrenPage {
  /** Only names strictly after this one, in name (UTF-16 code unit) order. */
  after?: string;
  /** At most this many names (a positive integer); without it, every child. */
  limit?: number;
}

export interface DataResult {
  data: Uint8Array | null;
  stat: Stat;
}

export interface ChildrenResult {
  children: string[];
  /** True when the limit cut the list short: ask again with `after` = the last name. */
  more: boolean;
  stat: Stat;
}

export interface AclResult {
  acl: ACL[];
  stat: Stat;
}

function checkPath(what: string, path: unknown): asserts path is string {
  if (isPlainValidPath(path, Infinity)) return;
  const problem = pathProblem(path, { pathLengthMax: Infinity });
  if (problem !== undefined) throw new ArborError(ErrorCode.BADARGUMENTS, `${what}: ${problem}`);
}

function find(state: TreeState, what: string, path: string): number {
  checkPath(what, path);
  const id = state.resolve(path);
  if (id < 0) throw new ArborError(ErrorCode.NONODE, `${what} ${path}: node does not exist`);
  return id;
}

function demand(state: TreeState, id: number, perm: number, identities: readonly Id[], what: string, path: string): void {
  if (!state.acls.allows(state.nodes.aclOf(id), perm, identities)) {
    throw new ArborError(ErrorCode.NOAUTH, `${what} ${path}: ${permName(perm)} permission denied`);
  }
}

/** The node's stat, or null when it does not exist. Needs no permission. */
export function readExists(state: TreeState, path: string): Stat | null {
  checkPath('exists', path);
  const id = state.resolve(path);
  return id < 0 ? null : state.nodes.stat(id);
}

export function readData(state: TreeState, path: string, identities: readonly Id[]): DataResult {
  const id = find(state, 'getData', path);
  demand(state, id, Perms.READ, identities, 'getData', path);
  return { data: state.dataOf(id), stat: state.nodes.stat(id) };
}

export function readChildren(state: TreeState, path: string, identities: readonly Id[], page: ChildrenPage = {}): ChildrenResult {
  const id = find(state, 'getChildren', path);
  demand(state, id, Perms.READ, identities, 'getChildren', path);
  const { after, limit } = page;
  if (after !== undefined && typeof after !== 'string')
    throw new ArborError(ErrorCode.BADARGUMENTS, `getChildren ${path}: after must be a string`);
  if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 1)) {
    throw new ArborError(ErrorCode.BADARGUMENTS, `getChildren ${path}: limit must be a positive integer, not ${String(limit)}`);
  }
  const kids = state.nodes.kids(id);
  const stat = state.nodes.stat(id);
  if (kids === null) return { children: [], more: false, stat };
  const { names, more } = kids.page(after, limit ?? Infinity);
  return { children: names, more, stat };
}

/** Needs READ or ADMIN; digest ids are shown as `user:x` to callers without ADMIN. */
export function readAcl(state: TreeState, path: string, identities: readonly Id[]): AclResult {
  const id = find(state, 'getACL', path);
  const aclId = state.nodes.aclOf(id);
  const admin = state.acls.allows(aclId, Perms.ADMIN, identities);
  if (!admin) demand(state, id, Perms.READ, identities, 'getACL', path);
  const acl = state.acls.acl(aclId);
  return {
    acl: admin ? acl.map((e) => ({ perms: e.perms, id: { scheme: e.id.scheme, id: e.id.id } })) : hideDigests(acl),
    stat: state.nodes.stat(id),
  };
}

/** The session's ephemeral paths starting with `prefix` as a plain string ('/app' matches '/apple/x'), sorted. */
export function readEphemerals(state: TreeState, sessionId: number, prefix: string): string[] {
  if (typeof prefix !== 'string') throw new ArborError(ErrorCode.BADARGUMENTS, 'getEphemerals: prefix must be a string');
  const session = state.sessions.get(sessionId);
  if (session === undefined) throw new ArborError(ErrorCode.SESSIONEXPIRED, `getEphemerals: session ${sessionId} is expired or closed`);
  const out: string[] = [];
  for (const path of session.ephemerals) if (path.startsWith(prefix)) out.push(path);
  return out.sort();
}

/** Every descendant of the node, not the node itself. Needs READ. O(size of the subtree). */
export function readAllChildrenNumber(state: TreeState, path: string, identities: readonly Id[]): number {
  const id = find(state, 'getAllChildrenNumber', path);
  demand(state, id, Perms.READ, identities, 'getAllChildrenNumber', path);
  const { nodes } = state;
  let count = 0;
  const stack = [id];
  while (stack.length > 0) {
    const kids = nodes.kids(stack.pop()!);
    if (kids === null || kids.size === 0) continue;
    count += kids.size;
    const cursor = kids.cursor();
    while (cursor.next()) if (nodes.numChildren(cursor.id) > 0) stack.push(cursor.id);
  }
  return count;
}

/** Each read on its own: one failing does not affect the others (not atomic, unlike multi). */
export function readMulti(state: TreeState, ops: readonly MultiReadOp[], identities: readonly Id[]): MultiReadOpResult[] {
  if (!Array.isArray(ops)) throw new ArborError(ErrorCode.BADARGUMENTS, 'multiRead: ops must be an array');
  return ops.map((op): MultiReadOpResult => {
    const kind = op?.op;
    try {
      if (kind === 'getData') {
        const { data, stat } = readData(state, op.args?.path, identities);
        return { op: 'getData', err: 0, data, stat };
      }
      if (kind === 'getChildren') return { op: 'getChildren', err: 0, children: readChildren(state, op.args?.path, identities).children };
      return { op: 'getData', err: ErrorCode.BADARGUMENTS, message: `multiRead: unknown op ${String(kind)}` };
    } catch (e) {
      if (!(e instanceof ArborError)) throw e;
      return { op: kind === 'getChildren' ? 'getChildren' : 'getData', err: e.code as Exclude<ErrorCode, 0>, message: e.message };
    }
  });
}
