import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import {
  DEFAULT_LIMITS,
  ErrorCode,
  XID_NOTICE,
  decodeConnectRequest,
  decodeRequest,
  encodeServerFrame,
  type Limits,
  type ServerFrame,
} from '@arbor/protocol';
import type { ClientLink, ClientService, ConnectionId } from '../core/client-port.js';
import type { Logger } from './logger.js';

/**
 * The client port: one WebSocket per client connection, binary frames of docs/protocol.md.
 * Contracts:
 * - the first frame is a ConnectRequest; every later frame a request (decoded here, so the
 *   member core only ever sees typed, checked requests);
 * - an unreadable frame is answered per protocol §4 (an error response when its xid is known,
 *   else a `closing` notice and close); a bad client never throws out of this module;
 * - back-pressure: when a connection has `outstandingRequestsMax` requests unanswered the socket
 *   stops being read (TCP pushes back on the client) instead of queueing without bound;
 * - at most `connectionsMax` connections; the excess is refused THROTTLED.
 */
export interface ClientListenerOptions {
  service: ClientService;
  host?: string;
  /** 0: any free port (tests). */
  port: number;
  limits?: Limits;
  connectionsMax?: number;
  /** A connection that sends no ConnectRequest within this is closed. */
  handshakeTimeoutMs?: number;
  /** The member's applied zxid, for the zxid field of error responses made here. */
  currentZxid?: () => number;
  logger: Logger;
}

export interface ClientListener {
  readonly port: number;
  connections(): number;
  /** Sends a `closing` notice to every connection, closes them and the port. */
  close(reason?: string): Promise<void>;
}

const HANDSHAKE_TIMEOUT_MS_DEFAULT = 10_000;
/** How long close() lets clients finish the closing handshake before dropping them. */
const CLOSE_GRACE_MS = 1_000;

/** ws closes with 1009 past this; frames between frameBytesMax and this get a MARSHALLINGERROR answer. */
function payloadCeiling(limits: Limits): number {
  return limits.frameBytesMax * 2;
}

/** Whether a frame the member sends completes a request (so counts against outstanding). */
function isResponse(frame: ServerFrame): boolean {
  return 'xid' in frame && frame.xid !== XID_NOTICE && !('type' in frame) && 'err' in frame;
}

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data));
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

class Connection implements ClientLink {
  readonly id: ConnectionId;
  readonly remoteAddress: string;
  private handshaken = false;
  private closed = false;
  private outstanding = 0;
  private paused = false;
  private readonly timer: NodeJS.Timeout;
  /** Request frames read while at the outstanding limit, in arrival order. */
  private readonly held: Uint8Array[] = [];
  /** The socket is corked until the current turn's frames are all written (see write). */
  private corked = false;

  constructor(
    id: ConnectionId,
    private readonly ws: WebSocket,
    remoteAddress: string,
    private readonly owner: ListenerImpl,
    /** The TCP socket under `ws` (the upgrade request's), corked per turn. */
    private readonly socket: Socket,
  ) {
    this.id = id;
    this.remoteAddress = remoteAddress;
    this.timer = setTimeout(() => {
      if (!this.handshaken) this.closeWithNotice('no connect request within the handshake timeout');
    }, owner.handshakeTimeoutMs);
    this.timer.unref();
    ws.on('message', (data, isBinary) => this.guard(() => this.onMessage(data, isBinary)));
    ws.on('close', () => this.guard(() => this.onClosed()));
    ws.on('error', (err) => {
      owner.logger.debug({ conn: id, err: err.message }, 'client socket error');
    });
  }

  send(frame: ServerFrame): void {
    if (this.closed) return;
    if ('protocolVersion' in frame) this.handshaken = true;
    this.write(frame);
    if (isResponse(frame) && this.handshaken && this.outstanding > 0) {
      this.outstanding--;
      this.drain();
    }
  }

  /**
   * Encodes and writes; never throws. Frames made here (error answers) do not count as answers of
   * the service. The frames of one turn (a Ready applies many entries, each answering a request)
   * leave in one write: the socket is corked at the first and uncorked once the turn's
   * synchronous work is done. Under load that is one system call per connection per turn instead
   * of one per answer; with one request at a time it changes nothing.
   */
  private write(frame: ServerFrame): void {
    try {
      const bytes = encodeServerFrame(frame, { frameBytesMax: this.owner.limits.frameBytesMax });
      if (!this.corked) {
        this.corked = true;
        this.socket.cork();
        process.nextTick(() => {
          this.corked = false;
          this.socket.uncork();
        });
      }
      this.ws.send(bytes, { binary: true });
    } catch (err) {
      this.owner.logger.error({ conn: this.id, err: (err as Error).message }, 'cannot send a frame');
    }
  }

  /**
   * Hands held frames to the service while below the outstanding limit, then resumes reading.
   * Frames are held because ws may still emit frames it had already read when the socket paused.
   */
  private drain(): void {
    const max = this.owner.limits.outstandingRequestsMax;
    while (!this.closed && this.outstanding < max && this.held.length > 0) {
      const bytes = this.held.shift() as Uint8Array;
      this.guard(() => this.onRequestBytes(bytes));
    }
    if (this.paused && !this.closed && this.outstanding < max && this.held.length === 0) {
      this.paused = false;
      this.ws.resume();
    }
  }

  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.owner.logger.debug({ conn: this.id, reason }, 'closing client connection');
    try {
      this.ws.close(1000, reason.slice(0, 120));
    } catch {
      this.ws.terminate();
    }
  }

  /** Protocol §4: nothing can be attributed, so tell the client why and close. */
  closeWithNotice(reason: string): void {
    if (this.closed) return;
    this.write({ xid: XID_NOTICE, notice: 'closing', reason });
    this.close(reason);
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.owner.logger.error({ conn: this.id, err: (err as Error).message }, 'client connection fault');
      this.closeWithNotice('member fault while handling this connection');
    }
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.closed) return;
    if (!isBinary) {
      this.closeWithNotice('frames must be binary');
      return;
    }
    const bytes = toBytes(data);
    const limits = this.owner.limits;
    if (!this.handshaken) {
      if (this.connectSent) return; // the member is still answering the handshake; protocol: wait for it
      const decoded = decodeConnectRequest(bytes, { limits });
      if (!decoded.ok) {
        this.write({ err: decoded.code, message: decoded.message });
        this.close(`refused: ${decoded.message}`);
        return;
      }
      this.connectSent = true;
      clearTimeout(this.timer);
      this.owner.service.onConnect(this, decoded.value);
      return;
    }
    if (this.paused || this.held.length > 0 || this.outstanding >= limits.outstandingRequestsMax) {
      this.held.push(bytes);
      this.pause();
      return;
    }
    this.onRequestBytes(bytes);
  }

  private pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.ws.pause();
  }

  private onRequestBytes(bytes: Uint8Array): void {
    const limits = this.owner.limits;
    const decoded = decodeRequest(bytes, { limits });
    if (!decoded.ok) {
      if (decoded.xid === undefined) {
        this.closeWithNotice(decoded.message);
        return;
      }
      this.write({ xid: decoded.xid, zxid: this.owner.currentZxid(), err: decoded.code, message: decoded.message });
      return;
    }
    this.outstanding++;
    if (this.outstanding >= limits.outstandingRequestsMax) this.pause();
    this.owner.service.onRequest(this, decoded.value);
  }

  private connectSent = false;

  private onClosed(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.owner.forget(this);
    if (this.connectSent) this.owner.service.onDisconnect(this);
  }
}

class ListenerImpl implements ClientListener {
  readonly limits: Limits;
  readonly handshakeTimeoutMs: number;
  readonly service: ClientService;
  readonly logger: Logger;
  readonly currentZxid: () => number;
  private readonly connectionsMax: number;
  private readonly live = new Map<ConnectionId, Connection>();
  private nextId = 1;

  constructor(
    private readonly wss: WebSocketServer,
    options: ClientListenerOptions,
  ) {
    this.limits = options.limits ?? DEFAULT_LIMITS;
    this.handshakeTimeoutMs = options.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS_DEFAULT;
    this.service = options.service;
    this.logger = options.logger;
    this.currentZxid = options.currentZxid ?? (() => 0);
    this.connectionsMax = options.connectionsMax ?? 10_000;
    wss.on('connection', (ws, req) => this.accept(ws, req));
    wss.on('error', (err) => this.logger.error({ err: err.message }, 'client listener error'));
  }

  get port(): number {
    const address = this.wss.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  }

  connections(): number {
    return this.live.size;
  }

  forget(conn: Connection): void {
    this.live.delete(conn.id);
  }

  private accept(ws: WebSocket, req: IncomingMessage): void {
    const remote = req.socket.remoteAddress ?? '';
    if (this.live.size >= this.connectionsMax) {
      const frame = { err: ErrorCode.THROTTLED, message: `this member has ${this.live.size} connections (the most it takes)` };
      ws.send(encodeServerFrame(frame), { binary: true });
      ws.close(1013, 'too many connections');
      return;
    }
    const id = this.nextId++;
    const conn = new Connection(id, ws, remote, this, req.socket);
    this.live.set(id, conn);
  }

  /**
   * Sends every connection a `closing` notice and closes it, waits (bounded) for the closing
   * handshakes so that the notices reach the clients, then drops what is left and the port.
   */
  async close(reason = 'member shutting down'): Promise<void> {
    for (const conn of [...this.live.values()]) conn.closeWithNotice(reason);
    const deadline = Date.now() + CLOSE_GRACE_MS;
    while (this.wss.clients.size > 0 && Date.now() < deadline) {
      await new Promise((tick) => setTimeout(tick, 10));
    }
    for (const ws of this.wss.clients) ws.terminate();
    await new Promise<void>((done) => this.wss.close(() => done()));
  }
}

/** Listens on the client port; resolves once the port is bound. */
export function startClientListener(options: ClientListenerOptions): Promise<ClientListener> {
  const limits = options.limits ?? DEFAULT_LIMITS;
  return new Promise((resolve, reject) => {
    const wss = new WebSocketServer({
      host: options.host ?? '127.0.0.1',
      port: options.port,
      maxPayload: payloadCeiling(limits),
      perMessageDeflate: false,
    });
    const onError = (err: Error) => reject(err);
    wss.once('error', onError);
    wss.once('listening', () => {
      wss.off('error', onError);
      resolve(new ListenerImpl(wss, options));
    });
  });
}
