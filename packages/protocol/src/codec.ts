import { ArborError, ErrorCode } from './errors.js';
import { describeValue } from './fields.js';
import type { WireMap } from './fields.js';
import { DEFAULT_LIMITS } from './limits.js';
import type { Limits } from './limits.js';
import { parseConnectReply, parseConnectRequest, parseRequest, parseSessionFrame } from './frames.js';
import type { ConnectReply, DecodedRequest, SessionFrame } from './frames.js';
import type {
  ConnectRefused,
  ConnectRequest,
  ConnectResponse,
  NoticeFrame,
  RequestFrame,
  ResponseFrame,
  WatchEventFrame,
} from './messages.js';
import { XID_PING } from './messages.js';
import { msgpackProblem, peekFirstInteger } from './msgpack-check.js';
import { packValue, unpackValue } from './msgpack.js';
import type { OpName } from './ops.js';
import { toWire } from './wire-values.js';

/**
 * The frame codec: one msgpack map per WebSocket binary frame (docs/protocol.md).
 *
 * Encoders take typed frames and always succeed; they write only the fields of the frame's
 * type (`xid` first, so a receiver can answer a frame it refuses whole) as portable msgpack.
 *
 * Decoders take untrusted bytes and never throw: every failure is a DecodeError made by
 * {@link decodeError}. The order of checks bounds the work: the size against frameBytesMax
 * before anything is read, then one structural pass (msgpack-check.ts) that refuses lying
 * length headers, deep nesting and extension types, then unpacking, then the envelope and the
 * op's arguments (or result), parsed into fresh typed objects.
 */

/** Nesting deeper than this is refused before unpacking; Arbor's deepest message (a multi of creates) nests 8 deep. */
export const NESTING_DEPTH_MAX_DEFAULT = 16;

export interface DecodeOptions {
  /** The limits in force on this connection (the member's settings; the client uses the ones its member advertised). */
  limits?: Limits;
  nestingDepthMax?: number;
}

export interface SessionFrameDecodeOptions extends DecodeOptions {
  /** The op of the outstanding request with this xid, so that its result can be checked; undefined when there is none. */
  opOf(xid: number): OpName | undefined;
}

/**
 * Why a frame was refused.
 * - MARSHALLINGERROR: not one well-formed message of this protocol (bytes, size, envelope fields);
 * - UNIMPLEMENTED: a request for an op code this build does not know;
 * - BADARGUMENTS: the op's arguments break a rule (type, range, path, size, version);
 * - INVALIDACL: an ACL in the arguments is malformed.
 * `xid` is set when the frame's xid could be read, so that the receiver can answer (or fail)
 * that one request and keep the connection.
 */
export interface DecodeError {
  ok: false;
  code: ErrorCode;
  message: string;
  xid?: number;
}

export type Decoded<T> = { ok: true; value: T } | DecodeError;

/** The one place a DecodeError is made. */
function decodeError(code: ErrorCode, message: string, xid?: number): DecodeError {
  return xid === undefined ? { ok: false, code, message } : { ok: false, code, message, xid };
}

// ---------------------------------------------------------------------------------------------
// client → member

export type ClientFrame = ConnectRequest | RequestFrame;

export function encodeClientFrame(frame: ClientFrame): Uint8Array {
  if ('op' in frame) {
    const wire: WireMap = { xid: frame.xid, op: frame.op, args: frame.args };
    if (frame.requestId !== undefined) wire['requestId'] = frame.requestId;
    return packValue(toWire(wire));
  }
  return packValue(
    toWire({
      protocolVersion: frame.protocolVersion,
      sessionId: frame.sessionId,
      password: frame.password,
      timeoutMs: frame.timeoutMs,
      lastZxid: frame.lastZxid,
      readOnly: frame.readOnly,
      auth: frame.auth.map((a) => ({ scheme: a.scheme, credentials: a.credentials })),
    }),
  );
}

/** The first frame of a connection. A protocol version other than PROTOCOL_VERSION is refused (BADARGUMENTS). */
export function decodeConnectRequest(bytes: Uint8Array, options: DecodeOptions = {}): Decoded<ConnectRequest> {
  return decodeWith(bytes, 'connect request', options, noXid, (m) => parseConnectRequest(m));
}

/** Every later frame from the client: a request, its arguments parsed by the op's descriptor. */
export function decodeRequest(bytes: Uint8Array, options: DecodeOptions = {}): Decoded<DecodedRequest> {
  const limits = options.limits ?? DEFAULT_LIMITS;
  return decodeWith(bytes, 'request', options, requestXid, (m, known) => parseRequest(m, limits, known));
}

// ---------------------------------------------------------------------------------------------
// member → client

export type ServerFrame = ConnectResponse | ConnectRefused | ResponseFrame | WatchEventFrame | NoticeFrame;

export interface EncodeServerOptions {
  /**
   * A response whose encoding would exceed this is replaced by an error response for the same
   * xid (MARSHALLINGERROR, naming both sizes), so that a member never sends a frame its client
   * must refuse (a huge getChildren: use pagination). Default: DEFAULT_LIMITS.frameBytesMax.
   */
  frameBytesMax?: number;
}

export function encodeServerFrame(frame: ServerFrame, options: EncodeServerOptions = {}): Uint8Array {
  if ('protocolVersion' in frame) return packValue(toWire(connectResponseWire(frame)));
  if (!('xid' in frame)) return packValue(toWire({ err: frame.err, message: frame.message }));
  if ('type' in frame) return packValue(toWire({ xid: frame.xid, zxid: frame.zxid, type: frame.type, path: frame.path }));
  if ('notice' in frame) return packValue(toWire(noticeWire(frame)));
  return encodeResponse(frame, options.frameBytesMax ?? DEFAULT_LIMITS.frameBytesMax);
}

function connectResponseWire(frame: ConnectResponse): WireMap {
  const l = frame.limits;
  return {
    protocolVersion: frame.protocolVersion,
    timeoutMs: frame.timeoutMs,
    sessionId: frame.sessionId,
    password: frame.password,
    memberId: frame.memberId,
    zxid: frame.zxid,
    readOnly: frame.readOnly,
    limits: {
      frameBytesMax: l.frameBytesMax,
      dataBytesMax: l.dataBytesMax,
      pathLengthMax: l.pathLengthMax,
      multiOpsMax: l.multiOpsMax,
      outstandingRequestsMax: l.outstandingRequestsMax,
      watchesPerConnectionMax: l.watchesPerConnectionMax,
    },
  };
}

function noticeWire(frame: NoticeFrame): WireMap {
  switch (frame.notice) {
    case 'closing':
      return { xid: frame.xid, notice: frame.notice, reason: frame.reason };
    case 'sessionExpired':
      return { xid: frame.xid, notice: frame.notice };
    case 'watchResync':
      return { xid: frame.xid, notice: frame.notice, path: frame.path, zxid: frame.zxid };
  }
}

function encodeResponse(frame: ResponseFrame, frameBytesMax: number): Uint8Array {
  const wire: WireMap = { xid: frame.xid, zxid: frame.zxid, err: frame.err };
  // res: always on success; on failure only when given (a failed multi's per-op results).
  if (frame.res !== undefined || frame.err === ErrorCode.OK) wire['res'] = frame.res ?? {};
  if (frame.message !== undefined) wire['message'] = frame.message;
  const bytes = packValue(toWire(wire));
  if (bytes.byteLength <= frameBytesMax) return bytes;
  const message = `the response is ${bytes.byteLength} bytes, over the frame limit of ${frameBytesMax}; ask for less (getChildren takes limit and after)`;
  return packValue(toWire({ xid: frame.xid, zxid: frame.zxid, err: ErrorCode.MARSHALLINGERROR, message }));
}

/** The first frame from the member: its acceptance or refusal of the handshake. */
export function decodeConnectReply(bytes: Uint8Array, options: DecodeOptions = {}): Decoded<ConnectReply> {
  return decodeWith(bytes, 'connect reply', options, noXid, (m) => parseConnectReply(m));
}

/** Every later frame from the member: a response, a watch event or a notice. */
export function decodeServerFrame(bytes: Uint8Array, options: SessionFrameDecodeOptions): Decoded<SessionFrame> {
  const limits = options.limits ?? DEFAULT_LIMITS;
  return decodeWith(bytes, 'server frame', options, responseXid, (m, known) => parseSessionFrame(m, limits, options.opOf, known));
}

// ---------------------------------------------------------------------------------------------

/** What the decoder learnt before it failed: the xid, once read and valid. */
interface Known {
  xid?: number;
}

const noXid = (): undefined => undefined;
/** A peeked xid is only reported when it could name a request, so that an error answer cannot pose as an event. */
const requestXid = (xid: number | undefined): number | undefined => (xid !== undefined && (xid > 0 || xid === XID_PING) ? xid : undefined);
const responseXid = requestXid;

function decodeWith<T>(
  bytes: Uint8Array,
  what: string,
  options: DecodeOptions,
  xidToReport: (xid: number | undefined) => number | undefined,
  parse: (m: WireMap, known: Known) => T,
): Decoded<T> {
  const known: Known = {};
  try {
    if (!(bytes instanceof Uint8Array))
      return decodeError(ErrorCode.MARSHALLINGERROR, `${what}: a frame must be binary, not ${describeValue(bytes)}`);
    const frameBytesMax = (options.limits ?? DEFAULT_LIMITS).frameBytesMax;
    if (bytes.byteLength > frameBytesMax) {
      const message = `${what}: the frame is ${bytes.byteLength} bytes, over the limit of ${frameBytesMax}`;
      return decodeError(ErrorCode.MARSHALLINGERROR, message, xidToReport(peekFirstInteger(bytes, 'xid')));
    }
    const problem = msgpackProblem(bytes, options.nestingDepthMax ?? NESTING_DEPTH_MAX_DEFAULT);
    if (problem !== undefined) {
      return decodeError(ErrorCode.MARSHALLINGERROR, `${what}: malformed msgpack: ${problem}`, xidToReport(peekFirstInteger(bytes, 'xid')));
    }
    // A plain Uint8Array view, so that bins decode as Uint8Array and not as Node's Buffer subclass.
    const plain = bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const value = unpackValue(plain);
    if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) {
      return decodeError(ErrorCode.MARSHALLINGERROR, `${what}: a frame must be a msgpack map, not ${describeValue(value)}`);
    }
    return { ok: true, value: parse(value as WireMap, known) };
  } catch (e) {
    if (e instanceof ArborError) return decodeError(e.code, e.message, known.xid);
    // The structural check should leave the unpacker nothing to throw on; this keeps the
    // decoder total if it does, and says so.
    return decodeError(ErrorCode.MARSHALLINGERROR, `${what}: undecodable: ${e instanceof Error ? e.message : String(e)}`, known.xid);
  }
}
