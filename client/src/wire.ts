import { Ops, XID_NOTICE, XID_PING, XID_WATCH_EVENT, isErrorCode, packValue, unpackValue } from '@arbor/protocol';
import type {
  ConnectRefused,
  ConnectRequest,
  ConnectResponse,
  NoticeFrame,
  RequestFrame,
  ResponseFrame,
  WatchEventFrame,
} from '@arbor/protocol';

/**
 * The client's only contact with the frame encoding: one msgpack value per WebSocket binary
 * frame. When @arbor/protocol grows its own frame codec (encodeClientFrame/decodeServerFrame),
 * this is the one file to switch. Decoders check the shape of what the rest of the client
 * relies on and throw {@link WireError} otherwise, so a bad frame drops the connection instead
 * of corrupting state; the contents of a response's `res` are checked where they are used.
 */

/** A frame that does not follow the protocol. The connection that carried it is dropped. */
export class WireError extends Error {
  override readonly name = 'WireError';
}

/** The member's first frame: the session it granted, or why it refused. */
export type HandshakeReply = { kind: 'accepted'; frame: ConnectResponse } | { kind: 'refused'; frame: ConnectRefused };

/** Every frame a member sends after the handshake. */
export type ServerFrame =
  | { kind: 'response'; frame: ResponseFrame }
  | { kind: 'ping'; zxid: number; sessionRemainingMs: number }
  | { kind: 'watch'; frame: WatchEventFrame }
  | { kind: 'notice'; frame: NoticeFrame }
  /** A notice this client does not know (a newer member); ignored, not an error. */
  | { kind: 'unknownNotice'; notice: string };

export function encodeConnectRequest(request: ConnectRequest): Uint8Array {
  return packValue(request);
}

export function encodeRequest(frame: RequestFrame): Uint8Array {
  return packValue(frame);
}

const PING_FRAME = { xid: XID_PING, op: Ops.ping.code, args: {} };
export function encodePing(): Uint8Array {
  return packValue(PING_FRAME);
}

export function decodeHandshake(bytes: Uint8Array): HandshakeReply {
  const value = decodeMap(bytes);
  if ('err' in value) {
    const err = value['err'];
    if (!isErrorCode(err) || err === 0) throw new WireError(`handshake refusal with invalid error code ${String(err)}`);
    return { kind: 'refused', frame: { err, message: typeof value['message'] === 'string' ? value['message'] : '' } };
  }
  for (const key of ['protocolVersion', 'timeoutMs', 'sessionId', 'memberId', 'zxid'] as const) requireNumber(value, key);
  if (!(value['password'] instanceof Uint8Array)) throw new WireError('handshake reply without a binary password');
  if (typeof value['limits'] !== 'object' || value['limits'] === null) throw new WireError('handshake reply without limits');
  return { kind: 'accepted', frame: value as unknown as ConnectResponse };
}

export function decodeServerFrame(bytes: Uint8Array): ServerFrame {
  const value = decodeMap(bytes);
  const xid = requireNumber(value, 'xid');
  if (xid === XID_WATCH_EVENT) {
    requireNumber(value, 'zxid');
    requireNumber(value, 'type');
    if (typeof value['path'] !== 'string') throw new WireError('watch event without a path');
    return { kind: 'watch', frame: value as unknown as WatchEventFrame };
  }
  if (xid === XID_NOTICE) return decodeNotice(value);
  const zxid = requireNumber(value, 'zxid');
  const err = value['err'];
  if (!isErrorCode(err)) throw new WireError(`response xid ${xid} with invalid error code ${String(err)}`);
  if (xid === XID_PING) {
    const res = value['res'] as Record<string, unknown> | undefined;
    const remaining = res?.['sessionRemainingMs'];
    if (err !== 0 || typeof remaining !== 'number') throw new WireError('ping reply without sessionRemainingMs');
    return { kind: 'ping', zxid, sessionRemainingMs: remaining };
  }
  if (!Number.isInteger(xid) || xid <= 0) throw new WireError(`response with reserved or invalid xid ${xid}`);
  if (err === 0 && (typeof value['res'] !== 'object' || value['res'] === null)) throw new WireError(`response xid ${xid} without a result`);
  return { kind: 'response', frame: value as unknown as ResponseFrame };
}

function decodeNotice(value: Record<string, unknown>): ServerFrame {
  const notice = value['notice'];
  switch (notice) {
    case 'closing':
      return { kind: 'notice', frame: { xid: XID_NOTICE, notice, reason: typeof value['reason'] === 'string' ? value['reason'] : '' } };
    case 'sessionExpired':
      return { kind: 'notice', frame: { xid: XID_NOTICE, notice } };
    case 'watchResync': {
      if (typeof value['path'] !== 'string') throw new WireError('watchResync notice without a path');
      return { kind: 'notice', frame: { xid: XID_NOTICE, notice, path: value['path'], zxid: requireNumber(value, 'zxid') } };
    }
    default:
      if (typeof notice !== 'string') throw new WireError('notice without a name');
      return { kind: 'unknownNotice', notice };
  }
}

function decodeMap(bytes: Uint8Array): Record<string, unknown> {
  let value: unknown;
  try {
    value = unpackValue(bytes);
  } catch (error) {
    throw new WireError(`undecodable frame of ${bytes.byteLength} bytes: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) {
    throw new WireError('a frame must be a map');
  }
  return value as Record<string, unknown>;
}

function requireNumber(value: Record<string, unknown>, key: string): number {
  const n = value[key];
  if (typeof n !== 'number' || !Number.isFinite(n)) throw new WireError(`frame field '${key}' is not a number`);
  return n;
}
