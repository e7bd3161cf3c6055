/**
 * @arbor/tree — the replicated znode state machine: apply committed txns, serve reads,
 * snapshot and restore, digest. Pure and deterministic (no clock, timers, randomness, I/O).
 */
export { ZnodeTree } from './tree.js';
export type { ZnodeTreeOptions } from './tree.js';
export type {
  Txn,
  TxnOp,
  TxnType,
  CreateSessionOp,
  CloseSessionOp,
  CreateOp,
  DeleteOp,
  SetDataOp,
  SetAclOp,
  CheckOp,
  MultiOp,
  MultiMemberOp,
  ReapOp,
  TxnResult,
  SuccessResults,
  ErrorResult,
  OkResult,
  CreateResult,
  StatResult,
  MultiResult,
  ReapResult,
  ApplyOutcome,
} from './txn.js';
export { validateTxnOp, txnOpProblem, TxnValidationError, DEFAULT_TXN_LIMITS, NO_LIMITS } from './validate.js';
export type { TxnLimits } from './validate.js';
export type { ChildrenPage, DataResult, ChildrenResult, AclResult } from './reads.js';
export { REQUEST_RESULTS_PER_SESSION } from './session.js';
export type { SessionView } from './session.js';
export { snapshotChunks } from './snapshot/writer.js';
export { SnapshotReader, restoreFromChunks, restoreFromChunksSync } from './snapshot/reader.js';
export type { SnapshotReaderOptions } from './snapshot/reader.js';
export { SnapshotError, SNAPSHOT_FORMAT, SNAPSHOT_VERSION, SNAPSHOT_CHUNK_BYTES_DEFAULT } from './snapshot/format.js';
export { AssertionError } from './assert.js';
