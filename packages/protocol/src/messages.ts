import type { ArgsOf, OpName, ResultOf } from './ops.js';
import type { EventType } from './events.js';
import type { ErrorCode } from './errors.js';
import type { Limits } from './limits.js';

/** The protocol version this build speaks. A member refuses any other with a clear error, then closes. */
export const PROTOCOL_VERSION = 1;

/**
 * Reserved xids for unsolicited messages (client-chosen xids are positive integers).
 * Pings use XID_PING in both directions, as in ZooKeeper.
 */
export const XID_WATCH_EVENT = -1;
export const XID_PING = -2;
export const XID_NOTICE = -3;

/** First frame from the client. */
export interface ConnectRequest {
  protocolVersion: number;
  /** 0 for a new session. */
  sessionId: number;
  /** null for a new session. */
  password: Uint8Array | null;
  timeoutMs: number;
  /** Highest zxid the client has seen; a member that has applied less waits (bounded) or refuses. */
  lastZxid: number;
  /** Whether the client accepts a read-only member (one cut off from the quorum). */
  readOnly: boolean;
  /** Credentials applied as if addAuth was called before anything else. */
  auth: { scheme: string; credentials: Uint8Array }[];
}

/** First frame from the member when the handshake succeeds. */
export interface ConnectResponse {
  protocolVersion: number;
  timeoutMs: number;
  sessionId: number;
  password: Uint8Array;
  memberId: number;
  /** The member's applied zxid. */
  zxid: number;
  readOnly: boolean;
  limits: Limits;
}

/** Sent instead of a ConnectResponse when the handshake fails; the member then closes the connection. */
export interface ConnectRefused {
  err: ErrorCode;
  message: string;
}

/** A request: client-chosen xid (> 0), op code, arguments. Writes carry the session's requestId. */
export interface RequestFrame<N extends OpName = OpName> {
  xid: number;
  op: number;
  args: ArgsOf<N>;
  /** Per-session write id, strictly increasing over the session's life; a retry reuses it. */
  requestId?: number;
}

/** A response: echoes the xid; zxid is the member's last applied zxid (or the write's own). */
export interface ResponseFrame<N extends OpName = OpName> {
  xid: number;
  zxid: number;
  err: ErrorCode;
  /** Present when err is OK; also when a multi failed (err is the failing op's code, res its per-op results). */
  res?: ResultOf<N>;
  /** Present when err is not OK: what went wrong, naming the op and the path. */
  message?: string;
}

/** xid XID_WATCH_EVENT: a watch fired. */
export interface WatchEventFrame {
  xid: typeof XID_WATCH_EVENT;
  zxid: number;
  type: EventType;
  path: string;
}

/** xid XID_NOTICE: something the client must know about its connection or watches. */
export type NoticeFrame =
  | { xid: typeof XID_NOTICE; notice: 'closing'; reason: string }
  | { xid: typeof XID_NOTICE; notice: 'sessionExpired' }
  /** The member's change window no longer reaches back to the client's zxid for this persistent watch: re-read. */
  | { xid: typeof XID_NOTICE; notice: 'watchResync'; path: string; zxid: number };
