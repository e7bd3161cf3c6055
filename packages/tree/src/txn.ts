import type { ACL, CreateMode, ErrorCode, Id, MultiOpResult, Stat, WatchTrigger } from '@arbor/protocol';

/**
 * Transactions: what the replicated log carries for the tree. The leader stamps each one
 * completely (zxid = log index, its clock's time, the caller's session, request id and
 * authenticated identities) so that applying it is a pure function of state and entry.
 */
export interface Txn {
  /** Log index of the entry; strictly greater than the previous applied entry's. */
  zxid: number;
  /** The leader's clock when it accepted the request (ms since the epoch). */
  timeMs: number;
  /** The caller's session; 0 for entries the leader makes itself (reap, expiry). */
  sessionId: number;
  /** The session's write id: a txn whose (sessionId, requestId) was applied before is answered from memory. */
  requestId?: number;
  /**
   * The client has the responses of all its requests with ids up to this one, so their kept
   * results can go (the Raft thesis's client sessions, §6.3): with it, a session keeps only
   * its requests in flight instead of a full window. Optional; a later retry of such an id is
   * refused rather than re-executed.
   */
  ackedRequestId?: number;
  /** The caller's authenticated identities, including {scheme: 'ip', id: address}. */
  identities: readonly Id[];
  op: TxnOp;
}

export interface CreateSessionOp {
  type: 'createSession';
  sessionId: number;
  password: Uint8Array;
  timeoutMs: number;
}
export interface CloseSessionOp {
  type: 'closeSession';
  sessionId: number;
  /** Why: the client closed it, or the leader expired it. Both delete its ephemerals in one change. */
  reason: 'close' | 'expire';
}
export interface CreateOp {
  type: 'create';
  path: string;
  data: Uint8Array | null;
  acl: ACL[];
  mode: CreateMode;
  ttlMs?: number;
}
export interface DeleteOp {
  type: 'delete';
  path: string;
  version: number;
}
export interface SetDataOp {
  type: 'setData';
  path: string;
  data: Uint8Array | null;
  version: number;
}
export interface SetAclOp {
  type: 'setACL';
  path: string;
  acl: ACL[];
  /** Expected aversion; -1 matches any. */
  version: number;
}
export interface CheckOp {
  type: 'check';
  path: string;
  version: number;
}
/** The ops a multi may hold. */
export type MultiMemberOp = CreateOp | DeleteOp | SetDataOp | CheckOp;
export interface MultiOp {
  type: 'multi';
  ops: MultiMemberOp[];
}
/** Removal of a container or TTL node the leader found due; re-checked against the txn's time. */
export interface ReapOp {
  type: 'reap';
  path: string;
}

export type TxnOp = CreateSessionOp | CloseSessionOp | CreateOp | DeleteOp | SetDataOp | SetAclOp | CheckOp | MultiOp | ReapOp;
export type TxnType = TxnOp['type'];

export interface ErrorResult {
  err: Exclude<ErrorCode, 0>;
  /** What went wrong, naming the op and the path. */
  message: string;
}
export interface OkResult {
  err: 0;
}
export interface CreateResult {
  err: 0;
  /** The path created: for sequential modes, with the counter appended. */
  path: string;
  stat: Stat;
}
export interface StatResult {
  err: 0;
  stat: Stat;
}
export interface MultiResult {
  /** OK, or the failing op's error. */
  err: ErrorCode;
  message?: string;
  /** One per op: on failure OK before the failing op (rolled back), its error, RUNTIMEINCONSISTENCY after. */
  results: MultiOpResult[];
}
export interface ReapResult {
  err: 0;
  /** False when the node was gone or no longer due when the entry applied: nothing changed. */
  removed: boolean;
}

/** Success result of each op type. */
export interface SuccessResults {
  createSession: OkResult;
  closeSession: OkResult;
  create: CreateResult;
  delete: OkResult;
  setData: StatResult;
  setACL: StatResult;
  check: OkResult;
  multi: MultiResult;
  reap: ReapResult;
}
export type TxnResult = SuccessResults[TxnType] | ErrorResult | MultiResult;

export interface ApplyOutcome {
  /** Frozen. For a duplicate, equal to (not necessarily the same object as) the one returned the first time. */
  result: TxnResult;
  /** The changes to report to watches, in delivery order; all carry the txn's zxid. Empty on failure or duplicate. */
  triggers: readonly WatchTrigger[];
  /** The (sessionId, requestId) was applied before: nothing changed, result is the original one. */
  duplicate: boolean;
}
