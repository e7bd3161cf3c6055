import type { ACL, Id } from './acl.js';
import type { CreateMode } from './create-mode.js';
import type { AddWatchMode, WatcherType } from './events.js';
import type { Stat } from './stat.js';
import type { ErrorCode } from './errors.js';
import type { ArgsParser } from './op-args.js';
import * as A from './op-args.js';
import type { ResultParser } from './op-results.js';
import * as R from './op-results.js';

/**
 * Every operation, defined once (STYLE.md 7): its ZooKeeper opcode, its name, its argument and
 * result shapes, whether it writes (goes through the log and carries a requestId), and which
 * watch it may set. Client and server both import these; docs/protocol.md lists them.
 */

export interface CreateArgs {
  path: string;
  /** null and empty are different values (both have dataLength 0). */
  data: Uint8Array | null;
  acl: ACL[];
  mode: CreateMode;
  /** Only for the TTL modes: 1 .. 2^40-1 ms. */
  ttlMs?: number;
}
export interface CreateResult {
  path: string;
}
export interface Create2Result {
  path: string;
  stat: Stat;
}
export interface DeleteArgs {
  path: string;
  /** -1 matches any version. */
  version: number;
}
export interface PathWatchArgs {
  path: string;
  watch?: boolean;
  /** Read through the leader's read index: sees every write acknowledged before the call. */
  linearizable?: boolean;
}
export interface ExistsResult {
  stat: Stat;
}
export interface GetDataResult {
  data: Uint8Array | null;
  stat: Stat;
}
export interface SetDataArgs {
  path: string;
  data: Uint8Array | null;
  version: number;
}
export interface StatResult {
  stat: Stat;
}
export interface GetACLArgs {
  path: string;
}
export interface GetACLResult {
  acl: ACL[];
  stat: Stat;
}
export interface SetACLArgs {
  path: string;
  acl: ACL[];
  /** Expected aversion; -1 matches any. */
  version: number;
}
export interface GetChildrenArgs extends PathWatchArgs {
  /** Pagination: only names strictly after this one, in name (UTF-16 code unit) order. */
  after?: string;
  /** Pagination: at most this many names. Without a limit, every child is returned. */
  limit?: number;
}
export interface GetChildrenResult {
  children: string[];
  /** True when a limit cut the list short: ask again with `after` = the last name. */
  more: boolean;
}
export interface GetChildren2Result extends GetChildrenResult {
  stat: Stat;
}
export interface SyncArgs {
  path: string;
}
export interface SyncResult {
  path: string;
}
export interface CheckArgs {
  path: string;
  version: number;
}

/** An op inside a multi: create, create2-less create, delete, setData, check. */
export type MultiOp =
  | { op: 'create'; args: CreateArgs }
  | { op: 'delete'; args: DeleteArgs }
  | { op: 'setData'; args: SetDataArgs }
  | { op: 'check'; args: CheckArgs };
export interface MultiArgs {
  ops: MultiOp[];
}
/** One result per op. On failure: OK for the ops before the failing one, its error, RUNTIMEINCONSISTENCY after. */
export type MultiOpResult =
  | { op: 'create'; err: 0; path: string }
  | { op: 'delete'; err: 0 }
  | { op: 'setData'; err: 0; stat: Stat }
  | { op: 'check'; err: 0 }
  | { op: MultiOp['op']; err: Exclude<ErrorCode, 0>; message?: string };
export interface MultiResult {
  results: MultiOpResult[];
}

export type MultiReadOp = { op: 'getData'; args: { path: string } } | { op: 'getChildren'; args: { path: string } };
export type MultiReadOpResult =
  | { op: 'getData'; err: 0; data: Uint8Array | null; stat: Stat }
  | { op: 'getChildren'; err: 0; children: string[] }
  | { op: MultiReadOp['op']; err: Exclude<ErrorCode, 0>; message?: string };
export interface MultiReadArgs {
  ops: MultiReadOp[];
  linearizable?: boolean;
}
export interface MultiReadResult {
  results: MultiReadOpResult[];
}

export interface AddWatchArgs {
  path: string;
  mode: AddWatchMode;
}
export interface RemoveWatchesArgs {
  path: string;
  type: WatcherType;
}
export interface AddAuthArgs {
  /** 'digest' (credentials: UTF-8 'user:password') or 'ip' is implicit; unknown schemes fail the connection with AUTHFAILED. */
  scheme: string;
  credentials: Uint8Array;
}
export interface WhoAmIResult {
  identities: Id[];
}
export interface GetEphemeralsArgs {
  /** Plain string prefix: '/app' also matches '/apple/x'. '/' lists every ephemeral of the session. */
  prefix: string;
}
export interface GetEphemeralsResult {
  paths: string[];
}
export interface GetAllChildrenNumberResult {
  count: number;
}
/**
 * Re-registers a client's watches after a reconnect. Changes after lastZxid fire at once
 * (one-shot watches as ZooKeeper does; persistent ones replay every missed event in order from
 * the member's window, or get a `watchResync` notice when the window no longer reaches back).
 */
export interface SetWatchesArgs {
  lastZxid: number;
  data: string[];
  exist: string[];
  child: string[];
  persistent: string[];
  persistentRecursive: string[];
}
export interface PingResult {
  /** How long the session has left, from the leader's point of view, when this reply was sent. */
  sessionRemainingMs: number;
}
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export type Empty = {};

/** Argument and result types by operation name. */
export interface OpTypes {
  create: { args: CreateArgs; result: CreateResult };
  create2: { args: CreateArgs; result: Create2Result };
  delete: { args: DeleteArgs; result: Empty };
  exists: { args: PathWatchArgs; result: ExistsResult };
  getData: { args: PathWatchArgs; result: GetDataResult };
  setData: { args: SetDataArgs; result: StatResult };
  getACL: { args: GetACLArgs; result: GetACLResult };
  setACL: { args: SetACLArgs; result: StatResult };
  getChildren: { args: GetChildrenArgs; result: GetChildrenResult };
  getChildren2: { args: GetChildrenArgs; result: GetChildren2Result };
  sync: { args: SyncArgs; result: SyncResult };
  ping: { args: Empty; result: PingResult };
  multi: { args: MultiArgs; result: MultiResult };
  multiRead: { args: MultiReadArgs; result: MultiReadResult };
  closeSession: { args: Empty; result: Empty };
  addAuth: { args: AddAuthArgs; result: Empty };
  setWatches: { args: SetWatchesArgs; result: Empty };
  getEphemerals: { args: GetEphemeralsArgs; result: GetEphemeralsResult };
  getAllChildrenNumber: { args: { path: string }; result: GetAllChildrenNumberResult };
  addWatch: { args: AddWatchArgs; result: Empty };
  removeWatches: { args: RemoveWatchesArgs; result: Empty };
  checkWatches: { args: RemoveWatchesArgs; result: Empty };
  whoAmI: { args: Empty; result: WhoAmIResult };
}
export type OpName = keyof OpTypes;
export type ArgsOf<N extends OpName> = OpTypes[N]['args'];
export type ResultOf<N extends OpName> = OpTypes[N]['result'];

export interface OpDescriptor<N extends OpName = OpName> {
  /** ZooKeeper's opcode (ZooDefs.OpCode) where ZooKeeper has the op. */
  readonly code: number;
  readonly name: N;
  /** Goes through the replicated log; the request carries the session's requestId (exactly-once). */
  readonly writes: boolean;
  /** The watch a `watch: true` flag sets. */
  readonly watch: 'data' | 'exist' | 'child' | null;
  /** Subject to the client's last-zxid rule and may be served by any member (false: session/connection ops). */
  readonly reads: boolean;
  /**
   * Parses the op's arguments from untrusted wire input into a fresh object of the op's type,
   * checked against every stateless rule and the member's limits. Throws ArborError
   * (BADARGUMENTS, or INVALIDACL for a malformed ACL) naming the op, the field and the problem.
   */
  readonly parseArgs: ArgsParser<ArgsOf<N>>;
  /**
   * Checks the shape of the op's result as a client receives it, in place (lighter than
   * parseArgs: garbage cannot crash the client). Throws ArborError(MARSHALLINGERROR).
   */
  readonly checkResult: ResultParser<ResultOf<N>>;
}

interface OpFlags {
  writes?: boolean;
  watch?: 'data' | 'exist' | 'child';
  reads?: boolean;
}

function op<N extends OpName>(
  name: N,
  code: number,
  flags: OpFlags,
  parseArgs: ArgsParser<ArgsOf<N>>,
  checkResult: ResultParser<ResultOf<N>>,
): OpDescriptor<N> {
  return Object.freeze({
    name,
    code,
    writes: flags.writes ?? false,
    watch: flags.watch ?? null,
    reads: flags.reads ?? false,
    parseArgs,
    checkResult,
  });
}

export const Ops: { readonly [N in OpName]: OpDescriptor<N> } = {
  create: op('create', 1, { writes: true }, A.parseCreateArgs, R.checkCreateResult),
  delete: op('delete', 2, { writes: true }, A.parseDeleteArgs, R.checkEmptyResult),
  exists: op('exists', 3, { reads: true, watch: 'exist' }, A.parsePathWatchArgs, R.checkStatResult),
  getData: op('getData', 4, { reads: true, watch: 'data' }, A.parsePathWatchArgs, R.checkGetDataResult),
  setData: op('setData', 5, { writes: true }, A.parseSetDataArgs, R.checkStatResult),
  getACL: op('getACL', 6, { reads: true }, A.parsePathArgs, R.checkGetACLResult),
  setACL: op('setACL', 7, { writes: true }, A.parseSetACLArgs, R.checkStatResult),
  getChildren: op('getChildren', 8, { reads: true, watch: 'child' }, A.parseGetChildrenArgs, R.checkGetChildrenResult),
  sync: op('sync', 9, { reads: true }, A.parsePathArgs, R.checkSyncResult),
  ping: op('ping', 11, {}, A.parseEmptyArgs, R.checkPingResult),
  getChildren2: op('getChildren2', 12, { reads: true, watch: 'child' }, A.parseGetChildrenArgs, R.checkGetChildren2Result),
  multi: op('multi', 14, { writes: true }, A.parseMultiArgs, R.checkMultiResult),
  create2: op('create2', 15, { writes: true }, A.parseCreateArgs, R.checkCreate2Result),
  multiRead: op('multiRead', 22, { reads: true }, A.parseMultiReadArgs, R.checkMultiReadResult),
  closeSession: op('closeSession', -11, {}, A.parseEmptyArgs, R.checkEmptyResult),
  addAuth: op('addAuth', 100, {}, A.parseAddAuthArgs, R.checkEmptyResult),
  setWatches: op('setWatches', 101, {}, A.parseSetWatchesArgs, R.checkEmptyResult),
  getEphemerals: op('getEphemerals', 103, { reads: true }, A.parseGetEphemeralsArgs, R.checkGetEphemeralsResult),
  getAllChildrenNumber: op('getAllChildrenNumber', 104, { reads: true }, A.parsePathArgs, R.checkGetAllChildrenNumberResult),
  addWatch: op('addWatch', 106, {}, A.parseAddWatchArgs, R.checkEmptyResult),
  removeWatches: op('removeWatches', 18, {}, A.parseRemoveWatchesArgs, R.checkEmptyResult),
  checkWatches: op('checkWatches', 17, {}, A.parseRemoveWatchesArgs, R.checkEmptyResult),
  whoAmI: op('whoAmI', 107, {}, A.parseEmptyArgs, R.checkWhoAmIResult),
};

export const OP_NAMES = Object.keys(Ops) as readonly OpName[];

const byCode = new Map<number, OpDescriptor>(Object.values(Ops).map((d) => [d.code, d as OpDescriptor]));
export function opByCode(code: number): OpDescriptor | undefined {
  return byCode.get(code);
}
