import { ArborError, ErrorCode, errorName } from '@arbor/protocol';
import type { ErrorName } from '@arbor/protocol';

/** Where an error happened: the client-visible operation and path (chroot stripped). */
export interface ErrorContext {
  /** The operation, as the client method is named (`getData`, `create`, `multi`, …). */
  op?: string;
  /** The path the operation was called with, as the caller sees it. */
  path?: string;
  cause?: unknown;
  /** For a failed transaction: which op failed and every op's outcome. */
  transaction?: { index: number; results: readonly unknown[] };
}

/**
 * Base class of every error the client raises for an operation. `code` is ZooKeeper's numeric
 * error code; the message names the operation and the path, e.g.
 * `getData /app/config: the node does not exist`.
 */
export class ArborClientError extends ArborError {
  /** The operation that failed. */
  readonly op: string | undefined;
  /** The path the operation was called with (as the caller sees it, chroot stripped). */
  readonly path: string | undefined;
  /** The failing op's position and every op's outcome, when a transaction failed. */
  readonly transaction: ErrorContext['transaction'];

  constructor(code: ErrorCode, detail: string, context: ErrorContext = {}) {
    super(code, formatMessage(detail, context));
    this.name = new.target.name;
    this.op = context.op;
    this.path = context.path;
    this.transaction = context.transaction;
    if (context.cause !== undefined) (this as { cause?: unknown }).cause = context.cause;
  }
}

function formatMessage(detail: string, { op, path }: ErrorContext): string {
  const where = [op, path].filter((s) => s !== undefined && s !== '').join(' ');
  return where === '' ? detail : `${where}: ${withoutOwnPrefix(detail, op)}`;
}

/**
 * A member's message already names the op and its own path (`getData /app/x: ...`, with the
 * chroot). The client's prefix names the op and the path as the caller wrote it, so the
 * member's is dropped rather than repeated.
 */
function withoutOwnPrefix(detail: string, op: string | undefined): string {
  if (op === undefined || op === '' || !(detail.startsWith(`${op} `) || detail.startsWith(`${op}:`))) return detail;
  const cut = detail.indexOf(': ');
  return cut < 0 ? detail : detail.slice(cut + 2);
}

const DEFAULT_DETAIL: Partial<Record<ErrorName, string>> = {
  SYSTEMERROR: 'system error on the member',
  RUNTIMEINCONSISTENCY: 'runtime inconsistency',
  DATAINCONSISTENCY: 'data inconsistency',
  CONNECTIONLOSS: 'the connection was lost before the answer arrived',
  MARSHALLINGERROR: 'the request or its answer could not be encoded',
  UNIMPLEMENTED: 'the operation is not implemented by the member',
  OPERATIONTIMEOUT: 'the operation timed out',
  BADARGUMENTS: 'bad arguments',
  NONODE: 'the node does not exist',
  NOAUTH: 'not authorised',
  BADVERSION: 'the version does not match',
  NOCHILDRENFOREPHEMERALS: 'ephemeral nodes cannot have children',
  NODEEXISTS: 'the node already exists',
  NOTEMPTY: 'the node has children',
  SESSIONEXPIRED: 'the session has expired',
  INVALIDACL: 'invalid ACL',
  AUTHFAILED: 'authentication failed',
  SESSIONMOVED: 'the session moved to another member',
  NOTREADONLY: 'the member is read-only',
  NOWATCHER: 'no such watch',
  THROTTLED: 'the member is throttling requests',
  QUOTAEXCEEDED: 'quota exceeded',
  REQUESTTIMEOUT: 'the request timed out on the member',
};

/** The standard text for a code, used when the member sends no message. */
export function defaultDetail(code: ErrorCode): string {
  const name = errorName(code);
  return (name !== undefined ? DEFAULT_DETAIL[name] : undefined) ?? `error ${name ?? code}`;
}

/** ZooKeeper's SYSTEMERROR (-1): an unexpected failure on the member. */
export class SystemError extends ArborClientError {}
/** RUNTIMEINCONSISTENCY (-2); also the outcome of the ops after the failing one in a failed transaction. */
export class RuntimeInconsistencyError extends ArborClientError {}
/** DATAINCONSISTENCY (-3). */
export class DataInconsistencyError extends ArborClientError {}
/**
 * CONNECTIONLOSS (-4): the connection dropped before the answer arrived. The operation may or
 * may not have been applied. Writes are not failed this way: the client retries them with their
 * requestId after reconnecting (see docs/client.md).
 */
export class ConnectionLossError extends ArborClientError {}
/** MARSHALLINGERROR (-5): a request or answer that could not be encoded or decoded. */
export class MarshallingError extends ArborClientError {}
/** UNIMPLEMENTED (-6). */
export class UnimplementedError extends ArborClientError {}
/**
 * OPERATIONTIMEOUT (-7): the call's `timeoutMs` passed. If the request had been sent, it may
 * still be applied; the message says whether it had.
 */
export class OperationTimeoutError extends ArborClientError {}
/** BADARGUMENTS (-8): a bad path, mode, TTL, size or other argument. */
export class BadArgumentsError extends ArborClientError {}
/** NEWCONFIGNOQUORUM (-13). */
export class NewConfigNoQuorumError extends ArborClientError {}
/** RECONFIGINPROGRESS (-14). */
export class ReconfigInProgressError extends ArborClientError {}
/** APIERROR (-100). */
export class ApiError extends ArborClientError {}
/** NONODE (-101): the node (or, for create, its parent) does not exist. */
export class NoNodeError extends ArborClientError {}
/** NOAUTH (-102): the ACL denies the operation. */
export class NoAuthError extends ArborClientError {}
/** BADVERSION (-103): the expected version does not match. */
export class BadVersionError extends ArborClientError {}
/** NOCHILDRENFOREPHEMERALS (-108): the parent is ephemeral. */
export class NoChildrenForEphemeralsError extends ArborClientError {}
/** NODEEXISTS (-110). */
export class NodeExistsError extends ArborClientError {}
/** NOTEMPTY (-111): delete of a node that has children. */
export class NotEmptyError extends ArborClientError {}
/** SESSIONEXPIRED (-112): the session is gone (expired, or declared lost by this client). Final. */
export class SessionExpiredError extends ArborClientError {}
/** INVALIDCALLBACK (-113). */
export class InvalidCallbackError extends ArborClientError {}
/** INVALIDACL (-114). */
export class InvalidAclError extends ArborClientError {}
/** AUTHFAILED (-115): credentials were refused; the client is finished. */
export class AuthFailedError extends ArborClientError {}
/** SESSIONMOVED (-118). */
export class SessionMovedError extends ArborClientError {}
/** NOTREADONLY (-119). */
export class NotReadOnlyError extends ArborClientError {}
/** EPHEMERALONLOCALSESSION (-120). */
export class EphemeralOnLocalSessionError extends ArborClientError {}
/** NOWATCHER (-121): removeWatches/checkWatches found no such watch. */
export class NoWatcherError extends ArborClientError {}
/** REQUESTTIMEOUT (-122). */
export class RequestTimeoutError extends ArborClientError {}
/** RECONFIGDISABLED (-123). */
export class ReconfigDisabledError extends ArborClientError {}
/** SESSIONCLOSEDREQUIRESASLAUTH (-124). */
export class SessionClosedRequireSaslAuthError extends ArborClientError {}
/** QUOTAEXCEEDED (-125). */
export class QuotaExceededError extends ArborClientError {}
/** THROTTLED (-127): the member has too many requests outstanding; retry later. */
export class ThrottledError extends ArborClientError {}

/**
 * The client was closed by its owner. Code SESSIONEXPIRED, and an instance of
 * {@link SessionExpiredError}, because a closed session is gone just the same.
 */
export class ClosedError extends SessionExpiredError {}

type ErrorClass = new (code: ErrorCode, detail: string, context?: ErrorContext) => ArborClientError;

const CLASSES: Record<Exclude<ErrorName, 'OK'>, ErrorClass> = {
  SYSTEMERROR: SystemError,
  RUNTIMEINCONSISTENCY: RuntimeInconsistencyError,
  DATAINCONSISTENCY: DataInconsistencyError,
  CONNECTIONLOSS: ConnectionLossError,
  MARSHALLINGERROR: MarshallingError,
  UNIMPLEMENTED: UnimplementedError,
  OPERATIONTIMEOUT: OperationTimeoutError,
  BADARGUMENTS: BadArgumentsError,
  NEWCONFIGNOQUORUM: NewConfigNoQuorumError,
  RECONFIGINPROGRESS: ReconfigInProgressError,
  APIERROR: ApiError,
  NONODE: NoNodeError,
  NOAUTH: NoAuthError,
  BADVERSION: BadVersionError,
  NOCHILDRENFOREPHEMERALS: NoChildrenForEphemeralsError,
  NODEEXISTS: NodeExistsError,
  NOTEMPTY: NotEmptyError,
  SESSIONEXPIRED: SessionExpiredError,
  INVALIDCALLBACK: InvalidCallbackError,
  INVALIDACL: InvalidAclError,
  AUTHFAILED: AuthFailedError,
  SESSIONMOVED: SessionMovedError,
  NOTREADONLY: NotReadOnlyError,
  EPHEMERALONLOCALSESSION: EphemeralOnLocalSessionError,
  NOWATCHER: NoWatcherError,
  REQUESTTIMEOUT: RequestTimeoutError,
  RECONFIGDISABLED: ReconfigDisabledError,
  SESSIONCLOSEDREQUIRESASLAUTH: SessionClosedRequireSaslAuthError,
  QUOTAEXCEEDED: QuotaExceededError,
  THROTTLED: ThrottledError,
};

/**
 * The error for a code, of the class that code maps to (`-101` → {@link NoNodeError}).
 * `detail` defaults to the standard text of the code.
 */
export function errorFor(code: Exclude<ErrorCode, 0>, detail: string | undefined, context: ErrorContext = {}): ArborClientError {
  const name = errorName(code);
  const Class = name !== undefined && name !== 'OK' ? CLASSES[name] : SystemError;
  return new Class(code, detail === undefined || detail === '' ? defaultDetail(code) : detail, context);
}

/** Shorthands for the errors the client raises itself. */
export const clientErrors = {
  connectionLoss: (context: ErrorContext, detail = defaultDetail(ErrorCode.CONNECTIONLOSS)) =>
    new ConnectionLossError(ErrorCode.CONNECTIONLOSS, detail, context),
  sessionExpired: (context: ErrorContext, detail = defaultDetail(ErrorCode.SESSIONEXPIRED)) =>
    new SessionExpiredError(ErrorCode.SESSIONEXPIRED, detail, context),
  closed: (context: ErrorContext) => new ClosedError(ErrorCode.SESSIONEXPIRED, 'the client is closed', context),
  authFailed: (context: ErrorContext, detail = defaultDetail(ErrorCode.AUTHFAILED)) =>
    new AuthFailedError(ErrorCode.AUTHFAILED, detail, context),
  timeout: (context: ErrorContext, detail: string) => new OperationTimeoutError(ErrorCode.OPERATIONTIMEOUT, detail, context),
  badArguments: (context: ErrorContext, detail: string) => new BadArgumentsError(ErrorCode.BADARGUMENTS, detail, context),
  marshalling: (context: ErrorContext, detail: string) => new MarshallingError(ErrorCode.MARSHALLINGERROR, detail, context),
};
