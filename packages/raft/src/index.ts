// @arbor/raft — consensus as a pure, deterministic state machine (values in, values out).
export * from './types.js';
export * from './storage.js';
export { RaftInvariantError } from './assert.js';
export * from './logger.js';
export * from './random.js';
export { applyConfChange, bootstrapEntries, confStatesEqual, decodeConfChange, encodeConfChange, formatConfState } from './conf-change.js';
export * from './memory-storage.js';
export * from './testing/log-store-contract.js';
export type { RaftConfig, ReadOnlyMode } from './config.js';
export { RawNode, type FollowerStatus, type RequestResult, type Status } from './raw-node.js';
export type { ProposeResult, RejectReason, Rejection } from './leader.js';
export type { ProgressState } from './progress.js';
export { foundingPeersNeeded, holdsOnlyFounding } from './rejoin-guard.js';
export { majority, quorumMatchIndex, voteOutcome, hasQuorum, type VoteOutcome } from './quorum.js';
