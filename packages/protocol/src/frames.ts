import { ArborError, ErrorCode, isErrorCode } from './errors.js';
import { EventType } from './events.js';
import type { WireMap } from './fields.js';
import {
  asMap,
  describeValue,
  fieldError,
  readArray,
  readBoolean,
  readBytes,
  readInteger,
  readMap,
  readOptionalInteger,
  readOptionalString,
  readPath,
  readString,
} from './fields.js';
import type { Limits } from './limits.js';
import type {
  ConnectRefused,
  ConnectRequest,
  ConnectResponse,
  NoticeFrame,
  RequestFrame,
  ResponseFrame,
  WatchEventFrame,
} from './messages.js';
import { PROTOCOL_VERSION, XID_NOTICE, XID_PING, XID_WATCH_EVENT } from './messages.js';
import type { OpName } from './ops.js';
import { Ops, opByCode } from './ops.js';

/**
 * Parsers of decoded frame envelopes (maps already unpacked by codec.ts). Envelope problems
 * are MARSHALLINGERROR; argument problems come from the op's descriptor. `known.xid` is set as
 * soon as a valid xid is read, so that a later problem can still be answered to that request.
 */

/** A request as the member receives it: the op's name is added so that a switch on it narrows `args`. */
export type DecodedRequest = { [N in OpName]: RequestFrame<N> & { name: N } }[OpName];

/** The member's answer to the handshake. */
export type ConnectReply = { kind: 'accepted'; frame: ConnectResponse } | { kind: 'refused'; frame: ConnectRefused };

/**
 * Any frame after the handshake, from the member. Ping replies are responses with xid XID_PING.
 * A notice this build does not know (from a newer member) is reported, not refused: members add
 * notice kinds only where ignoring them is safe.
 */
export type SessionFrame =
  | { kind: 'response'; frame: ResponseFrame }
  | { kind: 'watch'; frame: WatchEventFrame }
  | { kind: 'notice'; frame: NoticeFrame }
  | { kind: 'unknownNotice'; notice: string };

const ENVELOPE = ErrorCode.MARSHALLINGERROR;
const SAFE_MAX = Number.MAX_SAFE_INTEGER;
const SAFE_MIN = Number.MIN_SAFE_INTEGER;

function bad(where: string, problem: string): ArborError {
  return new ArborError(ENVELOPE, `${where}: ${problem}`);
}

export function parseConnectRequest(m: WireMap): ConnectRequest {
  const where = 'connect request';
  const protocolVersion = readInteger(m, 'protocolVersion', ENVELOPE, where, SAFE_MIN, SAFE_MAX);
  if (protocolVersion !== PROTOCOL_VERSION) {
    // Checked first: a client of another version may shape everything else differently.
    throw new ArborError(
      ErrorCode.BADARGUMENTS,
      `${where}: protocol version ${protocolVersion} is not supported; this member speaks version ${PROTOCOL_VERSION}`,
    );
  }
  const password = m['password'] === null ? null : readBytes(m, 'password', ENVELOPE, where, SAFE_MAX);
  const auth = readArray(m, 'auth', ENVELOPE, where).map((item, i) => {
    const entry = asMap(item, ENVELOPE, where, `auth[${i}]`);
    const at = `${where} auth[${i}]`;
    const scheme = readString(entry, 'scheme', ENVELOPE, at);
    if (scheme.length === 0) throw fieldError(ENVELOPE, at, 'scheme', 'must not be empty');
    return { scheme, credentials: readBytes(entry, 'credentials', ENVELOPE, at, SAFE_MAX) };
  });
  return {
    protocolVersion,
    sessionId: readInteger(m, 'sessionId', ENVELOPE, where, 0, SAFE_MAX),
    password,
    timeoutMs: readInteger(m, 'timeoutMs', ENVELOPE, where, 0, SAFE_MAX),
    lastZxid: readInteger(m, 'lastZxid', ENVELOPE, where, 0, SAFE_MAX),
    readOnly: readBoolean(m, 'readOnly', ENVELOPE, where),
    auth,
  };
}

export function parseRequest(m: WireMap, limits: Limits, known: { xid?: number }): DecodedRequest {
  const where = 'request';
  const xid = readInteger(m, 'xid', ENVELOPE, where, SAFE_MIN, SAFE_MAX);
  if (xid <= 0 && xid !== XID_PING) throw bad(where, `xid ${xid} is reserved: requests use xids > 0 (pings ${XID_PING})`);
  known.xid = xid;
  const code = readInteger(m, 'op', ENVELOPE, where, SAFE_MIN, SAFE_MAX);
  const op = opByCode(code);
  if (op === undefined) throw new ArborError(ErrorCode.UNIMPLEMENTED, `${where}: op code ${code} is not an operation this member knows`);
  if ((op.name === 'ping') !== (xid === XID_PING)) throw bad(op.name, `xid ${xid}: pings, and only pings, use xid ${XID_PING}`);
  const requestId = readOptionalInteger(m, 'requestId', ENVELOPE, op.name, 1, SAFE_MAX);
  if (op.writes && requestId === undefined) throw bad(op.name, 'a write must carry a requestId (a positive integer)');
  if (!op.writes && requestId !== undefined) throw bad(op.name, 'only writes carry a requestId');
  const args = op.parseArgs(m['args'], { limits, where: op.name });
  const request = { xid, op: code, name: op.name, args } as DecodedRequest;
  if (requestId !== undefined) request.requestId = requestId;
  return request;
}

export function parseConnectReply(m: WireMap): ConnectReply {
  if (m['err'] !== undefined) {
    const where = 'connect refusal';
    const err = m['err'];
    if (!isErrorCode(err) || err === ErrorCode.OK) throw bad(where, `err: ${describeValue(err)} is not an error code`);
    return { kind: 'refused', frame: { err, message: readString(m, 'message', ENVELOPE, where) } };
  }
  const where = 'connect response';
  const protocolVersion = readInteger(m, 'protocolVersion', ENVELOPE, where, SAFE_MIN, SAFE_MAX);
  if (protocolVersion !== PROTOCOL_VERSION) {
    throw bad(where, `the member speaks protocol version ${protocolVersion}; this client speaks ${PROTOCOL_VERSION}`);
  }
  return {
    kind: 'accepted',
    frame: {
      protocolVersion,
      timeoutMs: readInteger(m, 'timeoutMs', ENVELOPE, where, 0, SAFE_MAX),
      sessionId: readInteger(m, 'sessionId', ENVELOPE, where, 0, SAFE_MAX),
      password: readBytes(m, 'password', ENVELOPE, where, SAFE_MAX),
      memberId: readInteger(m, 'memberId', ENVELOPE, where, 0, SAFE_MAX),
      zxid: readInteger(m, 'zxid', ENVELOPE, where, 0, SAFE_MAX),
      readOnly: readBoolean(m, 'readOnly', ENVELOPE, where),
      limits: parseLimits(readMap(m, 'limits', ENVELOPE, where)),
    },
  };
}

function parseLimits(m: WireMap): Limits {
  const where = 'connect response limits';
  const limit = (key: keyof Limits): number => readInteger(m, key, ENVELOPE, where, 1, SAFE_MAX);
  return {
    frameBytesMax: limit('frameBytesMax'),
    dataBytesMax: limit('dataBytesMax'),
    pathLengthMax: limit('pathLengthMax'),
    multiOpsMax: limit('multiOpsMax'),
    outstandingRequestsMax: limit('outstandingRequestsMax'),
    watchesPerConnectionMax: limit('watchesPerConnectionMax'),
  };
}

const EVENT_TYPES: readonly number[] = Object.values(EventType).filter((t) => t !== EventType.None);

export function parseSessionFrame(
  m: WireMap,
  limits: Limits,
  opOf: (xid: number) => OpName | undefined,
  known: { xid?: number },
): SessionFrame {
  const xid = readInteger(m, 'xid', ENVELOPE, 'server frame', SAFE_MIN, SAFE_MAX);
  if (xid === XID_WATCH_EVENT) return { kind: 'watch', frame: parseWatchEvent(m, limits) };
  if (xid === XID_NOTICE) return parseNotice(m, limits);
  if (xid <= 0 && xid !== XID_PING) throw bad('server frame', `xid ${xid} is reserved and means nothing to this client`);
  known.xid = xid;
  return { kind: 'response', frame: parseResponse(m, xid, opOf) };
}

function parseWatchEvent(m: WireMap, limits: Limits): WatchEventFrame {
  const where = 'watch event';
  const type = m['type'];
  if (typeof type !== 'number' || !EVENT_TYPES.includes(type))
    throw fieldError(ENVELOPE, where, 'type', `${describeValue(type)} is not an event type`);
  return {
    xid: XID_WATCH_EVENT,
    zxid: readInteger(m, 'zxid', ENVELOPE, where, 0, SAFE_MAX),
    type: type as EventType,
    path: readPath(m, 'path', ENVELOPE, where, limits.pathLengthMax),
  };
}

function parseNotice(m: WireMap, limits: Limits): SessionFrame {
  const where = 'notice';
  const notice = readString(m, 'notice', ENVELOPE, where);
  switch (notice) {
    case 'closing':
      return { kind: 'notice', frame: { xid: XID_NOTICE, notice, reason: readString(m, 'reason', ENVELOPE, where) } };
    case 'sessionExpired':
      return { kind: 'notice', frame: { xid: XID_NOTICE, notice } };
    case 'watchResync': {
      const path = readPath(m, 'path', ENVELOPE, where, limits.pathLengthMax);
      return { kind: 'notice', frame: { xid: XID_NOTICE, notice, path, zxid: readInteger(m, 'zxid', ENVELOPE, where, 0, SAFE_MAX) } };
    }
    default:
      return { kind: 'unknownNotice', notice };
  }
}

function parseResponse(m: WireMap, xid: number, opOf: (xid: number) => OpName | undefined): ResponseFrame {
  const name = xid === XID_PING ? 'ping' : opOf(xid);
  if (name === undefined) throw bad('response', `xid ${xid} answers no outstanding request`);
  const where = `${name} response`;
  const zxid = readInteger(m, 'zxid', ENVELOPE, where, 0, SAFE_MAX);
  const err = m['err'];
  if (!isErrorCode(err)) throw fieldError(ENVELOPE, where, 'err', `${describeValue(err)} is not an error code`);
  const frame: ResponseFrame = { xid, zxid, err };
  // A result is required on success and checked whenever present (a failed multi carries one).
  if (err === ErrorCode.OK || m['res'] !== undefined) frame.res = Ops[name].checkResult(m['res'], where);
  const message = readOptionalString(m, 'message', ENVELOPE, where);
  if (message !== undefined) frame.message = message;
  return frame;
}
