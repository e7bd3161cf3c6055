/**
 * @arbor/client — the TypeScript SDK of Arbor. Runs in browsers and Node: the only
 * Node-specific code (loading the `ws` package) is imported on demand when the platform has no
 * WebSocket. See docs/client.md.
 */
export { ArborClient, connect } from './client.js';
export type {
  ChildrenOptions,
  ChildrenResult,
  ClientOptions,
  ConnectOptions,
  CreateOptions,
  DataResult,
  ReadOptions,
  StateChange,
  VersionOptions,
  WatchFlag,
  WatchOptions,
  Watched,
} from './client.js';
export type { CallOptions } from './requests.js';
export { isConnectedState, isFinalState } from './state-machine.js';
export type { ConnectionState } from './state-machine.js';
export { Transaction } from './transaction.js';
export type { ReadOp, ReadResult, TransactionCreateOptions, TransactionOp, TransactionOutcome, TransactionResult } from './transaction.js';
export { PersistentWatch } from './watches.js';
export type { PersistentWatchEvent, ResyncEvent, WatchEvent, WatchEventType } from './watches.js';
export { backoffDelayMs, isRetryableError, retry } from './retry.js';
export type { RetryPolicy } from './retry.js';
export { authAcl, digestAcl, digestCredentials, digestId, ipAcl, worldAcl } from './acl.js';
export { decodeJSON, encodeJSON, fromUtf8, utf8 } from './data.js';
export type { ZnodeData } from './data.js';
export { DEFAULT_CLIENT_PORT, defaultMemberUrl, parseConnectString } from './connect-string.js';
export type { ConnectTarget, Member } from './connect-string.js';
export { webSocketTransport } from './transport.js';
export type { Transport, TransportFactory, TransportHandlers, WebSocketConstructor, WebSocketLike } from './transport.js';
export { systemClock } from './clock.js';
export type { Clock } from './clock.js';
export type { ClientLogger } from './logger.js';
export {
  ApiError,
  ArborClientError,
  AuthFailedError,
  BadArgumentsError,
  BadVersionError,
  ClosedError,
  ConnectionLossError,
  DataInconsistencyError,
  EphemeralOnLocalSessionError,
  InvalidAclError,
  InvalidCallbackError,
  MarshallingError,
  NewConfigNoQuorumError,
  NoAuthError,
  NoChildrenForEphemeralsError,
  NoNodeError,
  NoWatcherError,
  NodeExistsError,
  NotEmptyError,
  NotReadOnlyError,
  OperationTimeoutError,
  QuotaExceededError,
  ReconfigDisabledError,
  ReconfigInProgressError,
  RequestTimeoutError,
  RuntimeInconsistencyError,
  SessionClosedRequireSaslAuthError,
  SessionExpiredError,
  SessionMovedError,
  SystemError,
  ThrottledError,
  UnimplementedError,
  errorFor,
} from './errors.js';
export type { ErrorContext } from './errors.js';
// The protocol's vocabulary, so that applications need only this package.
export {
  ArborError,
  CREATOR_ALL_ACL,
  CreateMode,
  ErrorCode,
  EventType,
  OPEN_ACL_UNSAFE,
  Perms,
  READ_ACL_UNSAFE,
  WatcherType,
} from '@arbor/protocol';
export type { ACL, CreateModeName, Id, Stat } from '@arbor/protocol';
export * from './recipes/index.js';
